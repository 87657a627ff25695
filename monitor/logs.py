"""Log output: one line per event on stderr, readable in a terminal and in journald."""

from __future__ import annotations

import logging
import os
import sys

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(level: str) -> None:
    """Send the service's logs to stderr at `level`; quiet the chattier libraries."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        # journald stamps each line itself, and shows the priority as colour.
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    for noisy in ("bleak", "bumble", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(_LEVELS[level], logging.WARNING))
