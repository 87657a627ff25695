"""The person's own reports (pain, function, symptoms, ...), de-duplicated as they arrive."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.store.connection import Connection, _ts


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report a person sent (pain, function, symptom, ...), as accepted."""

    id: int
    person: str
    kind: str
    at: datetime
    payload: dict[str, Any]


class ReportTables(Connection):
    """report."""

    # -- reports -------------------------------------------------------------------------------

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
        async with self.transaction() as db:
            async with db.execute(
                "SELECT 1 FROM report WHERE person = ? AND dedup = ? AND received_at >= ?",
                (person, dedup, _ts(dedup_since) if dedup_since else ""),
            ) as cursor:
                if await cursor.fetchone() is not None:
                    return None
            cursor = await db.execute(
                "INSERT INTO report (person, kind, at, received_at, payload, dedup) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    person,
                    kind,
                    _ts(at),
                    _ts(received_at),
                    json.dumps(payload, sort_keys=True),
                    dedup,
                ),
            )
            return cursor.lastrowid

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
        return [
            StoredReport(r[0], r[1], r[2], datetime.fromisoformat(r[3]), json.loads(r[4]))
            for r in rows
        ]
