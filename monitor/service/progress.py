"""A person's progress as the store holds it: activity over any span, and the plan's targets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config import PersonConfig
from monitor.days import at_local, day_bounds, day_start, local_date, minute_of
from monitor.ingest.activity import DayActivity, PersonMinute, combine, totals
from monitor.recovery.plan import (
    DayOutcome,
    Phase,
    movement_target,
    phase_of,
    plan_day,
    walking_targets,
)
from monitor.store.database import Store

# Targets of days older than this (before the newest asked for) are not kept in memory.
KEEP_TARGETS = timedelta(days=7)

# Report kinds that hold the walking target the next day (recovery-domain.md).
HOLDING_REPORTS = ("symptom",)


@dataclass(frozen=True, slots=True)
class DayPlan:
    """What the plan asks of one local day."""

    day: date
    plan_day: int | None
    phase: Phase | None
    walking_target: int | None
    movement_target: int | None
    waking_start: datetime
    waking_end: datetime


class Progress:
    """Reads activity and targets for the people in the config."""

    def __init__(self, store: Store, tz: ZoneInfo) -> None:
        self._store = store
        self._tz = tz
        # A day's target depends only on the days before it, so it is fixed once computed.
        self._targets: dict[tuple[str, date], int] = {}

    async def minutes(self, person: str, start: datetime, end: datetime) -> list[PersonMinute]:
        """A person's minutes (wearables combined) that begin in [start, end)."""
        rows = await self._store.device_minutes(person, minute_of(start), minute_of(end))
        return combine(rows)

    async def activity(self, person: str, start: datetime, end: datetime) -> DayActivity:
        """A person's totals over [start, end)."""
        return totals(await self.minutes(person, start, end), start, end)

    async def day_activity(
        self, person: PersonConfig, day: date, until: datetime | None = None
    ) -> DayActivity:
        """A person's totals for a local day, up to `until` if given."""
        start, end = day_bounds(day, self._tz)
        return await self.activity(person.id, start, min(end, until) if until else end)

    async def judged_activity(self, person: PersonConfig, day: date) -> DayActivity:
        """A person's totals for a local day up to the end of their waking window: what counts."""
        return await self.day_activity(person, day, self.day_plan_times(person, day)[1])

    def day_plan_times(self, person: PersonConfig, day: date) -> tuple[datetime, datetime]:
        """The UTC instants at which a person's waking window begins and ends on a day."""
        window = person.waking_hours
        return at_local(day, window.start, self._tz), at_local(day, window.end, self._tz)

    async def day_plan(self, person: PersonConfig, day: date) -> DayPlan:
        """The plan's day number, phase and targets for a local day."""
        number = plan_day(person.plan_start, day)
        waking_start, waking_end = self.day_plan_times(person, day)
        if number is None:
            return DayPlan(day, None, None, None, None, waking_start, waking_end)
        return DayPlan(
            day=day,
            plan_day=number,
            phase=phase_of(number),
            walking_target=await self.walking_target(person, day),
            movement_target=movement_target(number),
            waking_start=waking_start,
            waking_end=waking_end,
        )

    async def walking_target(self, person: PersonConfig, day: date) -> int | None:
        """The walking target for a local day; None before the plan starts."""
        number = plan_day(person.plan_start, day)
        if number is None:
            return None
        cached = self._targets.get((person.id, day))
        if cached is None:
            outcomes = await self.outcomes(person, day)
            cached = walking_targets(person.walking, outcomes)[number - 1]
            # Only recent days are asked for again; keep the cache from growing for months.
            for old in [k for k in self._targets if k[1] < day - KEEP_TARGETS]:
                del self._targets[old]
            self._targets[(person.id, day)] = cached
        return cached

    async def outcomes(self, person: PersonConfig, before: date) -> list[DayOutcome]:
        """How each plan day before `before` went, from the recorded results or the minutes."""
        recorded = {r.day: r for r in await self._store.day_results(person.id, person.plan_start)}
        start = day_start(person.plan_start, self._tz)
        reports = await self._store.reports(
            person.id, HOLDING_REPORTS, start, day_start(before, self._tz)
        )
        warned = {local_date(r.at, self._tz) for r in reports}
        outcomes: list[DayOutcome] = []
        day = person.plan_start
        while day < before:
            result = recorded.get(day)
            if result is not None:
                walked = result.walked_minutes
            else:
                walked = (await self.judged_activity(person, day)).walking_minutes
            outcomes.append(DayOutcome(walked, warning_reported=day in warned))
            day += timedelta(days=1)
        return outcomes
