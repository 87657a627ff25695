"""Two simulated days of two wearables on the virtual radio: walks, a half-hour absence, reboots,
idle hours checked by the watchdog, clock resyncs; every day's total exact per day.

At 40,000 times real time a millisecond of event-loop lag moves a reading by 40 simulated
seconds, which the service's plausibility checks would rightly distrust; so this test checks
exactness on the readings themselves (increases, plus the value after each reset).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.ble import LinkSettings
from devices.readings import Reading, StepCount
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from monitor.days import day_bounds
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from tests.integration.ble.conftest import Recorder, make_link, running

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 11, 23, 7, tzinfo=UTC)
DAYS = 2


def steps_by_reading(readings: list[Reading], device: str) -> list[tuple[datetime, int]]:
    """Steps each StepCount adds: its increase, or all of it after a reset (a decrease).

    Both wearables were switched on at START with a count of 0.
    """
    added = []
    previous = 0
    for reading in readings:
        if reading.device == device and isinstance(reading.value, StepCount):
            total = reading.value.total
            added.append((reading.received_at, total - previous if total >= previous else total))
            previous = total
    return added


async def test_two_days_with_faults_count_every_step_on_its_day(radio: VirtualRadio) -> None:
    walks = [
        Walk(START.replace(hour=hour) + timedelta(days=day), 20)
        for day in range(DAYS)
        for hour in (8, 12, 17)
    ]
    person = SimulatedPerson(walks)
    clock = SimulatedClock(START, speed=40_000, paced=True)  # two days in about four seconds
    watch = await radio.add_wearable(profile="infinitime", wearer=person, clock=clock)
    thingy = await radio.add_wearable(profile="thingy52", wearer=person, clock=clock)
    settings = LinkSettings(gatt_timeout_s=1.0)  # production defaults otherwise
    links = [
        make_link(
            radio,
            clock,
            DeviceConfig("watch", "infinitime", address=watch.address),
            zone=LONDON,
            settings=settings,
        ),
        make_link(
            radio,
            clock,
            DeviceConfig("thingy", "thingy52", address=thingy.address),
            zone=LONDON,
            settings=settings,
        ),
    ]
    recorder = Recorder()
    async with running(links, recorder):
        await clock.sleep_until(START.replace(hour=12, minute=5))
        await watch.out_of_range(1800)  # half an hour away, mid-walk
        await thingy.reboot()
        await clock.sleep_until(START.replace(hour=17, minute=10) + timedelta(days=1))
        await watch.reboot()
        await clock.sleep_until(START + timedelta(days=DAYS))
        await recorder.wait_for_count("watch", lambda: watch.count)

    for device in ("watch", "thingy"):
        added = steps_by_reading(recorder.readings, device)
        for day in range(DAYS):
            begin, end = day_bounds((START + timedelta(days=day)).date(), LONDON)
            credited = sum(steps for at, steps in added if begin <= at < end)
            walked = person.steps_until(end) - person.steps_until(begin)
            assert walked == 6000
            assert credited == walked, (device, day)
    assert watch.reboots == 1
    assert thingy.reboots == 1
    # Connected again after each fault (and perhaps once more if a loaded machine made the
    # watchdog give up on a slow answer), never stuck.
    assert recorder.states("watch").count(True) >= 3
    assert recorder.states("thingy").count(True) >= 2
    assert recorder.states("watch")[-2:] == [True, False]
