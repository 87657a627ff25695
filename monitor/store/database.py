"""The service's database: every table, one connection; `async with Store.open(path) as store`."""

from __future__ import annotations

from monitor.store.alerts import AlertTables
from monitor.store.days import DayTables
from monitor.store.readings import ReadingTables
from monitor.store.reports import ReportTables


class Store(ReadingTables, DayTables, AlertTables, ReportTables):
    """The SQLite database (WAL) of the service; see `connection` for its guarantees."""
