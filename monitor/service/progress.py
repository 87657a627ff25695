"""A person's progress as the store holds it: activity over any span, and the plan's targets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.config import PersonConfig
from monitor.days import at_local, day_bounds, day_start, local_date, minute_of
from monitor.ingest.activity import DayActivity, DeviceMinute, PersonMinute, combine, totals
from monitor.recovery.plan import (
    DayOutcome,
    Phase,
    movement_target,
    phase_of,
    plan_day,
    walking_targets,
)
from monitor.store.days import DayResult
from monitor.store.reports import StoredReport

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


class MinuteSource(Protocol):
    """Per-device minutes: the store's, or ingest's (which adds those not yet saved)."""

    async def device_minutes(self, person: str, start: int, end: int) -> list[DeviceMinute]: ...


class ProgressStore(MinuteSource, Protocol):
    """The store tables progress reads: minutes, judged days, reports."""

    async def day_results(self, person: str, since: date | None = None) -> list[DayResult]: ...
    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]: ...


class Progress:
    """Reads activity and targets for the people in the config."""

    def __init__(
        self, store: ProgressStore, tz: ZoneInfo, *, minutes: MinuteSource | None = None
    ) -> None:
        self._store = store
        self._minutes = minutes or store
        self._tz = tz
        # A day's target depends only on the days before it, so it is fixed once computed.
        self._targets: dict[tuple[str, date], int] = {}

    async def minutes(self, person: str, start: datetime, end: datetime) -> list[PersonMinute]:
        """A person's minutes (wearables combined) that begin in [start, end)."""
        rows = await self._minutes.device_minutes(person, minute_of(start), minute_of(end))
        return combine(rows)

    async def day_activities(
        self, person: PersonConfig, spans: Sequence[tuple[date, datetime]]
    ) -> dict[date, DayActivity]:
        """A person's totals for each (local day, until) given, from one read of the minutes.

        Each day counts from its local midnight to the earlier of `until` and its end.
        """
        if not spans:
            return {}
        bounds = {day: day_bounds(day, self._tz) for day, _ in spans}
        start = min(b[0] for b in bounds.values())
        end = max(b[1] for b in bounds.values())
        minutes = await self.minutes(person.id, start, end)
        out: dict[date, DayActivity] = {}
        for day, until in spans:
            day_start_, day_end = bounds[day]
            stop = min(day_end, until)
            first, last = minute_of(day_start_), minute_of(stop)
            # The minutes are in time order: take the day's slice by bisection.
            lo = _bisect(minutes, first)
            hi = _bisect(minutes, last)
            out[day] = totals(minutes[lo:hi], day_start_, stop)
        return out

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

    async def walking_targets(
        self, person: PersonConfig, first: date, last: date
    ) -> dict[date, int]:
        """The walking target of each plan day in [first, last], from one pass over the plan.

        Days before the plan starts have none. A constant number of reads whatever the span.
        """
        if last < person.plan_start:
            return {}
        outcomes = await self.outcomes(person, last)
        targets = walking_targets(person.walking, outcomes)
        out: dict[date, int] = {}
        day = max(first, person.plan_start)
        while day <= last:
            number = plan_day(person.plan_start, day)
            if number is not None:
                out[day] = targets[number - 1]
            day += timedelta(days=1)
        return out

    async def outcomes(self, person: PersonConfig, before: date) -> list[DayOutcome]:
        """How each plan day before `before` went, from the recorded results or the minutes.

        Three reads whatever the span: the recorded days, the reports, and the minutes of the
        days not recorded (one span covering them all).
        """
        recorded = {r.day: r for r in await self._store.day_results(person.id, person.plan_start)}
        start = day_start(person.plan_start, self._tz)
        reports = await self._store.reports(
            person.id, HOLDING_REPORTS, start, day_start(before, self._tz)
        )
        warned = {local_date(r.at, self._tz) for r in reports}
        days = [
            person.plan_start + timedelta(days=i) for i in range((before - person.plan_start).days)
        ]
        unrecorded = [
            (day, self.day_plan_times(person, day)[1]) for day in days if day not in recorded
        ]
        walked_on = {
            day: activity.walking_minutes
            for day, activity in (await self.day_activities(person, unrecorded)).items()
        }
        return [
            DayOutcome(
                recorded[day].walked_minutes if day in recorded else walked_on[day],
                warning_reported=day in warned,
            )
            for day in days
        ]


def _bisect(minutes: Sequence[PersonMinute], minute: int) -> int:
    """The index of the first of the (time-ordered) minutes at or after `minute`."""
    lo, hi = 0, len(minutes)
    while lo < hi:
        mid = (lo + hi) // 2
        if minutes[mid].minute < minute:
            lo = mid + 1
        else:
            hi = mid
    return lo
