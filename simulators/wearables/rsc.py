"""A simulated Running Speed and Cadence foot pod.

It reports the wearer's cadence averaged over the last strides, about once a second while
walking. Fault: `silent_when_still`, as many pods do, it sends nothing while its wearer stands
still (the silence is not walking).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bumble.gatt import Service

from devices.profiles import rsc
from simulators.wearables.host import NOTIFY, READ, Host, PeripheralBase, service

# A simulated walker's stride, used to turn steps into foot-pod speed and distance.
STRIDE_M = 0.7
# Foot pods report cadence averaged over this many seconds.
CADENCE_WINDOW_S = 10.0
# Foot pods flag "running" above this cadence.
RUNNING_SPM = 140
RSC_FEATURE = "00002a54-0000-1000-8000-00805f9b34fb"


class RscPeripheral(PeripheralBase):
    """A foot pod: RSC Measurement notifications, RSC Feature."""

    primary_uuid = rsc.MEASUREMENT

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.base = host.wearer.steps_until(host.clock.now())
        self.silent_when_still = False
        self.reports = 0
        self._last_tick = (host.clock.now(), self.base)  # when, and the wearer's steps then

    def services(self) -> list[Service]:
        """The RSC service."""
        host = self.host
        return [
            service(
                rsc.SERVICE,
                [
                    host.characteristic(rsc.MEASUREMENT, NOTIFY),
                    # RSC Feature: stride, total distance and walking/running supported.
                    host.characteristic(RSC_FEATURE, READ, lambda: b"\x07\x00"),
                ],
            )
        ]

    def reboot(self, now: datetime) -> None:
        """The total distance starts again."""
        self.base = self.host.wearer.steps_until(now)

    async def tick(self, now: datetime) -> None:
        """One measurement: the cadence over the last strides (none while still, if silent)."""
        interval = self.interval_s() * self.host.slow_factor
        wearer = self.host.wearer
        steps = wearer.steps_until(now)
        last_at, last_steps = self._last_tick
        self._last_tick = (now, steps)
        if self.silent_when_still:
            # Such a pod reports the cadence it measured since its last look, and nothing at
            # all while its wearer stands still.
            walked, elapsed = steps - last_steps, (now - last_at).total_seconds()
            if walked == 0 or elapsed <= 0:
                return
            spm = min(255, round(walked * 60.0 / elapsed))
        else:
            # Pods average cadence over the last strides; so does the simulation (whole steps
            # over a couple of seconds would jitter by tens of steps a minute).
            window = max(CADENCE_WINDOW_S, 2 * interval)
            walked = steps - wearer.steps_until(now - timedelta(seconds=window))
            spm = min(255, round(walked * 60.0 / window))
        value = rsc.build_measurement(
            spm,
            spm * STRIDE_M / 60.0,
            running=spm > RUNNING_SPM,
            stride_m=STRIDE_M,
            distance_m=(steps - self.base) * STRIDE_M,
        )
        if await self.host.notify(rsc.MEASUREMENT, value):
            self.reports += 1
