"""A PineTime's counter resets at its local midnight, which the link makes the service's."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.readings import StepCount
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from simulators.wearables.infinitime import InfiniTimePeripheral
from tests.integration.ble.conftest import Recorder, credited_spans, make_link, running

pytestmark = pytest.mark.timeout(30)

BERLIN = ZoneInfo("Europe/Berlin")
MIDNIGHT = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # 00:00 in Berlin


async def test_watch_counter_restarts_at_the_services_midnight(radio: VirtualRadio) -> None:
    # Slower than the other tests: the watch's clock is set within a second, and at 1000x a
    # millisecond of radio latency is already a simulated second.
    clock = SimulatedClock(MIDNIGHT - timedelta(minutes=2), speed=100, paced=True)
    walk = Walk(MIDNIGHT - timedelta(seconds=80), 2.5)  # 250 steps, 22:58:40-23:01:10
    person = SimulatedPerson([walk])
    watch = await radio.add_wearable(
        profile="infinitime", wearer=person, clock=clock, notify_interval_s=2.0
    )
    link = make_link(
        radio, clock, DeviceConfig("watch", "infinitime", name=watch.name), zone=BERLIN
    )
    recorder = Recorder()
    async with running([link], recorder):
        await clock.sleep_until(MIDNIGHT + timedelta(seconds=90))
        await recorder.wait_for_count("watch", lambda: watch.count)

    steps = recorder.of(StepCount)
    drops = [(a.total, b.total) for a, b in itertools.pairwise(steps) if b.total < a.total]
    assert len(drops) == 1
    last_of_day, first_of_day = drops[0]
    # The watch is set up to two seconds ahead, so it closes its day slightly early.
    assert person.steps_until(MIDNIGHT - timedelta(seconds=2)) <= last_of_day
    assert last_of_day <= person.steps_until(MIDNIGHT)
    assert first_of_day == 0  # it notifies the 0
    assert watch.count == person.steps_until(clock.now()) - last_of_day

    # The device split its day exactly: what it notified as the old day's last value plus the
    # new day's count is everything walked.
    assert last_of_day + steps[-1].total == 250

    # Through the service's counter logic: every step of the old day is credited to it, and
    # none twice, although the watch (up to two seconds ahead) began its new day just before
    # ours: a counter seen resetting just before midnight has already begun the new day.
    spans = credited_spans(recorder.readings, "watch", BERLIN)
    before = sum(s.steps for s in spans if s.end <= MIDNIGHT)
    assert before >= last_of_day
    assert sum(s.steps for s in spans) == 250


async def test_a_watch_that_resets_late_gives_each_day_what_was_walked_on_it(
    radio: VirtualRadio,
) -> None:
    # Issue 13: the watch's counter resets 30 minutes after its midnight (asleep, or slow to
    # notice the day), so from our midnight it goes on from yesterday's count. 300 steps before
    # midnight, 200 at 00:10 (still yesterday's count on the watch), 300 after its reset.
    # The old logic took the count seen after midnight for today's: 800 instead of 500.
    clock = SimulatedClock(MIDNIGHT - timedelta(minutes=10), speed=1000, paced=True)
    walks = [
        Walk(MIDNIGHT - timedelta(minutes=8), 3),
        Walk(MIDNIGHT + timedelta(minutes=10), 2),
        Walk(MIDNIGHT + timedelta(minutes=40), 3),
    ]
    person = SimulatedPerson(walks)
    watch = await radio.add_wearable(
        profile="infinitime", wearer=person, clock=clock, notify_interval_s=5.0
    )
    watch.as_(InfiniTimePeripheral, watch.peripheral).reset_delay = timedelta(minutes=30)
    link = make_link(
        radio, clock, DeviceConfig("watch", "infinitime", name=watch.name), zone=BERLIN
    )
    recorder = Recorder()
    async with running([link], recorder):
        await clock.sleep_until(MIDNIGHT + timedelta(minutes=50))
        await recorder.wait_for_count("watch", lambda: watch.count)
    totals = [s.total for s in recorder.of(StepCount)]
    assert 500 in totals  # yesterday's count went on past our midnight
    assert totals[-1] == 300
    spans = credited_spans(recorder.readings, "watch", BERLIN)
    assert sum(s.steps for s in spans if s.end <= MIDNIGHT) == 300
    assert sum(s.steps for s in spans if s.start >= MIDNIGHT) == 500
