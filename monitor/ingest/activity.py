"""Readings in arrival order become per-minute activity; minutes become a day's totals.

The processor is pure: the same readings in the same order always give the same minutes, so the
minutes can be thrown away and rebuilt from the raw log with an identical result.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from devices.readings import Battery, LinkState, Motion, Reading, StepCount
from monitor.days import day_start, local_date, minute_of
from monitor.gait import MinuteActivity, StreamingGait
from monitor.ingest import counters
from monitor.ingest.counters import CounterState, Outcome

# recovery-domain.md: a walking minute has a cadence of at least ~60 steps/minute. With only a
# step counter, a minute holding at least this many steps counts as a minute of walking.
WALKING_STEPS_PER_MINUTE = 60
# A minute with fewer steps than this share of the cadence around it is not part of the walk.
EDGE_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class DeviceMinute:
    """Activity of one device in one UTC minute (or an amount to add to it)."""

    person: str
    device: str
    minute: int
    steps: int = 0
    inferred_steps: int = 0
    inferred_walking_s: float = 0.0
    motion_steps: int = 0
    motion_walking_s: float = 0.0
    enmo_sum_mg: float = 0.0
    enmo_samples: int = 0
    moving: bool = False

    def plus(self, other: DeviceMinute) -> DeviceMinute:
        """This minute with another amount for the same device and minute added."""
        return replace(
            self,
            steps=self.steps + other.steps,
            inferred_steps=self.inferred_steps + other.inferred_steps,
            inferred_walking_s=self.inferred_walking_s + other.inferred_walking_s,
            motion_steps=self.motion_steps + other.motion_steps,
            motion_walking_s=self.motion_walking_s + other.motion_walking_s,
            enmo_sum_mg=self.enmo_sum_mg + other.enmo_sum_mg,
            enmo_samples=self.enmo_samples + other.enmo_samples,
            moving=self.moving or other.moving,
        )

    @property
    def total_steps(self) -> int:
        """Steps of this device in this minute, from its counter or, failing that, its motion."""
        return max(self.steps + self.inferred_steps, self.motion_steps)

    @property
    def seen_walking_s(self) -> float:
        """Seconds of walking this device saw directly: inferred over a gap, or from motion."""
        return min(60.0, max(self.inferred_walking_s, self.motion_walking_s))

    @property
    def is_movement(self) -> bool:
        """Whether this minute shows movement: steps, or motion above rest."""
        return self.total_steps > 0 or self.moving


@dataclass(frozen=True, slots=True)
class PersonMinute:
    """One person's activity in one UTC minute, their wearables combined."""

    minute: int
    steps: int  # every step credited to the minute
    counted_steps: int  # steps a counter notified live in this minute
    seen_walking_s: float  # walking seen from motion or inferred over a gap
    moving: bool


@dataclass(frozen=True, slots=True)
class DayActivity:
    """A person's totals over part of a day."""

    steps: int = 0
    walking_minutes: float = 0.0
    movement_minutes: int = 0


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """What is known about a wearable's link: up or down, battery, when last heard from."""

    connected: bool = False
    battery: int | None = None
    last_seen: datetime | None = None
    changed_at: datetime | None = None
    problem: str | None = None  # what to do: setting it up failed, not for the radio


@dataclass(frozen=True, slots=True)
class CounterEvent:
    """A noteworthy counter observation (a reset, a rejected glitch), for the log."""

    person: str
    device: str
    at: datetime
    outcome: Outcome


@dataclass(slots=True)
class Processed:
    """What a batch of readings changed."""

    minutes: list[DeviceMinute] = field(default_factory=list)
    events: list[CounterEvent] = field(default_factory=list)
    status_changed: set[tuple[str, str]] = field(default_factory=set)
    persons: set[str] = field(default_factory=set)


class ActivityProcessor:
    """Turns readings, in arrival order, into per-minute activity and device status."""

    def __init__(self, tz: ZoneInfo, saved: Mapping[str, Any] | None = None) -> None:
        self._tz = tz
        self._counters: dict[tuple[str, str], CounterState] = {}
        self._status: dict[tuple[str, str], DeviceStatus] = {}
        self._gait: dict[tuple[str, str], StreamingGait] = {}
        if saved:
            self._restore(saved)

    def status(self, person: str, device: str) -> DeviceStatus:
        """The current status of one wearable."""
        return self._status.get((person, device), DeviceStatus())

    def process(self, readings: Iterable[Reading]) -> Processed:
        """Apply readings in order; returns the minute amounts to add and what else changed."""
        out = Processed()
        merged: dict[tuple[str, str, int], DeviceMinute] = {}

        def add(minutes: Iterable[DeviceMinute]) -> None:
            for minute in minutes:
                slot = (minute.person, minute.device, minute.minute)
                merged[slot] = merged[slot].plus(minute) if slot in merged else minute

        # A device's motion in this batch goes to its gait detector as one block (per call,
        # numpy costs the same for one sample as for fifty).
        motion: dict[tuple[str, str], list[tuple[datetime, Motion]]] = {}
        for reading in readings:
            key = (reading.person, reading.device)
            out.persons.add(reading.person)
            self._note_status(key, reading, out)
            if isinstance(reading.value, Motion):
                motion.setdefault(key, []).append((reading.received_at, reading.value))
            else:
                add(self._minutes_of(key, reading, out))
        for key, notifications in motion.items():
            add(self._motion_minutes(key, notifications))
        out.minutes = list(merged.values())
        return out

    def _motion_minutes(
        self, key: tuple[str, str], notifications: list[tuple[datetime, Motion]]
    ) -> list[DeviceMinute]:
        times: list[float] = []
        samples: list[tuple[float, float, float]] = []
        for received_at, value in notifications:
            # A notification's newest sample was taken as it arrived; the others before it.
            newest = received_at.timestamp()
            count = len(value.samples)
            times.extend(newest - (count - 1 - i) / value.rate_hz for i in range(count))
            samples.extend(value.samples)
        detector = self._gait.setdefault(key, StreamingGait())
        person, device = key
        return [
            _motion_minute(person, device, minute)
            for minute in detector.feed(np.asarray(times), np.asarray(samples).reshape(-1, 3))
        ]

    def _note_status(self, key: tuple[str, str], reading: Reading, out: Processed) -> None:
        status = self._status.get(key, DeviceStatus())
        at = reading.received_at
        match reading.value:
            case LinkState(connected, _reason, problem):
                if connected != status.connected:
                    status = replace(status, connected=connected, changed_at=at)
                    out.status_changed.add(key)
                if problem is not None and problem != status.problem:
                    status = replace(status, problem=problem)
                    out.status_changed.add(key)
            case Battery(percent):
                if percent != status.battery:
                    out.status_changed.add(key)
                status = replace(status, battery=percent)
            case _:
                pass
        if not isinstance(reading.value, LinkState):
            if status.problem is not None:
                out.status_changed.add(key)  # readings flow: whatever it was is solved
            status = replace(status, last_seen=at, problem=None)
        self._status[key] = status

    def _minutes_of(
        self, key: tuple[str, str], reading: Reading, out: Processed
    ) -> list[DeviceMinute]:
        value, at = reading.value, reading.received_at
        if isinstance(value, LinkState):
            moved = counters.link_changed(self._counters.get(key), value.connected, at)
            if moved is not None:
                self._counters[key] = moved
            return []
        if not isinstance(value, StepCount):
            return []
        midnight = day_start(local_date(at, self._tz), self._tz)
        seen = counters.observe(self._counters.get(key), value.total, value.epoch, at, midnight)
        if seen.state is not None:
            self._counters[key] = seen.state
        if seen.outcome in {Outcome.RESET, Outcome.REJECTED, Outcome.REBASELINED}:
            out.events.append(CounterEvent(reading.person, reading.device, at, seen.outcome))
        if not seen.spans:
            return []
        person, device = key
        return [
            DeviceMinute(
                person,
                device,
                share.minute,
                steps=0 if share.inferred else share.steps,
                inferred_steps=share.steps if share.inferred else 0,
                inferred_walking_s=share.inferred_walking_s,
            )
            for span in seen.spans
            for share in counters.spread(span)
        ]

    def to_json(self) -> dict[str, Any]:
        """The processor's state, JSON-ready, to resume from after a restart."""
        return {
            "counters": [
                {"person": p, "device": d, "state": s.to_json()}
                for (p, d), s in sorted(self._counters.items())
            ],
            "gait": [
                {"person": p, "device": d, "state": base64.b64encode(g.to_state()).decode()}
                for (p, d), g in sorted(self._gait.items())
            ],
            "status": [
                {
                    "person": p,
                    "device": d,
                    "connected": s.connected,
                    "battery": s.battery,
                    "last_seen": s.last_seen.isoformat() if s.last_seen else None,
                    "changed_at": s.changed_at.isoformat() if s.changed_at else None,
                }
                for (p, d), s in sorted(self._status.items())
            ],
        }

    def _restore(self, saved: Mapping[str, Any]) -> None:
        for entry in saved.get("counters", []):
            key = (entry["person"], entry["device"])
            self._counters[key] = CounterState.from_json(entry["state"])
        for entry in saved.get("gait", []):
            state = base64.b64decode(entry["state"])
            self._gait[(entry["person"], entry["device"])] = StreamingGait.from_state(state)
        for entry in saved.get("status", []):
            self._status[(entry["person"], entry["device"])] = DeviceStatus(
                connected=bool(entry["connected"]),
                battery=entry["battery"],
                last_seen=_parse(entry["last_seen"]),
                changed_at=_parse(entry["changed_at"]),
            )


def _motion_minute(person: str, device: str, minute: MinuteActivity) -> DeviceMinute:
    return DeviceMinute(
        person,
        device,
        minute.minute,
        motion_steps=minute.steps,
        motion_walking_s=minute.walking_s,
        enmo_sum_mg=minute.enmo_mg * minute.samples,
        enmo_samples=minute.samples,
        moving=minute.moving,
    )


def combine(rows: Iterable[DeviceMinute]) -> list[PersonMinute]:
    """One person's minutes from their wearables' minutes, in time order.

    Two wearables on one person see the same steps, so a minute takes the most any one of them
    saw, never the sum.
    """
    by_minute: dict[int, PersonMinute] = {}
    for row in rows:
        mine = PersonMinute(
            row.minute, row.total_steps, row.steps, row.seen_walking_s, row.is_movement
        )
        seen = by_minute.get(row.minute)
        if seen is not None:
            mine = PersonMinute(
                row.minute,
                max(seen.steps, mine.steps),
                max(seen.counted_steps, mine.counted_steps),
                max(seen.seen_walking_s, mine.seen_walking_s),
                seen.moving or mine.moving,
            )
        by_minute[row.minute] = mine
    return [by_minute[m] for m in sorted(by_minute)]


def walking_seconds(minutes: Sequence[PersonMinute]) -> list[float]:
    """Seconds of walking in each minute (same order as `minutes`).

    A counter says how many steps fell in a minute, not for how long. Each minute is judged
    against the local cadence, the most steps in it or the minute either side: when that is a
    walking cadence (WALKING_STEPS_PER_MINUTE or more), the minute walked for its share of it.
    So the part-minutes at the ends of a walk add up to what was walked (the two ends of a
    7-minute walk make its seventh minute), while a few steps far from any walk count for
    nothing, nor do minutes well below the local cadence (EDGE_SHARE).
    """
    counted = {m.minute: m.counted_steps for m in minutes}
    walking: list[float] = []
    for m in minutes:
        local = max(counted.get(m.minute - 1, 0), m.counted_steps, counted.get(m.minute + 1, 0))
        seconds = 0.0
        if local >= WALKING_STEPS_PER_MINUTE and m.counted_steps >= EDGE_SHARE * local:
            seconds = 60.0 * m.counted_steps / local
        walking.append(min(60.0, max(seconds, m.seen_walking_s)))
    return walking


def totals(minutes: Sequence[PersonMinute], start: datetime, end: datetime) -> DayActivity:
    """A person's totals over the minutes that begin in [start, end)."""
    first, last = minute_of(start), minute_of(end)
    inside = [m for m in minutes if first <= m.minute < last]
    return DayActivity(
        steps=sum(m.steps for m in inside),
        walking_minutes=round(sum(walking_seconds(inside)) / 60.0, 2),
        movement_minutes=sum(1 for m in inside if m.moving),
    )


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
