"""Clock steps on the simulated clock (issue 11, case 6): +1 h, +180 days, -1 h, -180 days.

The real service, a real broker and SQLite file; the simulated clock stands still (speed 0)
except when the test advances or steps it, so every state below is waited for, not timed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.clock import SimulatedClock
from monitor.days import at_local
from monitor.service.app import App
from monitor.service.scheduler import CONFIRM_STEP_S
from tests.conftest import ConfigFactory
from tests.probe import running

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)  # plan day 1
DAY_S = 24 * 3600.0


def local(hour: int, minute: int = 0) -> datetime:
    return at_local(MONDAY, time(hour, minute), LONDON)


async def until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - waiting on the service's store
            await asyncio.sleep(0.02)


async def days_judged(app: App) -> list[date]:
    assert app.store is not None
    return [r.day for r in await app.store.day_results("p1")]


async def held(app: App) -> bool:
    assert app.scheduler is not None
    return app.scheduler.held


async def judged_until(app: App, moment: datetime) -> None:
    assert app.store is not None
    store = app.store

    async def done() -> bool:
        cursor = await store.schedule_done_until("p1")
        return cursor is not None and cursor >= moment

    await until(done)


def clock_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "clock" in r.getMessage()]


async def test_180_days_ahead_for_a_moment_then_corrected_judges_nothing(
    make_config: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SimulatedClock(local(20, 30), speed=0)
    caplog.set_level(logging.INFO)
    async with running(make_config(), clock) as app:
        await judged_until(app, local(20, 30))  # the timetable has started
        await clock.advance(60)
        await clock.step(180 * DAY_S)  # a bad NTP answer
        await until(lambda: held(app))
        await clock.advance(15)
        await clock.step(-180 * DAY_S)  # corrected at the next poll
        await clock.advance(CONFIRM_STEP_S)
        await until(lambda: _not(held(app)))
        assert await days_judged(app) == []
        await clock.advance_to(local(21, 5))
        await judged_until(app, local(21))
        assert await days_judged(app) == [MONDAY]
        assert app.store is not None
        assert [a.event_type for a in await app.store.alerts("p1", held_back=True)] == [
            "target_missed"
        ]
    lines = clock_lines(caplog)
    assert any("stepped forward by 180 days" in line for line in lines)
    assert any("the clock came back" in line for line in lines)


async def test_an_hour_ahead_that_holds_is_judged_once_confirmed(
    make_config: ConfigFactory,
) -> None:
    clock = SimulatedClock(local(20, 30), speed=0)
    async with running(make_config(), clock) as app:
        await judged_until(app, local(20, 30))  # the timetable has started
        await clock.advance(60)
        await clock.step(3600)  # 21:31, past the day's close
        await until(lambda: held(app))
        assert await days_judged(app) == [], "nothing judged on an unconfirmed step"
        await clock.advance(CONFIRM_STEP_S)
        await judged_until(app, local(21))
        assert await days_judged(app) == [MONDAY]


@pytest.mark.parametrize("back_s", [3600.0, 180 * DAY_S])
async def test_a_step_back_that_holds_withdraws_days_judged_in_the_future(
    make_config: ConfigFactory, caplog: pytest.LogCaptureFixture, back_s: float
) -> None:
    clock = SimulatedClock(local(20, 30), speed=0)
    caplog.set_level(logging.INFO)
    async with running(make_config(), clock) as app:
        assert app.store is not None
        await clock.advance_to(local(21, 30))
        await judged_until(app, local(21))
        assert await days_judged(app) == [MONDAY]
        await clock.step(-back_s)
        await clock.advance(2 * 30)  # the clock is looked at every 30 s
        await until(lambda: held(app))
        await clock.advance(CONFIRM_STEP_S)
        await until(lambda: _not(held(app)))

        async def withdrawn() -> bool:
            return await days_judged(app) == []

        await until(withdrawn)
        cursor = await app.store.schedule_done_until("p1")
        assert cursor is not None
        assert cursor <= clock.now()
        assert cursor >= clock.now() - timedelta(seconds=CONFIRM_STEP_S + 120)
        if back_s == 3600.0:
            # 20:52 again: the day closes at 21:00 once more, and is judged once more.
            await clock.advance_to(local(21, 5))
            await judged_until(app, local(21))
            assert await days_judged(app) == [MONDAY]
    assert any("judged in the future withdrawn" in line for line in caplog.messages)


async def _not(value: Awaitable[bool]) -> bool:
    return not await value
