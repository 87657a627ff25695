"""A Thingy:52 keeps each motion-config write in flash: the link writes only what differs."""

from __future__ import annotations

import pytest

from devices.profiles import thingy52
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson
from simulators.radio import VirtualRadio
from simulators.wearables.thingy52 import Thingy52Peripheral
from tests.integration.ble.conftest import Recorder, make_link, running

pytestmark = pytest.mark.timeout(30)


async def test_motion_config_is_written_only_when_it_differs(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    thingy = await radio.add_wearable(profile="thingy52", wearer=SimulatedPerson(), clock=clock)
    sim = thingy.as_(Thingy52Peripheral, thingy.peripheral)
    link = make_link(
        radio, clock, DeviceConfig("thingy", "thingy52", name="Thingy", motion_rate_hz=25)
    )
    recorder = Recorder()
    async with running([link], recorder):
        await thingy.wait_subscribed()
        assert sim.config_writes == 1  # the default 50 Hz became 25 Hz
        for _ in range(2):
            before = thingy.connections
            await thingy.vanish()
            await recorder.wait_for(lambda: thingy.connections > before and thingy.connected)  # noqa: B023
            await thingy.wait_subscribed()
        # Issue 13: the old link wrote the same configuration on every connect (3 writes).
        assert sim.config_writes == 1
        assert thingy.motion_config.motion_frequency_hz == 25
        await thingy.reboot()  # back to the defaults: written again
        await recorder.wait_for(lambda: thingy.connections == 4 and thingy.connected, 20)
        await thingy.wait_subscribed()
        assert sim.config_writes == 2
        assert thingy.motion_config.pedometer_interval_ms == thingy52.PEDOMETER_INTERVAL_MS
