"""Plan days as judged, and how far each person's timetable has been handled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from monitor.store.connection import Connection, _ts


@dataclass(frozen=True, slots=True)
class DayResult:
    """How one plan day went, recorded when the day was judged."""

    person: str
    day: date
    target_minutes: float
    walked_minutes: float
    steps: int
    movement_minutes: int
    met: bool


class DayTables(Connection):
    """day_result and schedule_cursor."""

    # -- plan days and the scheduler's progress ------------------------------------------------

    async def save_day_result(self, result: DayResult) -> None:
        """Record how a day went (replacing an earlier record of the same day)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO day_result (person, day, target_minutes, walked_minutes, "
                "steps, movement_minutes, met) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    result.person,
                    result.day.isoformat(),
                    result.target_minutes,
                    result.walked_minutes,
                    result.steps,
                    result.movement_minutes,
                    int(result.met),
                ),
            )

    async def day_results(self, person: str, since: date | None = None) -> list[DayResult]:
        """A person's recorded days, oldest first."""
        rows = await self._all(
            "SELECT person, day, target_minutes, walked_minutes, steps, movement_minutes, met "
            "FROM day_result WHERE person = ? AND day >= ? ORDER BY day",
            (person, (since or date.min).isoformat()),
        )
        return [
            DayResult(r[0], date.fromisoformat(r[1]), r[2], r[3], r[4], r[5], bool(r[6]))
            for r in rows
        ]

    async def withdraw_day_results(self, person: str, from_day: date) -> int:
        """Forget a person's day results from `from_day` on (judged on a clock that was ahead);
        how many. They are judged again when their day closes."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM day_result WHERE person = ? AND day >= ?",
                (person, from_day.isoformat()),
            )
            return cursor.rowcount

    async def schedule_done_until(self, person: str) -> datetime | None:
        """Up to when the scheduler has handled a person's events."""
        rows = await self._all("SELECT done_until FROM schedule_cursor WHERE person = ?", (person,))
        return datetime.fromisoformat(rows[0][0]) if rows else None

    async def set_schedule_done_until(self, person: str, moment: datetime) -> None:
        """Record that a person's events up to `moment` have been handled."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO schedule_cursor (person, done_until) VALUES (?, ?) "
                "ON CONFLICT (person) DO UPDATE SET done_until = excluded.done_until",
                (person, _ts(moment)),
            )
