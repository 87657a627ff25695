"""One service (or `rebuild`) per database: an advisory lock on `<database>.lock`.

Two services on one database would take the MQTT session from each other in a loop, and
`rebuild` under a running service rewrites the minutes it is writing. `fcntl.flock` is released
by the kernel when the process ends, however it ends, so a crash never leaves a stale lock. The
short-lived readers (`report`, `log`) do not take it: SQLite's WAL lets them read meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from monitor.errors import StoreError


def lock_path(database: Path) -> Path:
    """The lock file next to the database: `<database>.lock`, mode 0600."""
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def exclusive_use(database: Path) -> Iterator[None]:
    """Hold the database's lock for the block; StoreError naming the holder's pid if taken.

    The lock file keeps the holder's pid (text, one line) for that message; it is never
    deleted, since deleting it would let a third process lock a new file while the second
    still waits on the old one.
    """
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create the lock file {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"another recovery-monitor is using {database} (pid {_holder(fd)}); stop it first"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot lock {path}: {exc.strerror}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """The pid the holder wrote, or "unknown" (it may not have written it yet)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
