"""Polar models as they behave: settings asked first, each frame type, a refused start."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from devices.profiles import polar_pmd
from devices.readings import LinkState, Motion
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson
from simulators.radio import VirtualRadio
from simulators.wearables.polar import H10, VERITY_SENSE, PolarModel, PolarPeripheral
from tests.integration.ble.conftest import FAST, START, Recorder, make_link, running
from tests.integration.ble.test_profiles import wave

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("model", "rate"),
    [
        (VERITY_SENSE, 52.0),  # compressed type 0 (0x80), scaled by the start factor
        (H10, 50.0),  # delta frames in milli-g (0x81)
        (replace(H10, frame_type=polar_pmd.FRAME_RAW_16), 50.0),
    ],
    ids=["verity-0x80", "h10-0x81", "h10-0x01"],
)
async def test_each_model_streams_gravity_at_a_supported_rate(
    radio: VirtualRadio, clock: SimulatedClock, model: PolarModel, rate: float
) -> None:
    sensor = await radio.add_wearable(
        profile="polar_pmd", wearer=SimulatedPerson(), clock=clock, motion_source=wave
    )
    polar = sensor.as_(PolarPeripheral, sensor.peripheral)
    polar.model = model
    config = DeviceConfig("sense", "polar_pmd", address=sensor.address, motion_rate_hz=50)
    link = make_link(radio, clock, config, settings=replace(FAST, stream_silence_s=600))
    recorder = Recorder()
    async with running([link], recorder):
        await recorder.wait_for(lambda: len(recorder.of(Motion)) >= 5)
        assert polar.started is not None
        assert polar.started.rates == (int(rate),)
    frames = recorder.of(Motion)
    assert {m.rate_hz for m in frames} == {rate}
    for frame in frames:  # 1 g at rest on z, a 0.25 g sway on x: not 4 g
        assert all(abs(z - 1.0) < 2e-3 and abs(x) <= 0.252 for x, _y, z in frame.samples)


async def test_a_refused_start_is_said_once_shown_and_not_retried_every_30_s(
    radio: VirtualRadio, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 13: the old link ignored the refusal; the silent stream was dropped after 30 s and
    # the start sent again, for ever (about 20 connections in these 10 minutes).
    clock = SimulatedClock(START, speed=2000, paced=True)
    sensor = await radio.add_wearable(
        profile="polar_pmd", wearer=SimulatedPerson(), clock=clock, motion_source=wave
    )
    polar = sensor.as_(PolarPeripheral, sensor.peripheral)
    polar.refuse_start = 0x06  # e.g. already measuring for another app
    config = DeviceConfig("sense", "polar_pmd", address=sensor.address, motion_rate_hz=50)
    link = make_link(radio, clock, config)
    recorder = Recorder()
    async with running([link], recorder):
        await recorder.wait_for(lambda: any(s.problem for s in recorder.of(LinkState)))
        await clock.sleep_until(START + timedelta(minutes=10))
        await asyncio.sleep(0)
    problem = next(s.problem for s in recorder.of(LinkState) if s.problem)
    assert "refused START_MEASUREMENT" in (problem or "")
    assert "status 6" in (problem or "")
    assert sensor.connections == 1
    assert not recorder.of(Motion)
