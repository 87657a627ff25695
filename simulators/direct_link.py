"""A simulated step-counting wearable whose readings go straight into the device seam, no radio.

It behaves like an InfiniTime watch as the service sees it: a cumulative counter that resets at
local midnight and on reboot, notified when it changes, silent while out of range.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from devices.base import Link, ReadingSink
from devices.clock import Clock
from devices.readings import Battery, CounterEpoch, LinkState, Motion, Reading, StepCount
from devices.settings import DeviceConfig
from monitor.days import day_start, local_date
from simulators.person import SimulatedPerson, Walk, Wearer


@dataclass(frozen=True, slots=True)
class Absence:
    """A stretch of time during which the wearable is out of range of the service."""

    start: datetime
    end: datetime

    def covers(self, moment: datetime) -> bool:
        """Whether the wearable is out of range at `moment`."""
        return self.start <= moment < self.end


class DirectWearable:
    """A counter wearable on the simulated clock, delivering readings to the sink directly."""

    def __init__(
        self,
        person: str,
        device: DeviceConfig,
        clock: Clock,
        wearer: Wearer,
        tz: ZoneInfo,
        *,
        interval_s: float = 60.0,
        battery: int = 87,
        absences: tuple[Absence, ...] = (),
        truth: Clock | None = None,
    ) -> None:
        self._person = person
        # What the watch counts follows real time; readings are stamped with the service's
        # clock (the same one, unless a test steps the service's wall clock).
        self._truth = truth or clock
        self._device = device
        self._clock = clock
        self._wearer = wearer
        self._tz = tz
        self._interval_s = interval_s
        self._battery = battery
        self._absences = absences
        self._reboot_base: int | None = None
        self._reboot_day: datetime | None = None

    @property
    def device_id(self) -> str:
        """The configured id of the simulated wearable."""
        return self._device.id

    def counter_at(self, moment: datetime) -> int:
        """What the watch's counter shows at `moment`: steps since local midnight or reboot."""
        midnight = day_start(local_date(moment, self._tz), self._tz)
        base = self._wearer.steps_until(midnight)
        if self._reboot_base is not None and self._reboot_day == midnight:
            base = max(base, self._reboot_base)
        return self._wearer.steps_until(moment) - base

    def reboot(self) -> None:
        """Restart the watch now: its counter starts again from zero."""
        now = self._clock.now()
        self._reboot_base = self._wearer.steps_until(now)
        self._reboot_day = day_start(local_date(now, self._tz), self._tz)

    async def run(self, sink: ReadingSink) -> None:
        """Deliver readings until cancelled: link state, battery, and the counter when it moves."""
        connected = False
        last: int | None = None
        while True:
            now = self._clock.now()
            away = any(a.covers(now) for a in self._absences)
            if away and connected:
                sink(self._reading(now, LinkState(False, "out of range")))
                connected, last = False, None
            elif not away:
                if not connected:
                    sink(self._reading(now, LinkState(True, "connected")))
                    sink(self._reading(now, Battery(self._battery)))
                    connected = True
                total = self.counter_at(self._truth.now())
                if total != last:
                    sink(self._reading(now, StepCount(total, CounterEpoch.LOCAL_DAY)))
                    last = total
            await self._clock.sleep(self._interval_s)

    def _reading(self, at: datetime, value: StepCount | LinkState | Battery) -> Reading:
        return Reading(self._person, self._device.id, at, value)


class DirectMotionBand:
    """A band streaming raw acceleration around walks (it wakes on motion), or always if
    `awake_around` is None, straight to the sink.

    The signal is simple on purpose (a bounce at the walk's cadence on top of 1 g, and a little
    noise): enough for the gait detector to find the steps, cheap enough for a 90-day soak.
    """

    def __init__(
        self,
        person: str,
        device: DeviceConfig,
        clock: Clock,
        wearer: SimulatedPerson,
        *,
        rate_hz: float = 10.0,
        awake_around: timedelta | None = timedelta(minutes=2),
        poll_s: float = 30.0,
    ) -> None:
        self._person = person
        self._device = device
        self._clock = clock
        self._wearer = wearer
        self._rate_hz = rate_hz
        self._awake_around = awake_around
        self._poll_s = poll_s
        self._rng = random.Random(f"{person}/{device.id}")

    @property
    def device_id(self) -> str:
        """The configured id of the simulated band."""
        return self._device.id

    async def run(self, sink: ReadingSink) -> None:
        """Stream a sample per notification while awake; look for motion every poll otherwise."""
        sink(Reading(self._person, self._device.id, self._clock.now(), LinkState(True)))
        period = 1.0 / self._rate_hz
        while True:
            now = self._clock.now()
            walk = self._wearer.walk_near(now, self._awake_around or timedelta(0))
            if walk is None and self._awake_around is not None:
                await self._clock.sleep(self._poll_s)
                continue
            sink(Reading(self._person, self._device.id, now, self._sample(now, walk)))
            await self._clock.sleep(period)

    def _sample(self, now: datetime, walk: Walk | None) -> Motion:
        noise = self._rng.gauss
        if walk is not None and walk.start <= now < walk.end:
            phase = 2 * math.pi * walk.cadence_spm / 60.0 * (now - walk.start).total_seconds()
            bounce = 0.25 * math.sin(phase)
        else:
            bounce = 0.0
        sample = (0.02 * noise(0, 1), 0.02 * noise(0, 1), 1.0 + bounce + 0.01 * noise(0, 1))
        return Motion((sample,), self._rate_hz)


class DirectLinkFactory:
    """Builds a `DirectWearable` for each configured wearable of each simulated person."""

    def __init__(
        self,
        wearers: Mapping[str, Wearer],
        tz: ZoneInfo,
        interval_s: float,
        absences: Mapping[str, tuple[Absence, ...]],
        *,
        truth: Clock | None = None,
    ) -> None:
        self._wearers = wearers
        self._tz = tz
        self._interval_s = interval_s
        self._absences = absences
        self._truth = truth
        self.links: dict[tuple[str, str], DirectWearable] = {}

    def __call__(self, person: str, device: DeviceConfig, clock: Clock) -> Link:
        """The simulated wearable for one configured device."""
        link = DirectWearable(
            person,
            device,
            clock,
            self._wearers[person],
            self._tz,
            interval_s=self._interval_s,
            absences=self._absences.get(person, ()),
            truth=self._truth,
        )
        self.links[(person, device.id)] = link
        return link
