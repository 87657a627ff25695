"""The simulated clock: still until moved, wakes sleepers in order; or running at a speed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from monitor.clock import SimulatedClock, SystemClock

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


async def test_a_running_clock_passes_a_simulated_hour_in_a_fraction_of_a_second() -> None:
    clock = SimulatedClock(T0, speed=36_000)  # an hour in 0.1 s
    loop = asyncio.get_running_loop()
    began = loop.time()
    await clock.sleep(3600)
    assert clock.now() >= T0 + timedelta(hours=1)
    assert loop.time() - began < 1.0


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
