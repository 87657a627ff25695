"""Log lines: one per event; under systemd each carries its syslog priority for journald."""

from __future__ import annotations

import logging

from monitor.logs import JournalFormatter


def test_journald_gets_each_line_with_its_syslog_priority() -> None:
    formatter = JournalFormatter("%(name)s: %(message)s")
    record = logging.LogRecord("monitor.x", logging.ERROR, __file__, 1, "broke\nbadly", None, None)
    assert formatter.format(record) == "<3>monitor.x: broke\n<3>badly"
    record.levelno = logging.INFO
    assert formatter.format(record).startswith("<6>monitor.x")
