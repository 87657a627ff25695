"""A cumulative step counter as firmware keeps one: the wearer's steps since its last reset.

Shared by the PineTime and the Thingy:52. It moves at the notification pace, so reads and
notifications agree as on the real device.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from simulators.wearables.host import Host


class StepCounter:
    """Steps since the last reset (a reboot, or a PineTime's midnight), as last counted."""

    def __init__(self, host: Host, now: datetime) -> None:
        self._host = host
        self.epoch_start = now
        self.base = host.wearer.steps_until(now)
        self.last_value: int | None = None  # the last value notified (or due while unheard)
        self.counted = 0  # the firmware's counter as of its last update: what a read returns

    def value_at(self, moment: datetime) -> int:
        """What the counter holds at `moment`."""
        return max(0, self._host.wearer.steps_until(moment) - self.base)

    def restart(self, moment: datetime, *, notified_zero: bool) -> None:
        """Start again from 0 at `moment`."""
        self.base = self._host.wearer.steps_until(moment)
        self.epoch_start = moment
        if notified_zero:
            self.last_value = 0

    async def send(self, moment: datetime, uuid: str, build: Callable[[int], bytes]) -> None:
        """Update the counter to `moment` and notify it if it changed since last notified."""
        value = self.value_at(moment)
        self.counted = value
        if self._host.stalled:
            return  # the counter counts; only its notifications have stopped
        if value == self.last_value:
            return
        self.last_value = value
        await self._host.notify(uuid, build(value))
