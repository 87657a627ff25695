"""The person's own reports (pain, function, symptoms, ...), de-duplicated as they arrive.

A report and the alerts it calls for at once are stored in one transaction (`store_report`):
whatever instant the process dies, a stored report has its alerts and their outbox rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.store.alerts import QueuedAlert, insert_alert
from monitor.store.connection import Connection, _ts

# The alert keys a symptom report's own alert can have (monitor.recovery.symptoms.symptom_alert):
# `<event type>:<report id>`.
_SYMPTOM_ALERT_EVENTS = ("warning_symptom", "red_flag")


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report a person sent (pain, function, symptom, ...), as accepted."""

    id: int
    person: str
    kind: str
    at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewReport:
    """A report to store: `dedup` names it; a report with the same name since `dedup_since`
    (None: ever) is a second delivery of it."""

    person: str
    kind: str
    at: datetime
    received_at: datetime
    payload: dict[str, Any]
    dedup: str
    dedup_since: datetime | None


@dataclass(frozen=True, slots=True)
class ReportStored:
    """What storing a report did: its id (the earlier one's for a duplicate), and the alerts
    stored with it (only those whose key was new)."""

    id: int
    duplicate: bool
    alerts: list[QueuedAlert]


# Given the report's id, the alerts it calls for at once. Runs on the database thread, inside
# the report's transaction: it must be pure (no I/O, no shared state).
Reaction = Callable[[int], Sequence[QueuedAlert]]


def decode_report(row: Sequence[Any]) -> StoredReport:
    """A `report` row (id, person, kind, at, payload) as a StoredReport; the one decoder."""
    payload = json.loads(row[4])
    return StoredReport(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        datetime.fromisoformat(row[3]),
        payload if isinstance(payload, dict) else {},
    )


class ReportTables(Connection):
    """report."""

    # -- reports -------------------------------------------------------------------------------

    async def store_report(self, report: NewReport, react: Reaction | None = None) -> ReportStored:
        """Store a report and the alerts `react` gives for it, in one transaction, one trip.

        A duplicate is not stored again, but `react` is run for the earlier report too, so a
        report whose alerts were never stored (by an older version) gets them now; alerts whose
        key was seen before are skipped.
        """
        return await self.atomic(lambda db: _store_report(db, report, react))

    async def store_reports(
        self, reports: Sequence[tuple[NewReport, Reaction | None]]
    ) -> list[ReportStored]:
        """Store several reports (each with its reaction's alerts) in one transaction, one trip,
        in order: all or none."""
        return await self.atomic(lambda db: [_store_report(db, r, react) for r, react in reports])

    async def add_report(
        self,
        person: str,
        kind: str,
        at: datetime,
        received_at: datetime,
        payload: dict[str, Any],
        dedup: str,
        dedup_since: datetime | None,
    ) -> int | None:
        """Store a report, unless one with the same `dedup` key arrived since `dedup_since`.

        Returns the new report's id, or None for a duplicate. `dedup_since=None` means a
        duplicate at any time.
        """
        new = NewReport(person, kind, at, received_at, payload, dedup, dedup_since)
        stored = await self.store_report(new)
        return None if stored.duplicate else stored.id

    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]:
        """A person's reports of some kinds taken in [since, until), oldest first."""
        wanted = sorted(set(kinds))
        marks = ",".join("?" * len(wanted))
        rows = await self._all(
            f"SELECT id, person, kind, at, payload FROM report WHERE person = ? "  # noqa: S608
            f"AND kind IN ({marks}) AND at >= ? AND at < ? ORDER BY at, id",
            (person, *wanted, _ts(since), _ts(until)),
        )
        return [decode_report(r) for r in rows]

    async def unalerted_symptom_reports(self) -> list[StoredReport]:
        """Symptom reports that have no alert of their own (stored by an older version that
        died between the two), oldest first."""
        rows = await self._all(
            "SELECT id, person, kind, at, payload FROM report r WHERE kind = 'symptom' "
            "AND NOT EXISTS (SELECT 1 FROM alert a WHERE a.person = r.person "
            "AND a.key IN (? || ':' || r.id, ? || ':' || r.id)) ORDER BY at, id",
            _SYMPTOM_ALERT_EVENTS,
        )
        return [decode_report(r) for r in rows]


def _store_report(
    db: sqlite3.Connection, report: NewReport, react: Reaction | None
) -> ReportStored:
    since = _ts(report.dedup_since) if report.dedup_since else ""
    # fetchall: a statement left half-read would keep the COMMIT from running.
    rows = db.execute(
        "SELECT id, kind FROM report WHERE person = ? AND dedup = ? AND received_at >= ? "
        "ORDER BY id LIMIT 1",
        (report.person, report.dedup, since),
    ).fetchall()
    row = rows[0] if rows else None
    duplicate = row is not None
    if row is not None:
        report_id = int(row[0])
    else:
        cursor = db.execute(
            "INSERT INTO report (person, kind, at, received_at, payload, dedup) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                report.person,
                report.kind,
                _ts(report.at),
                _ts(report.received_at),
                json.dumps(report.payload, sort_keys=True),
                report.dedup,
            ),
        )
        report_id = int(cursor.lastrowid or 0)  # an INSERT into a rowid table always sets it
    if react is None or (row is not None and row[1] != report.kind):
        return ReportStored(report_id, duplicate, [])
    added = [q for q in react(report_id) if insert_alert(db, q)]
    return ReportStored(report_id, duplicate, added)
