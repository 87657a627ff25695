"""The one source of time: a system clock for production and a simulated one for tests and the demo.

No other module reads the time. Everything that needs "now" is handed a `Clock`; pure logic is
handed timestamps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from devices.clock import Clock

__all__ = ["Clock", "SimulatedClock", "SystemClock"]

# The system clock re-checks the wall clock at least this often while sleeping, so that an
# NTP correction or a suspended machine moves deadlines with the wall clock, not against it.
_WALL_CLOCK_RECHECK_S = 30.0


class SystemClock:
    """Wall-clock time from the operating system."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(UTC)

    async def sleep_until(self, deadline: datetime) -> None:
        """Sleep until the wall clock reaches `deadline`, following any jump of the wall clock."""
        # Polling in bounded steps is the point: the wall clock may jump while we sleep.
        while (remaining := (deadline - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(remaining, _WALL_CLOCK_RECHECK_S))

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of real time."""
        await asyncio.sleep(max(seconds, 0.0))

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (to see the wall clock step against it)."""
        return time.monotonic()


@dataclass(order=True)
class _Sleeper:
    deadline: datetime
    seq: int
    future: asyncio.Future[None] = field(compare=False)
    relative: bool = field(default=False, compare=False)  # slept for a duration, not to a time


class SimulatedClock:
    """Virtual time that runs `speed` times faster than real time and can also be jumped.

    With `speed=0` time stands still until `advance` moves it, which makes a test fully
    deterministic; with `speed>0` a simulated week passes in seconds of real time.
    """

    def __init__(self, start: datetime, *, speed: float = 0.0) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        if speed < 0:
            raise ValueError("speed must not be negative")
        self._origin = start.astimezone(UTC)
        self._speed = speed
        self._jumped_s = 0.0
        self._stepped_s = 0.0  # of _jumped_s, what `step` moved (the wall clock alone)
        self._real_origin = time.monotonic()
        self._sleepers: list[_Sleeper] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def speed(self) -> float:
        """Virtual seconds per real second."""
        return self._speed

    def now(self) -> datetime:
        """The current virtual time, in UTC."""
        running = (time.monotonic() - self._real_origin) * self._speed
        return self._origin + timedelta(seconds=self._jumped_s + running)

    def monotonic(self) -> float:
        """Virtual seconds elapsed, steps left out: what a monotonic clock would read."""
        running = (time.monotonic() - self._real_origin) * self._speed
        return running + self._jumped_s - self._stepped_s

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once virtual time has reached `deadline`."""
        await self._sleep(deadline, relative=False)

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of virtual time (a duration, which a `step` does not change)."""
        await self._sleep(self.now() + timedelta(seconds=seconds), relative=True)

    async def _sleep(self, deadline: datetime, *, relative: bool) -> None:
        if deadline <= self.now():
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, _Sleeper(deadline, next(self._seq), future, relative))
        self._arm()
        try:
            await future
        finally:
            if not future.done():
                future.cancel()

    async def step(self, seconds: float) -> None:
        """Set the clock forward or back at once, as an NTP correction steps a wall clock.

        As with the system clock, waiting until a moment follows the step (a step forward past
        it ends the wait), while sleeping for a duration does not notice it.
        """
        self._jumped_s += seconds
        self._stepped_s += seconds
        moved = timedelta(seconds=seconds)
        for sleeper in self._sleepers:
            if sleeper.relative:
                sleeper.deadline += moved
        heapq.heapify(self._sleepers)
        self._wake_due()
        await _let_others_run()

    async def advance(self, seconds: float) -> None:
        """Jump virtual time forward, waking sleepers in deadline order and letting each run.

        Every woken task runs up to its next await before time moves on to the next deadline.
        """
        target = self.now() + timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0].deadline <= target:
            self._jump_to(self._sleepers[0].deadline)
            self._wake_due()
            await _let_others_run()
        self._jump_to(target)
        self._wake_due()
        await _let_others_run()

    async def advance_to(self, moment: datetime) -> None:
        """Jump virtual time forward to `moment` (no-op if it has passed)."""
        await self.advance(max((moment - self.now()).total_seconds(), 0.0))

    def _jump_to(self, moment: datetime) -> None:
        gap = (moment - self.now()).total_seconds()
        if gap > 0:
            self._jumped_s += gap

    def _wake_due(self) -> None:
        now = self.now()
        while self._sleepers and self._sleepers[0].deadline <= now:
            sleeper = heapq.heappop(self._sleepers)
            if not sleeper.future.done():
                sleeper.future.set_result(None)
        self._arm()

    def _arm(self) -> None:
        """With a running clock, schedule a real-time wake-up for the nearest deadline."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._sleepers and self._sleepers[0].future.done():
            heapq.heappop(self._sleepers)
        if self._speed == 0 or not self._sleepers:
            return
        delay = (self._sleepers[0].deadline - self.now()).total_seconds() / self._speed
        self._timer = asyncio.get_running_loop().call_later(max(delay, 0.0), self._wake_due)


async def _let_others_run(rounds: int = 5) -> None:
    """Yield to the event loop a few times so woken tasks reach their next await."""
    for _ in range(rounds):
        await asyncio.sleep(0)
