"""The simulated clock: still until moved, wakes sleepers in order; running at a speed; paced."""

from __future__ import annotations

import asyncio
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

from monitor.clock import PACERS, SimulatedClock, SystemClock

T0 = datetime(2026, 11, 24, 8, tzinfo=UTC)


async def test_a_still_clock_wakes_sleepers_in_deadline_order_as_it_advances() -> None:
    clock = SimulatedClock(T0)
    woken: list[tuple[str, datetime]] = []

    async def sleeper(name: str, minutes: int) -> None:
        await clock.sleep_until(T0 + timedelta(minutes=minutes))
        woken.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, m)) for n, m in (("c", 30), ("a", 10), ("b", 20))]
    await asyncio.sleep(0)
    assert clock.now() == T0
    await clock.advance(25 * 60)
    assert woken == [("a", T0 + timedelta(minutes=10)), ("b", T0 + timedelta(minutes=20))]
    assert clock.now() == T0 + timedelta(minutes=25)
    await clock.advance_to(T0 + timedelta(hours=1))
    assert [name for name, _ in woken] == ["a", "b", "c"]
    await asyncio.gather(*tasks)


async def test_a_running_clock_wakes_a_sleeper_once_its_time_has_come() -> None:
    clock = SimulatedClock(T0, speed=36_000)  # an hour in 0.1 s (no test asserts on speed)
    await clock.sleep(3600)
    assert clock.now() >= T0 + timedelta(hours=1)


async def test_a_paced_clock_jumps_from_deadline_to_deadline_exactly() -> None:
    clock = SimulatedClock(T0, speed=math.inf, paced=True)
    seen: list[datetime] = []

    async def ticker() -> None:
        for _ in range(3):
            await clock.sleep(90.5)
            seen.append(clock.now())

    await asyncio.wait_for(ticker(), 10)
    assert seen == [T0 + timedelta(seconds=90.5 * n) for n in (1, 2, 3)]


async def test_a_paced_clock_waits_for_work_in_a_thread_and_for_a_held_task() -> None:
    # The issue-16 class of bug: simulated time ran on while a database thread or a broker
    # was still busy, so what they did landed at a later simulated moment on a slower machine.
    clock = SimulatedClock(T0, speed=math.inf, paced=True)
    in_thread = threading.Event()
    PACERS.add("test thread", lambda: not in_thread.is_set())
    sleeper = asyncio.create_task(clock.sleep(3600))
    try:
        started = asyncio.get_running_loop().run_in_executor(None, in_thread.wait, 0.2)
        # Real time passes; simulated time must not (a broken pacer moves it within two loop
        # passes, far less than this).
        await asyncio.sleep(0.05)
        assert clock.now() == T0
        assert not sleeper.done()
        in_thread.set()
        await started
    finally:
        PACERS.discard("test thread")
    await asyncio.wait_for(sleeper, 10)
    assert clock.now() == T0 + timedelta(hours=1)

    clock.hold()  # this task is busy outside the loop, say a message on its way
    later = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(0.05)
    assert clock.now() == T0 + timedelta(hours=1)
    assert not later.done()
    clock.release()
    await asyncio.wait_for(later, 10)
    assert clock.now() == T0 + timedelta(hours=1, minutes=1)


async def test_a_paced_clock_lets_a_task_look_once_idle_and_keeps_to_its_ceiling() -> None:
    clock = SimulatedClock(T0, speed=3600.0, paced=True)  # at most an hour a second
    loop = asyncio.get_running_loop()
    began = loop.time()
    woken: list[datetime] = []

    async def sleeper() -> None:
        await clock.sleep(360)
        woken.append(clock.now())

    task = asyncio.create_task(sleeper())
    await clock.until_idle()
    assert woken == []
    assert clock.now() == T0
    await asyncio.wait_for(task, 10)
    assert woken == [T0 + timedelta(minutes=6)]
    # A ceiling, not a promise: never ahead of real time times the speed.
    assert (clock.now() - T0).total_seconds() <= (loop.time() - began) * 3600.0 + 1e-6
    clock.stop()
    stopped = asyncio.create_task(clock.sleep(1))
    await clock.until_idle()
    assert not stopped.done()
    assert clock.now() == T0 + timedelta(minutes=6)
    stopped.cancel()


def test_a_paced_clock_needs_a_ceiling_and_only_a_paced_one_may_be_infinite() -> None:
    with pytest.raises(ValueError, match="ceiling"):
        SimulatedClock(T0, paced=True)
    with pytest.raises(ValueError, match="infinite"):
        SimulatedClock(T0, speed=math.inf)


async def test_sleeping_into_the_past_returns_at_once() -> None:
    clock = SimulatedClock(T0)
    await asyncio.wait_for(clock.sleep_until(T0 - timedelta(days=1)), 1.0)


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = SimulatedClock(T0)
    task = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.advance(120)  # nothing left to wake, nothing raised


def test_the_clocks_refuse_naive_starts_and_tell_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the mistake under test
    assert SystemClock().now().tzinfo is UTC


async def test_a_step_moves_waits_for_a_moment_but_not_sleeps_for_a_duration() -> None:
    clock = SimulatedClock(T0)
    woken: list[str] = []

    async def until_nine() -> None:
        await clock.sleep_until(T0 + timedelta(hours=1))
        woken.append("until 09:00")

    async def ten_minutes() -> None:
        await clock.sleep(600)
        woken.append("10 minutes")

    tasks = [asyncio.create_task(until_nine()), asyncio.create_task(ten_minutes())]
    await asyncio.sleep(0)
    await clock.step(-3600)  # the wall clock goes back an hour: 07:00
    await clock.advance(600)
    assert woken == ["10 minutes"]  # a duration is a duration
    await clock.step(2 * 3600)  # and forward two hours: 09:10, past 09:00
    assert woken == ["10 minutes", "until 09:00"]
    await asyncio.gather(*tasks)
