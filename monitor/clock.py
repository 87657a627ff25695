"""The one source of time: a system clock for production and a simulated one for tests and the demo.

No other module reads the time. Everything that needs "now" is handed a `Clock`; pure logic is
handed timestamps.

A simulated clock either stands still until moved (`advance`), runs at a fixed multiple of real
time, or is *paced*: it jumps to the next sleeper's deadline only once the simulation has caught
up, that is when the event loop has nothing ready to run, no task holds the clock (`hold`), and
no registered pacer (`PACERS`: work in flight in another thread, such as a database statement)
is busy. A paced clock tells the same story on a fast and on a slow machine; its speed is a
ceiling, not a promise.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from devices.clock import Clock

__all__ = ["PACERS", "Clock", "Pacers", "SimulatedClock", "SystemClock"]

# The system clock re-checks the wall clock at least this often while sleeping, so that an
# NTP correction or a suspended machine moves deadlines with the wall clock, not against it.
_WALL_CLOCK_RECHECK_S = 30.0
# A paced clock waiting for a busy pacer (work in another thread) looks again this often, in
# real seconds; the thread's answer wakes the loop anyway, so this only bounds a missed wake-up.
_PACER_POLL_S = 0.001
# A paced clock sees the loop idle this many loop passes in a row before it moves time: the
# extra pass lets socket and pipe events that were already waiting reach their callbacks.
_IDLE_PASSES = 2

Busy = Callable[[], bool]
"""Whether some work the simulation waits for is still in flight."""


class Pacers:
    """Named checks of work in flight outside the event loop, consulted by paced clocks only.

    A seam whose work runs in another thread (the database's) registers a check here, so that a
    paced simulated clock does not move time on while that work is unfinished. Registering
    costs a dictionary entry; the checks run only when a paced clock looks for idleness.
    """

    def __init__(self) -> None:
        self._checks: dict[str, Busy] = {}

    def add(self, name: str, busy: Busy) -> None:
        """Register (or replace) the check called `name`."""
        self._checks[name] = busy

    def discard(self, name: str) -> None:
        """Forget the check called `name`, if registered."""
        self._checks.pop(name, None)

    def busy(self) -> list[str]:
        """The names of the checks that report work in flight."""
        return [name for name, check in tuple(self._checks.items()) if check()]


PACERS = Pacers()
"""The process's pacers: every paced clock consults them."""


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
    """Virtual time: still until moved, running `speed` times real time, or paced (see module).

    With `speed=0` time stands still until `advance` moves it, which makes a test fully
    deterministic. With `paced=True` time jumps from deadline to deadline whenever the
    simulation is idle, never faster than `speed` virtual seconds per real second on average
    since the start (`math.inf`: as fast as the machine goes). Otherwise (`speed>0`, not paced)
    virtual time runs on with real time, whether or not the simulation keeps up.
    """

    def __init__(self, start: datetime, *, speed: float = 0.0, paced: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        if speed < 0 or math.isnan(speed):
            raise ValueError("speed must not be negative")
        if paced and speed == 0:
            raise ValueError("a paced clock needs a speed ceiling above 0 (math.inf: none)")
        if math.isinf(speed) and not paced:
            raise ValueError("only a paced clock may run at an infinite speed")
        self._origin = start.astimezone(UTC)
        self._speed = speed
        self._paced = paced
        self._jumped_s = 0.0
        self._stepped_s = 0.0  # of _jumped_s, what `step` moved (the wall clock alone)
        self._paced_s = 0.0  # of the jumps, those the pacing made (held to the speed ceiling)
        self._real_origin = time.monotonic()
        self._sleepers: list[_Sleeper] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._check: asyncio.Handle | None = None
        self._check_is_soon = False
        self._idle_passes = 0
        self._held: set[asyncio.Task[object]] = set()
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._stopped = False

    @property
    def speed(self) -> float:
        """Virtual seconds per real second (for a paced clock, the ceiling)."""
        return self._speed

    @property
    def paced(self) -> bool:
        """Whether time moves only when the simulation is idle."""
        return self._paced

    def now(self) -> datetime:
        """The current virtual time, in UTC."""
        running = 0.0
        if not self._paced and self._speed:
            running = (time.monotonic() - self._real_origin) * self._speed
        return self._origin + timedelta(seconds=self._jumped_s + running)

    def monotonic(self) -> float:
        """Virtual seconds elapsed, steps left out: what a monotonic clock would read."""
        running = 0.0
        if not self._paced and self._speed:
            running = (time.monotonic() - self._real_origin) * self._speed
        return running + self._jumped_s - self._stepped_s

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once virtual time has reached `deadline`."""
        await self._sleep(deadline, relative=False)

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of virtual time (a duration, which a `step` does not change)."""
        await self._sleep(self.now() + timedelta(seconds=seconds), relative=True)

    def hold(self) -> None:
        """Keep a paced clock still while the calling task works outside the loop.

        For a task waiting on something the loop cannot see (a message on its way through a
        broker, a library's real-time back-off): the clock does not move until the task next
        waits on this clock, or ends. No effect on a clock that is not paced.
        """
        task = asyncio.current_task()
        if self._paced and task is not None:
            self._held.add(task)

    def stop(self) -> None:
        """Stop a paced clock for good: time no longer moves (`until_idle` still answers)."""
        self._stopped = True

    def release(self) -> None:
        """End the calling task's `hold`, if it has one."""
        self._release_current()

    async def until_idle(self) -> None:
        """Return once a paced clock would move time on; time does not move while anyone waits.

        Lets a test or the demo look at the simulation's state once everything started so far
        has finished. A clock that is not paced only lets other tasks run a little.
        """
        if not self._paced:
            await _let_others_run()
            return
        self._release_current()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle_waiters.append(future)
        self._poke()
        await future

    async def _sleep(self, deadline: datetime, *, relative: bool) -> None:
        self._release_current()
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

    def _jump_to(self, moment: datetime) -> float:
        gap = (moment - self.now()).total_seconds()
        if gap > 0:
            self._jumped_s += gap
            return gap
        return 0.0

    def _wake_due(self) -> None:
        now = self.now()
        while self._sleepers and self._sleepers[0].deadline <= now:
            sleeper = heapq.heappop(self._sleepers)
            if not sleeper.future.done():
                sleeper.future.set_result(None)
        self._arm()

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0].future.done():
            heapq.heappop(self._sleepers)

    def _arm(self) -> None:
        """Schedule the next wake-up: by pacing, or in real time for a running clock."""
        if self._paced:
            self._poke()
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._drop_cancelled()
        if self._speed == 0 or not self._sleepers:
            return
        delay = (self._sleepers[0].deadline - self.now()).total_seconds() / self._speed
        self._timer = asyncio.get_running_loop().call_later(max(delay, 0.0), self._wake_due)

    # -- pacing ---------------------------------------------------------------------------------

    def _release_current(self) -> None:
        task = asyncio.current_task()
        if task is not None and task in self._held:
            self._held.discard(task)
            self._poke()

    def _poke(self) -> None:
        """Look for idleness on the next loop pass (sooner than any look already planned)."""
        if self._check is not None:
            if self._check_is_soon:
                return
            self._check.cancel()
        self._check = asyncio.get_running_loop().call_soon(self._look)
        self._check_is_soon = True

    def _plan(self, delay: float | None) -> None:
        loop = asyncio.get_running_loop()
        if delay is None:
            self._check, self._check_is_soon = loop.call_soon(self._look), True
        else:
            self._check, self._check_is_soon = loop.call_later(delay, self._look), False

    def _busy(self) -> bool:
        """Whether anything but sleepers on this clock is left to run or in flight."""
        ready = getattr(asyncio.get_running_loop(), "_ready", None)
        if ready:  # CPython's queue of callbacks ready to run (this look itself is not in it)
            return True
        self._held = {task for task in self._held if not task.done()}
        return bool(self._held) or bool(PACERS.busy())

    def _look(self) -> None:
        """One look at the loop: move time to the next deadline if the simulation is idle."""
        self._check = None
        self._drop_cancelled()
        if not self._sleepers and not self._idle_waiters:
            return  # nothing waits on time; the next sleeper pokes again
        if self._busy():
            self._idle_passes = 0
            ready = getattr(asyncio.get_running_loop(), "_ready", None)
            self._plan(None if ready else _PACER_POLL_S)
            return
        self._idle_passes += 1
        if self._idle_passes < _IDLE_PASSES:
            self._plan(None)
            return
        self._idle_passes = 0
        if self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._plan(None)
            return
        if self._stopped:
            return
        gap = max((self._sleepers[0].deadline - self.now()).total_seconds(), 0.0)
        early_s = (self._paced_s + gap) / self._speed - (time.monotonic() - self._real_origin)
        if early_s > 0:
            self._plan(early_s)  # the speed ceiling: wait for real time to catch up
            return
        self._paced_s += self._jump_to(self._sleepers[0].deadline)
        self._wake_due()


async def _let_others_run(rounds: int = 5) -> None:
    """Yield to the event loop a few times so woken tasks reach their next await."""
    for _ in range(rounds):
        await asyncio.sleep(0)
