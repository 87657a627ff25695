"""A simulated Nordic Thingy:52: pedometer since power-on, raw motion, motion configuration.

The firmware keeps the motion configuration in flash: `config_writes` counts the writes, so a
test can tell whether a central wrote it on every connect (flash wear).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bumble.gatt import Service

from devices.profiles import thingy52
from devices.profiles.gatt import GattParseError
from simulators.wearables.counter import StepCounter
from simulators.wearables.host import NOTIFY, READ, WRITE, Host, PeripheralBase, service

# The Thingy reports walking time; the simulation assumes a steady 100 steps a minute.
MS_PER_STEP = 600


def build_pedometer(value: int) -> bytes:
    """The pedometer value for `value` steps."""
    return thingy52.build_pedometer(value, value * MS_PER_STEP)


class Thingy52Peripheral(PeripheralBase):
    """Nordic Thingy:52 multi-sensor: Motion service."""

    primary_uuid = thingy52.PEDOMETER

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.counter = StepCounter(host, host.clock.now())
        self.motion_config = thingy52.MotionConfig()
        self.config_writes = 0  # writes to flash since power-on
        self._motion_task: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        """The pedometer as the Thingy holds it now."""
        return self.counter.value_at(self.host.clock.now())

    def services(self) -> list[Service]:
        """The Motion service: configuration, pedometer, raw motion."""
        host = self.host
        return [
            service(
                thingy52.MOTION_SERVICE,
                [
                    host.characteristic(
                        thingy52.MOTION_CONFIG,
                        READ | WRITE,
                        lambda: thingy52.build_config(self.motion_config),
                        self._write_motion_config,
                    ),
                    host.characteristic(thingy52.PEDOMETER, NOTIFY),
                    host.characteristic(thingy52.RAW, NOTIFY),
                ],
            )
        ]

    def interval_s(self) -> float:
        """No faster than the configured pedometer interval."""
        interval = self.host.notify_interval_s
        return max(interval, self.motion_config.pedometer_interval_ms / 1000.0)

    def next_tick(self, now: datetime, deadline: datetime) -> datetime:
        """While the wearer sits still there is nothing to notify: sleep until they move."""
        moves = self.host.wearer.moves_after(now)
        quiet_until = moves if moves is not None else deadline + timedelta(days=1)
        return max(deadline, quiet_until)

    async def tick(self, now: datetime) -> None:
        """Notify the pedometer if it changed."""
        await self.counter.send(now, thingy52.PEDOMETER, build_pedometer)

    async def flush(self, now: datetime) -> None:
        """Notify what was counted before the reboot."""
        await self.tick(now)

    def reboot(self, now: datetime) -> None:
        """The pedometer starts again from 0; the configuration is the default again."""
        self.counter.restart(now, notified_zero=True)
        self.counter.counted = 0
        self.motion_config = thingy52.MotionConfig()

    def on_subscription(self, uuid: str, subscribed: bool) -> None:
        """Raw motion streams while subscribed."""
        idle = self._motion_task is None or self._motion_task.done()
        if uuid == thingy52.RAW and subscribed and idle:
            self._motion_task = self.host.spawn(self._stream_motion(), "motion")

    async def _stream_motion(self) -> None:
        """Notify every raw motion sample while subscribed, at the configured frequency."""
        host, source = self.host, self.host.motion_source
        if source is None:
            return
        while host.subscribed(thingy52.RAW) and host.connected:
            rate = float(self.motion_config.motion_frequency_hz)
            await host.clock.sleep((host.motion_period_s or 1.0 / rate) * host.slow_factor)
            if host.stalled:
                continue
            sample = source(host.clock.now(), rate, 1)[0]
            await host.notify(thingy52.RAW, thingy52.build_raw(sample))

    def _write_motion_config(self, value: bytes) -> None:
        config = thingy52.parse_config(value)
        if not thingy52.MIN_MOTION_HZ <= config.motion_frequency_hz <= thingy52.MAX_MOTION_HZ:
            raise GattParseError(f"motion frequency {config.motion_frequency_hz} Hz")
        self.motion_config = config
        self.config_writes += 1
        self.host.wake()
