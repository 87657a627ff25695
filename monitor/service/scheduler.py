"""The day's timetable per person: checkpoints, then the day's close at the end of waking hours;
and a watch on the person's wearables every few minutes of the waking window.

Each event is judged as of its own instant, from data up to that instant, so a late judgement
(after a restart) reaches the same verdict as a timely one. How far the timetable has been
handled is stored, so a restart neither skips an event's record nor repeats its alert. The watch
keeps nothing: what it says is keyed by its occasion (a still stretch, a wearable's day).
The close of every seventh plan day also sends the week's summary (monitor.recovery.weekly).

Clock steps (monitor.service.clock_watch): nothing is judged across a step of the wall clock
until the step has lasted CONFIRM_STEP_S (a bad NTP answer corrected within it changes nothing);
a step back that lasts withdraws the day results judged in what is now the future and sets the
timetable back to now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.clock import Clock
from monitor.config import PersonConfig
from monitor.days import at_local, day_bounds, day_start, local_date
from monitor.ingest.pipeline import Ingest
from monitor.recovery.alerts import AlertDraft
from monitor.recovery.plan import plan_day, target_met, walking_targets
from monitor.recovery.rules import (
    Checkpoint,
    battery_low,
    behind_schedule,
    day_verdict,
    device_offline,
    long_sitting,
    missed_days,
    missed_streak,
)
from monitor.recovery.tracking import daily_scores
from monitor.recovery.trends import function_declining, no_improvement
from monitor.recovery.weekly import WEEK_DAYS, is_week_end, weekly_summary
from monitor.service.alerter import Alerter
from monitor.service.clock_watch import STEP_THRESHOLD_S, ClockStep, ClockWatch
from monitor.service.progress import DayPlan, Progress
from monitor.store.days import DayResult
from monitor.store.reports import StoredReport

log = logging.getLogger(__name__)

# How often the watch looks at a person's wearables and stillness in the waking window.
WATCH_INTERVAL = timedelta(minutes=5)
# The wall clock is compared with the monotonic one at least this often (seconds, a duration)
# and before every judgement.
CLOCK_LOOK_S = 30.0
# A step must last this long (seconds of monotonic time) before anything is judged on it: a bad
# NTP answer is corrected at the next poll (64-1024 s), a hand-set clock stays.
CONFIRM_STEP_S = 1200.0


class ClockStepped(Exception):  # noqa: N818 - a signal to restart the timetable, not an error
    """Raised inside the timetable's tasks: the wall clock stepped; judge nothing more on it."""

    def __init__(self, step: ClockStep) -> None:
        super().__init__(f"the clock stepped {step.seconds:+.0f} s")
        self.step = step


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


def next_watch(person: PersonConfig, tz: ZoneInfo, after: datetime) -> datetime:
    """The first watch moment strictly after `after`: every WATCH_INTERVAL of a waking window."""
    day = local_date(after, tz) - timedelta(days=1)
    while True:
        start = at_local(day, person.waking_hours.start, tz)
        end = at_local(day, person.waking_hours.end, tz)
        if after < start:
            return start
        if after < end:
            moment = start + ((after - start) // WATCH_INTERVAL + 1) * WATCH_INTERVAL
            if moment < end:
                return moment
        day += timedelta(days=1)


class TimetableStore(Protocol):
    """The tables the timetable reads and writes (monitor.store.database.Store is one)."""

    async def day_results(self, person: str, since: date | None = None) -> list[DayResult]: ...

    async def save_day_result(self, result: DayResult) -> None: ...

    async def withdraw_day_results(self, person: str, from_day: date) -> int: ...

    async def schedule_done_until(self, person: str) -> datetime | None: ...

    async def set_schedule_done_until(self, person: str, moment: datetime) -> None: ...

    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]: ...


class Scheduler:
    """Runs every person's timetable (checkpoints, day closes) and the watch on their wearables."""

    def __init__(
        self,
        persons: Sequence[PersonConfig],
        tz: ZoneInfo,
        *,
        store: TimetableStore,
        progress: Progress,
        alerter: Alerter,
        ingest: Ingest,
        clock: Clock,
        on_change: Callable[[str], None],
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._persons = persons
        self._tz = tz
        self._store = store
        self._progress = progress
        self._alerter = alerter
        self._ingest = ingest
        self._clock = clock
        self._on_change = on_change
        self._started = clock.now()
        # The last watch moment handled per person, for tests and the demo to wait on.
        self.watched_until: dict[str, datetime] = {}
        self._monotonic = monotonic
        self._clock_watch: ClockWatch | None = None
        self.held = False  # judging held across a clock step not yet confirmed

    async def run(self) -> None:
        """Run every person's timetable and watch, for ever; hold them across a clock step."""
        self._started = self._clock.now()
        if self._monotonic is not None:
            self._clock_watch = ClockWatch(self._clock.now, self._monotonic)
        while True:
            try:
                async with asyncio.TaskGroup() as group:
                    for person in self._persons:
                        group.create_task(self._run_person(person), name=f"schedule {person.id}")
                        if person.devices:
                            group.create_task(self._watch_person(person), name=f"watch {person.id}")
                    if self._clock_watch is not None:
                        group.create_task(self._look_at_clock(), name="clock watch")
            except* ClockStepped as stepped:
                first = stepped.exceptions[0]
                assert isinstance(first, ClockStepped)  # noqa: S101 - except* matched it
                await self._settle_step(first.step)

    async def _look_at_clock(self) -> None:
        while True:
            await self._clock.sleep(CLOCK_LOOK_S)
            self._check_clock()

    def _check_clock(self) -> None:
        """Before a judgement: stop the timetable if the wall clock stepped."""
        if self._clock_watch is not None and (step := self._clock_watch.observe()) is not None:
            raise ClockStepped(step)

    async def _settle_step(self, step: ClockStep) -> None:
        """Hold until the step is confirmed (or undone); a confirmed step back withdraws what
        was judged in what is now the future."""
        assert self._clock_watch is not None  # noqa: S101 - only a watch raises ClockStepped
        self.held = True
        total = step.seconds
        log.warning(
            "nothing is judged until the clock has kept its new time for %.0f minutes",
            CONFIRM_STEP_S / 60,
        )
        try:
            while True:
                await self._clock.sleep(CONFIRM_STEP_S)
                again = self._clock_watch.observe()
                if again is None:
                    break
                total += again.seconds
                if abs(total) < STEP_THRESHOLD_S:
                    log.warning("the clock came back: nothing was judged on the step")
                    return
            log.warning("the clock's new time held: the timetable goes on from it")
            if total < 0:
                await self._withdraw_future()
        finally:
            self.held = False

    async def _withdraw_future(self) -> None:
        now = self._clock.now()
        for person in self._persons:
            done_until = await self._store.schedule_done_until(person.id)
            if done_until is None or done_until <= now:
                continue
            today = local_date(now, self._tz)
            closed = now >= at_local(today, person.waking_hours.end, self._tz)
            first = today + timedelta(days=1) if closed else today
            withdrawn = await self._store.withdraw_day_results(person.id, first)
            await self._store.set_schedule_done_until(person.id, now)
            log.warning(
                "%s: the timetable was set back to now; %d day result(s) judged in the "
                "future withdrawn",
                person.id,
                withdrawn,
            )
            self._on_change(person.id)

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
            self._check_clock()
            # Only the latest missed event still speaks; older ones are recorded silently.
            await self._handle(person, event, speak=index == len(missed) - 1)
            done_until = event.at
            await self._store.set_schedule_done_until(person.id, done_until)
        done_until = max(done_until, now)
        while True:
            event = next_event(person, self._tz, done_until)
            await self._clock.sleep_until(event.at)
            self._check_clock()
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
        drafts: list[AlertDraft | None]
        if event.kind is EventKind.CHECKPOINT:
            checkpoint = Checkpoint(
                event.day, event.clock_time, event.at, plan.waking_start, plan.waking_end
            )
            drafts = [behind_schedule(checkpoint, target, walked)]
        else:
            await self._store.save_day_result(
                DayResult(
                    person=person.id,
                    day=event.day,
                    target_minutes=target,
                    walked_minutes=walked,
                    steps=activity.steps,
                    movement_minutes=activity.movement_minutes,
                    met=target_met(walked, target),
                )
            )
            verdict = day_verdict(
                event.day,
                target,
                walked,
                movement_minutes=activity.movement_minutes,
                movement_target=plan.movement_target,
            )
            drafts = [verdict, *await self._standing(person, plan)] if speak else []
            if speak and plan.plan_day is not None and is_week_end(plan.plan_day):
                drafts.append(await self._weekly(person, plan, plan.plan_day))
        for draft in drafts:
            if draft is not None and speak:
                await self._alerter.raise_alert(person.id, draft, at=event.at)
        self._on_change(person.id)

    async def _standing(self, person: PersonConfig, plan: DayPlan) -> list[AlertDraft | None]:
        """At a day's close: the rules over many days (missed days, pain and function trends)."""
        day = plan.day
        outcomes = await self._progress.outcomes(person, day + timedelta(days=1))
        targets = walking_targets(person.walking, outcomes)
        results = [
            (person.plan_start + timedelta(days=i), target_met(outcome.walked_minutes, targets[i]))
            for i, outcome in enumerate(outcomes)
        ]
        settings = person.alerts
        streak = missed_days(
            missed_streak(results),
            settings,
            escalation_configured=settings.escalation_topic is not None,
        )
        since = day_start(person.plan_start, self._tz)
        reports = await self._store.reports(
            person.id, ["pain", "function"], since, day_bounds(day, self._tz)[1]
        )
        pain = daily_scores(reports, "pain", self._tz)
        function = daily_scores(reports, "function", self._tz)
        return [
            streak,
            no_improvement(pain, person.plan_start, day),
            function_declining(pain, function, person.plan_start, day),
        ]

    async def _weekly(self, person: PersonConfig, plan: DayPlan, number: int) -> AlertDraft:
        """At the close of a plan week: its summary (monitor.recovery.weekly)."""
        first = plan.day - timedelta(days=WEEK_DAYS - 1)
        days = await self._store.day_results(person.id, first)
        start, end = day_start(first, self._tz), day_bounds(plan.day, self._tz)[1]
        reports = await self._store.reports(person.id, ["pain", "function"], start, end)
        pain = daily_scores(reports, "pain", self._tz)
        function = daily_scores(reports, "function", self._tz)
        return weekly_summary(plan.day, number, days, pain, function)

    async def _watch_person(self, person: PersonConfig) -> None:
        tick = next_watch(person, self._tz, self._clock.now())
        while True:
            await self._clock.sleep_until(tick)
            self._check_clock()
            # Far behind (an overloaded machine, a fast demo): skip to the latest moment due.
            now = self._clock.now()
            latest = next_watch(person, self._tz, now - WATCH_INTERVAL)
            if tick < latest <= now:
                tick = latest
            await self._ingest.settle()
            await self._watch(person, tick)
            self.watched_until[person.id] = tick
            tick = next_watch(person, self._tz, tick)

    async def _watch(self, person: PersonConfig, at: datetime) -> None:
        """Long sitting, wearables out of touch, batteries running low, as of `at`."""
        day = local_date(at, self._tz)
        if plan_day(person.plan_start, day) is None:
            return
        settings = person.alerts
        waking = self._progress.day_plan_times(person, day)
        statuses = {d.id: self._ingest.status(person.id, d.id) for d in person.devices}
        connected = [s for s in statuses.values() if s.connected]
        worn_since = min((s.changed_at or self._started for s in connected), default=None)
        minutes = await self._progress.minutes(person.id, day_start(day, self._tz), at)
        drafts = [
            long_sitting(minutes, at, waking, worn_since, settings.long_sitting_minutes, self._tz)
        ]
        for device, status in statuses.items():
            others = any(s.connected for d, s in statuses.items() if d != device)
            drafts.append(
                device_offline(
                    device,
                    status,
                    at,
                    waking,
                    self._started,
                    settings.offline_minutes,
                    self._tz,
                    others_connected=others,
                )
            )
            drafts.append(battery_low(device, status, at, settings.battery_low_percent, self._tz))
        for draft in drafts:
            if draft is not None:
                await self._alerter.raise_alert(person.id, draft, at=at)
