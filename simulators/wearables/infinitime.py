"""A simulated PineTime (InfiniTime): a step counter reset at the watch's own local midnight.

The watch's midnight is in the zone and at the time the link last wrote to it. Faults: its
counter can reset late (`reset_delay`: asleep, or its firmware slow to notice the new day), so
that after our midnight it still shows, and notifies, yesterday's count.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from bumble.gatt import Service

from devices.profiles import current_time, heart_rate, infinitime
from devices.profiles.current_time import LocalTimeInfo
from simulators.wearables.counter import StepCounter
from simulators.wearables.host import NOTIFY, READ, WRITE, Host, PeripheralBase, service


class InfiniTimePeripheral(PeripheralBase):
    """PineTime running InfiniTime: Motion service, Current Time service, heart rate."""

    primary_uuid = infinitime.STEP_COUNT

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        now = host.clock.now()
        self.counter = StepCounter(host, now)
        # The watch's clock: its zone (as last written) and its error against true time.
        self.zone = LocalTimeInfo(timedelta(0), timedelta(0))
        self.clock_error = timedelta(0)
        # How long after its midnight the counter actually resets (a fault; 0 normally).
        self.reset_delay = timedelta(0)
        self._watch_date = self._counter_local(now).date()
        self._day_ends: list[int] = []
        self._motion_task: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        """The step counter as the watch holds it now."""
        now = self.host.clock.now()
        self._roll(now)
        return self.counter.value_at(now)

    def watch_midnight_after(self, moment: datetime) -> datetime:
        """The true instant of the watch's next counter reset (its midnight) after `moment`."""
        local = self._counter_local(moment)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=moment.tzinfo)
        return midnight - self.zone.utc_offset - self.clock_error + self.reset_delay

    def services(self) -> list[Service]:
        """Motion (steps, raw motion), Current Time, Heart Rate."""
        host = self.host
        return [
            service(
                infinitime.MOTION_SERVICE,
                [
                    host.characteristic(
                        infinitime.STEP_COUNT,
                        READ | NOTIFY,
                        lambda: infinitime.build_step_count(self._read_count()),
                    ),
                    host.characteristic(
                        infinitime.RAW_MOTION,
                        READ | NOTIFY,
                        lambda: infinitime.build_motion(self._current_sample()),
                    ),
                ],
            ),
            service(
                current_time.SERVICE,
                [
                    host.characteristic(
                        current_time.CURRENT_TIME,
                        READ | WRITE | NOTIFY,
                        self._read_current_time,
                        self._write_current_time,
                    ),
                    host.characteristic(
                        current_time.LOCAL_TIME_INFORMATION,
                        READ | WRITE,
                        self._read_zone,
                        self._write_zone,
                    ),
                ],
            ),
            service(heart_rate.SERVICE, [host.characteristic(heart_rate.MEASUREMENT, NOTIFY)]),
        ]

    def next_tick(self, now: datetime, deadline: datetime) -> datetime:
        """While the wearer sits still there is nothing to notify: sleep until they move (an
        accelerated month stays cheap), or until the watch's midnight."""
        moves = self.host.wearer.moves_after(now)
        quiet_until = moves if moves is not None else deadline + timedelta(days=1)
        return min(max(deadline, quiet_until), self.watch_midnight_after(now))

    async def tick(self, now: datetime) -> None:
        """Roll the day if it changed, notify the old day's end, then the count."""
        self._roll(now)
        await self._send_day_ends()
        await self.counter.send(now, infinitime.STEP_COUNT, infinitime.build_step_count)

    async def flush(self, now: datetime) -> None:
        """Notify what the watch counted before it reboots."""
        await self.tick(now)

    def reboot(self, now: datetime) -> None:
        """The counter starts again from 0."""
        self.counter.restart(now, notified_zero=True)
        self.counter.counted = 0
        self._day_ends.clear()

    def on_subscription(self, uuid: str, subscribed: bool) -> None:
        """Raw motion streams while subscribed."""
        idle = self._motion_task is None or self._motion_task.done()
        if uuid == infinitime.RAW_MOTION and subscribed and idle:
            self._motion_task = self.host.spawn(self._stream_motion(), "motion")

    async def _stream_motion(self) -> None:
        """Notify raw motion while subscribed: every change, at the firmware's fixed rate."""
        host, source = self.host, self.host.motion_source
        if source is None:
            return
        last: bytes | None = None
        rate = infinitime.MOTION_RATE_HZ
        while host.subscribed(infinitime.RAW_MOTION) and host.connected:
            await host.clock.sleep((host.motion_period_s or 1.0 / rate) * host.slow_factor)
            if host.stalled:
                continue
            value = infinitime.build_motion(source(host.clock.now(), rate, 1)[0])
            if value != last:
                last = value
                await host.notify(infinitime.RAW_MOTION, value)

    # -- the watch's day -----------------------------------------------------------------------

    def _watch_local(self, moment: datetime) -> datetime:
        return (moment + self.clock_error + self.zone.utc_offset).replace(tzinfo=None)

    def _counter_local(self, moment: datetime) -> datetime:
        """The watch's local time as its step counter goes by (late by `reset_delay`)."""
        return self._watch_local(moment - self.reset_delay)

    def _roll(self, now: datetime, *, written: bool = False) -> None:
        """Start a new day's count if the counter's local date has changed.

        The date changes at the watch's midnight (plus any reset delay), or at once when a new
        zone or time is written. The old day's last value is kept for the loop to notify.
        """
        today = self._counter_local(now).date()
        if today == self._watch_date:
            return
        moment = now
        if not written:
            midnight = datetime.combine(today, time(0), tzinfo=now.tzinfo)
            midnight -= self.zone.utc_offset + self.clock_error - self.reset_delay
            moment = min(now, max(self.counter.epoch_start, midnight))
        self._day_ends.append(self.counter.value_at(moment))
        self.counter.restart(moment, notified_zero=False)
        self._watch_date = today
        self.counter.counted = self.counter.value_at(now)

    async def _send_day_ends(self) -> None:
        """Notify the last value of each day that ended (then the 0 follows)."""
        for value in self._day_ends:
            if value != self.counter.last_value:
                await self.host.notify(infinitime.STEP_COUNT, infinitime.build_step_count(value))
            # The new day starts at 0, and the watch says so at once.
            await self.host.notify(infinitime.STEP_COUNT, infinitime.build_step_count(0))
            self.counter.last_value = 0
        self._day_ends.clear()

    def _read_count(self) -> int:
        self._roll(self.host.clock.now())
        return self.counter.counted

    def _current_sample(self) -> tuple[float, float, float]:
        source = self.host.motion_source
        if source is None:
            return (0.0, 0.0, 1.0)
        x, y, z = source(self.host.clock.now(), infinitime.MOTION_RATE_HZ, 1)[0]
        return (x, y, z)

    def _read_current_time(self) -> bytes:
        # The watch's own local time, in the characteristic's format (no adjustment reason).
        local = self._watch_local(self.host.clock.now())
        return current_time.build_current_time(local.replace(tzinfo=UTC), UTC, adjust_reason=0)

    def _write_current_time(self, value: bytes) -> None:
        local = current_time.parse_current_time(value)
        now = self.host.clock.now()
        self.clock_error = current_time.utc_of(local, self.zone) - now
        self._roll(now, written=True)
        self.host.wake()

    def _read_zone(self) -> bytes:
        return current_time.build_local_time_information(self.zone)

    def _write_zone(self, value: bytes) -> None:
        self.zone = current_time.parse_local_time_information(value)
        self._roll(self.host.clock.now(), written=True)
        self.host.wake()
