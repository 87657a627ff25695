"""The day's timetable per person: checkpoints, then the day's close at the end of waking hours.

Each event is judged as of its own instant, from data up to that instant, so a late judgement
(after a restart) reaches the same verdict as a timely one. How far the timetable has been
handled is stored, so a restart neither skips an event's record nor repeats its alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from monitor.alerter import Alerter
from monitor.clock import Clock
from monitor.config import PersonConfig
from monitor.days import at_local, local_date
from monitor.ingest import Ingest
from monitor.progress import Progress
from monitor.rules import Checkpoint, behind_schedule, day_verdict
from monitor.store import DayResult, Store

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    """What happens at a scheduled moment."""

    CHECKPOINT = "checkpoint"
    DAY_CLOSE = "day_close"


@dataclass(frozen=True, slots=True, order=True)
class DayEvent:
    """A scheduled moment of one person's local day."""

    at: datetime
    kind: EventKind
    day: date
    clock_time: time


def day_events(person: PersonConfig, day: date, tz: ZoneInfo) -> list[DayEvent]:
    """A local day's events in time order: each checkpoint, then the close of the waking day."""
    events = [
        DayEvent(at_local(day, moment, tz), EventKind.CHECKPOINT, day, moment)
        for moment in person.checkpoints
    ]
    end = person.waking_hours.end
    events.append(DayEvent(at_local(day, end, tz), EventKind.DAY_CLOSE, day, end))
    return sorted(events)


def events_between(
    person: PersonConfig, tz: ZoneInfo, after: datetime, until: datetime
) -> list[DayEvent]:
    """Events with `after < at <= until`, in time order."""
    events: list[DayEvent] = []
    day = local_date(after, tz) - timedelta(days=1)
    last = local_date(until, tz) + timedelta(days=1)
    while day <= last:
        events.extend(e for e in day_events(person, day, tz) if after < e.at <= until)
        day += timedelta(days=1)
    return events


def next_event(person: PersonConfig, tz: ZoneInfo, after: datetime) -> DayEvent:
    """The first event strictly after `after`."""
    day = local_date(after, tz) - timedelta(days=1)
    while True:
        for event in day_events(person, day, tz):
            if event.at > after:
                return event
        day += timedelta(days=1)


class Scheduler:
    """Runs every person's timetable: judges checkpoints and closes days."""

    def __init__(
        self,
        persons: Sequence[PersonConfig],
        tz: ZoneInfo,
        *,
        store: Store,
        progress: Progress,
        alerter: Alerter,
        ingest: Ingest,
        clock: Clock,
        on_change: Callable[[str], None],
    ) -> None:
        self._persons = persons
        self._tz = tz
        self._store = store
        self._progress = progress
        self._alerter = alerter
        self._ingest = ingest
        self._clock = clock
        self._on_change = on_change

    async def run(self) -> None:
        """Run every person's timetable, for ever."""
        async with asyncio.TaskGroup() as group:
            for person in self._persons:
                group.create_task(self._run_person(person), name=f"schedule {person.id}")

    async def _run_person(self, person: PersonConfig) -> None:
        now = self._clock.now()
        done_until = await self._store.schedule_done_until(person.id)
        if done_until is None:
            done_until = now  # first start: the past is not ours to judge
            await self._store.set_schedule_done_until(person.id, done_until)
        missed = events_between(person, self._tz, done_until, now)
        if missed:
            await self._ingest.settle()
            log.info("%s: catching up on %d scheduled event(s)", person.id, len(missed))
        for index, event in enumerate(missed):
            # Only the latest missed event still speaks; older ones are recorded silently.
            await self._handle(person, event, speak=index == len(missed) - 1)
            done_until = event.at
            await self._store.set_schedule_done_until(person.id, done_until)
        done_until = max(done_until, now)
        while True:
            event = next_event(person, self._tz, done_until)
            await self._clock.sleep_until(event.at)
            await self._ingest.settle()
            await self._handle(person, event, speak=True)
            done_until = event.at
            await self._store.set_schedule_done_until(person.id, done_until)

    async def _handle(self, person: PersonConfig, event: DayEvent, *, speak: bool) -> None:
        plan = await self._progress.day_plan(person, event.day)
        if plan.walking_target is None:
            return  # the plan has not started yet
        target = plan.walking_target
        activity = await self._progress.day_activity(person, event.day, until=event.at)
        walked = activity.walking_minutes
        if event.kind is EventKind.CHECKPOINT:
            checkpoint = Checkpoint(
                event.day, event.clock_time, event.at, plan.waking_start, plan.waking_end
            )
            draft = behind_schedule(checkpoint, target, walked)
        else:
            await self._store.save_day_result(
                DayResult(
                    person=person.id,
                    day=event.day,
                    target_minutes=target,
                    walked_minutes=walked,
                    steps=activity.steps,
                    movement_minutes=activity.movement_minutes,
                    met=walked >= target,
                )
            )
            draft = day_verdict(event.day, target, walked)
        if draft is not None and speak:
            await self._alerter.raise_alert(person.id, draft)
        self._on_change(person.id)
