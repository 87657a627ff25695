"""Watches in zones tzdata models oddly: they connect, and get the new zone at each change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.profiles.current_time import LocalTimeInfo
from devices.readings import StepCount
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson
from simulators.radio import VirtualRadio
from tests.integration.ble.conftest import Recorder, make_link, running

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("zone", "change", "before", "after"),
    [
        # Irish summer time begins: tzdata's negative winter DST (the old code raised in setup
        # and retried for ever) becomes +1 h standard.
        ("Europe/Dublin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 0, 4),
        # Lord Howe Island's half-hour DST ends: +11:00 -> +10:30.
        ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC), 44, 42),
    ],
)
async def test_the_watch_zone_is_rewritten_at_the_zone_change(
    radio: VirtualRadio, zone: str, change: datetime, before: int, after: int
) -> None:
    clock = SimulatedClock(change - timedelta(minutes=3), speed=100, paced=True)
    watch = await radio.add_wearable(
        profile="infinitime", wearer=SimulatedPerson([]), clock=clock, notify_interval_s=2.0
    )
    link = make_link(
        radio, clock, DeviceConfig("watch", "infinitime", name=watch.name), zone=ZoneInfo(zone)
    )
    recorder = Recorder()
    quarter = timedelta(minutes=15)
    async with running([link], recorder):
        await recorder.wait_for(lambda: bool(recorder.of(StepCount)))  # set up, read
        assert watch.zone.utc_offset == before * quarter
        await clock.sleep_until(change + timedelta(seconds=5))
        async with asyncio.timeout(10):  # real seconds
            while watch.zone.utc_offset != after * quarter:
                await clock.sleep(1)
        # Rewritten at the change, not at the 6-hourly resync.
        assert clock.now() < change + timedelta(minutes=1)
    assert isinstance(watch.zone, LocalTimeInfo)
