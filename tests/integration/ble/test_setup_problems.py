"""Link setup that fails for other than the radio: said once, shown on the state, retried seldom."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo

import pytest

from devices.readings import LinkState
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson
from simulators.radio import VirtualRadio
from tests.integration.ble.conftest import START, Recorder, make_link, running

pytestmark = pytest.mark.timeout(60)


class BrokenZone(tzinfo):
    """A zone whose offsets raise, as tzdata's negative DST made the old Local Time code raise."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise ValueError("DST offset -1 day, 23:00:00 has no Local Time Information code")

    def dst(self, dt: datetime | None) -> timedelta:
        raise ValueError("no DST")

    def tzname(self, dt: datetime | None) -> str:
        return "broken"


async def test_a_setup_bug_is_logged_once_shown_and_retried_hourly(
    radio: VirtualRadio, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 13: the old link took the ValueError for a radio failure and reconnected every
    # 5 minutes for ever (about 30 attempts in these 2.5 hours), 0 steps a day.
    clock = SimulatedClock(START, speed=5000, paced=True)
    watch = await radio.add_wearable(
        profile="infinitime", wearer=SimulatedPerson([]), clock=clock, notify_interval_s=2.0
    )
    link = make_link(radio, clock, DeviceConfig("watch", "infinitime", name=watch.name))
    link._zone = BrokenZone()  # stands for any bug inside setup
    recorder = Recorder()
    caplog.set_level(logging.DEBUG, logger="devices.ble")
    async with running([link], recorder):
        await recorder.wait_for(lambda: any(s.problem for s in recorder.of(LinkState)), within_s=20)
        await clock.sleep_until(START + timedelta(hours=2, minutes=30))
    problems = [s for s in recorder.of(LinkState) if s.problem]
    assert "not a radio problem" in (problems[0].problem or "")
    assert "time zone" in (problems[0].problem or "")
    assert 2 <= watch.connections <= 4  # at 0, about 1 h and about 2 h (+-20 % jitter)
    warnings = [
        r for r in caplog.records if r.levelno >= logging.WARNING and "watch" in r.msg % r.args
    ]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
