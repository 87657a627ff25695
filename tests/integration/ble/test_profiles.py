"""Each profile end to end: production BleLink -> bleak -> virtual radio -> simulated wearable."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.profiles import thingy52
from devices.readings import (
    Battery,
    CounterEpoch,
    HeartRate,
    LinkState,
    Motion,
    RunningCadence,
    StepCount,
)
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from tests.integration.ble.conftest import FAST, START, Recorder, make_link, running

pytestmark = pytest.mark.timeout(30)

BERLIN = ZoneInfo("Europe/Berlin")


def wave(start: datetime, rate_hz: float, count: int) -> Sequence[tuple[float, float, float]]:
    """A motion source: a 1 Hz sway on x on top of gravity, a pure function of time."""
    t0 = start.timestamp()
    return [(0.25 * math.sin(2 * math.pi * (t0 + i / rate_hz)), 0.0, 1.0) for i in range(count)]


async def test_infinitime_sets_clock_and_reports_steps_battery_motion(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    person = SimulatedPerson([Walk(START + timedelta(minutes=2), 10)])
    watch = await radio.add_wearable(
        profile="infinitime", wearer=person, clock=clock, motion_source=wave, battery=77
    )
    config = DeviceConfig("watch", "infinitime", address=watch.address, motion_rate_hz=10)
    link = make_link(radio, clock, config, zone=BERLIN)
    recorder = Recorder()
    async with running([link], recorder):
        await recorder.wait_for(lambda: bool(recorder.of(Battery)))
        # The watch now keeps Berlin time: its midnight is the service's.
        assert watch.zone.utc_offset == timedelta(hours=1)
        assert abs(watch.clock_error) < timedelta(seconds=3)  # set ahead, less the latency
        berlin_midnight = datetime(2026, 11, 21, tzinfo=BERLIN)
        watch_midnight = watch.watch_midnight_after(clock.now())
        assert abs(berlin_midnight - watch_midnight) < timedelta(seconds=3)
        assert recorder.of(Battery) == [Battery(77)]
        assert recorder.of(StepCount)[0] == StepCount(0, CounterEpoch.LOCAL_DAY)
        await clock.sleep_until(START + timedelta(minutes=13))
        await recorder.wait_for_count("watch", lambda: watch.count)
        assert recorder.of(StepCount)[-1].total == person.steps_until(clock.now()) == 1000
        totals = [s.total for s in recorder.of(StepCount)]
        assert totals == sorted(totals)  # one day, so the counter only grows
        motion = recorder.of(Motion)
        assert motion
        assert all(m.rate_hz == 10.0 and len(m.samples) == 1 for m in motion)
        assert all(
            abs(m.samples[0][2] - 1.0) < 1e-3 and abs(m.samples[0][0]) <= 0.25 for m in motion
        )
        await watch.set_battery(12)
        await recorder.wait_for(lambda: recorder.of(Battery)[-1] == Battery(12))
    assert recorder.states() == [True, False]
    assert recorder.of(LinkState)[-1].reason == "stopped"


async def test_thingy_configures_motion_and_reports_pedometer_and_raw(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    person = SimulatedPerson([Walk(START + timedelta(minutes=1), 5, cadence_spm=110)])
    thingy = await radio.add_wearable(
        profile="thingy52", wearer=person, clock=clock, motion_source=wave, motion_period_s=0.5
    )
    config = DeviceConfig("thingy", "thingy52", name="Thingy", motion_rate_hz=25)
    # At 1000x a few milliseconds of event-loop lag are tens of simulated seconds of silence;
    # the stream watchdog is for real stalls, tested elsewhere.
    link = make_link(radio, clock, config, settings=replace(FAST, stream_silence_s=600))
    recorder = Recorder()
    async with running([link], recorder):
        await thingy.wait_subscribed(thingy52.RAW)
        assert thingy.motion_config.motion_frequency_hz == 25
        assert thingy.motion_config.pedometer_interval_ms == thingy52.PEDOMETER_INTERVAL_MS
        await clock.sleep_until(START + timedelta(minutes=7))
        await recorder.wait_for_count("thingy", lambda: thingy.count)
        last = recorder.of(StepCount)[-1]
        assert last == StepCount(550, CounterEpoch.POWER_ON, walking_ms=550 * 600)
        motion = recorder.of(Motion)
        assert len(motion) > 10
        assert {m.rate_hz for m in motion} == {25.0}
        assert all(abs(m.samples[0][2] - 1.0) < 1e-3 for m in motion)


async def test_foot_pod_cadence_is_integrated_into_steps(radio: VirtualRadio) -> None:
    # Slower than the other tests: a foot pod's steps are only as good as the notification
    # times, and at 1000x a few milliseconds of event-loop lag are seconds of walking (at 200x a
    # loaded CI machine was seen to lag enough to miss the 3 % below).
    clock = SimulatedClock(START, speed=100, paced=True)
    walk = Walk(START + timedelta(minutes=1), 3, cadence_spm=120)
    person = SimulatedPerson([walk])
    pod = await radio.add_wearable(profile="rsc", wearer=person, clock=clock, notify_interval_s=2.0)
    link = make_link(radio, clock, DeviceConfig("pod", "rsc", address=pod.address))
    recorder = Recorder()
    async with running([link], recorder):
        await pod.wait_subscribed()
        assert clock.now() < walk.start  # cadence before the first report is not integrated
        await clock.sleep_until(START + timedelta(minutes=5))
        await recorder.wait_for(lambda: recorder.of(RunningCadence)[-1].cadence_spm == 0)
    cadences = [c.cadence_spm for c in recorder.of(RunningCadence)]
    assert max(cadences) == 120
    walking = [c for c in recorder.of(RunningCadence) if c.cadence_spm]
    assert all(not c.running and c.stride_m == 0.7 for c in walking)
    steps = recorder.of(StepCount)
    assert all(s.epoch is CounterEpoch.POWER_ON for s in steps)
    # Integration is only as exact as the notification times: within 3 % of the 360 walked.
    assert steps[-1].total == pytest.approx(360, rel=0.03)


async def test_heart_rate_sensor(radio: VirtualRadio, clock: SimulatedClock) -> None:
    person = SimulatedPerson([Walk(START + timedelta(minutes=3), 5)])
    strap = await radio.add_wearable(profile="heart_rate", wearer=person, clock=clock)
    link = make_link(radio, clock, DeviceConfig("strap", "heart_rate", name=strap.name))
    recorder = Recorder()
    async with running([link], recorder):
        await recorder.wait_for(lambda: any(h.bpm == 96 for h in recorder.of(HeartRate)))
    rates = recorder.of(HeartRate)
    assert rates[0].bpm == 68
    assert all(h.contact is True and len(h.rr_ms) == 1 for h in rates)
    assert recorder.of(Battery) == [Battery(90)]


async def test_polar_streams_accelerometer_frames_once_started(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    person = SimulatedPerson([Walk(START + timedelta(minutes=2), 5)])
    strap = await radio.add_wearable(
        profile="polar_pmd", wearer=person, clock=clock, motion_source=wave
    )
    config = DeviceConfig("h10", "polar_pmd", address=strap.address, motion_rate_hz=50)
    link = make_link(radio, clock, config, settings=replace(FAST, stream_silence_s=600))
    recorder = Recorder()
    async with running([link], recorder):
        await recorder.wait_for(lambda: len(recorder.of(Motion)) >= 5)
        await recorder.wait_for(lambda: any(h.bpm == 96 for h in recorder.of(HeartRate)))
        # The strap stops measuring when the link drops; the link starts it again.
        await strap.vanish()
        before = len(recorder.of(Motion))
        await recorder.wait_for(lambda: len(recorder.of(Motion)) >= before + 5)
    assert recorder.states() == [True, False, True, False]
    frames = recorder.of(Motion)
    assert {m.rate_hz for m in frames} == {50.0}
    assert all(len(m.samples) == 10 for m in frames)  # 0.2 s of samples per frame
    for frame in frames:
        assert all(abs(z - 1.0) < 1e-3 and abs(x) <= 0.2505 for x, _y, z in frame.samples)
    assert set(recorder.of(Battery)) == {Battery(90)}  # read at each connect
