"""A foot pod that goes silent when its wearer stops: the silence is not walking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.readings import StepCount
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from simulators.wearables.rsc import RscPeripheral
from tests.integration.ble.conftest import START, Recorder, make_link, running

pytestmark = pytest.mark.timeout(30)


async def test_a_pod_silent_while_its_wearer_stops(radio: VirtualRadio) -> None:
    # Issue 13: 60 s at 100 spm, a 12 s stop, 60 s at 100 spm: 200 steps (the old integrator
    # credited the silence at the cadence before it, about 220). A paced clock: notification
    # times are exact simulated times, however loaded the machine.
    clock = SimulatedClock(START, speed=1000, paced=True)
    first = Walk(START + timedelta(seconds=30), 1, cadence_spm=100)
    second = Walk(first.end + timedelta(seconds=12), 1, cadence_spm=100)
    person = SimulatedPerson([first, second])
    pod = await radio.add_wearable(profile="rsc", wearer=person, clock=clock, notify_interval_s=1)
    sim = pod.as_(RscPeripheral, pod.peripheral)
    sim.silent_when_still = True
    link = make_link(radio, clock, DeviceConfig("pod", "rsc", address=pod.address))
    recorder = Recorder()
    async with running([link], recorder):
        await pod.wait_subscribed()
        await clock.sleep_until(second.end + timedelta(seconds=10))
    assert person.steps_until(clock.now()) == 200
    steps = recorder.of(StepCount)
    # Within 2 % of the 200 walked: a cadence (whole steps/min) integrated over report times.
    assert steps[-1].total == pytest.approx(200, rel=0.02)
    assert sim.reports <= 125  # nothing while still
