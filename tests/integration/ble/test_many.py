"""Several wearables of several people at once, one flapping; and links stop when cancelled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from devices.ble import LinkPhase
from devices.readings import LinkState, StepCount
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from tests.integration.ble.conftest import START, Recorder, counted_steps, make_link, running

pytestmark = pytest.mark.timeout(30)


async def test_three_wearables_two_people_one_flapping(radio: VirtualRadio) -> None:
    # Half the usual speed: three links share the event loop, and the counter logic's
    # plausibility check must not see loop lag (times the speed) as steps bunched together.
    clock = SimulatedClock(START, speed=500, paced=True)
    anna = SimulatedPerson([Walk(START + timedelta(minutes=4), 15)])
    ben = SimulatedPerson([Walk(START + timedelta(minutes=5), 10, cadence_spm=110)])
    watch = await radio.add_wearable(profile="infinitime", wearer=anna, clock=clock)
    thingy = await radio.add_wearable(profile="thingy52", wearer=anna, clock=clock)
    ben_watch = await radio.add_wearable(profile="infinitime", wearer=ben, clock=clock)
    links = [
        make_link(radio, clock, DeviceConfig("anna-watch", "infinitime", address=watch.address)),
        make_link(radio, clock, DeviceConfig("anna-thingy", "thingy52", address=thingy.address)),
        make_link(
            radio,
            clock,
            DeviceConfig("ben-watch", "infinitime", address=ben_watch.address),
            person="ben",
        ),
    ]
    recorder = Recorder()
    async with running(links, recorder):
        for wearable in (watch, thingy, ben_watch):
            await wearable.wait_subscribed()
        # Every link is set up before anyone walks (setting up is the busiest part).
        assert clock.now() < START + timedelta(minutes=4)
        # The Thingy loses its link every 80 simulated seconds for ten minutes.
        while clock.now() < START + timedelta(minutes=14):
            await clock.sleep(80)
            await thingy.vanish()
        await clock.sleep_until(START + timedelta(minutes=22))
        await recorder.wait_for_count("anna-watch", lambda: watch.count)
        await recorder.wait_for_count("anna-thingy", lambda: thingy.count)
        await recorder.wait_for_count("ben-watch", lambda: ben_watch.count)

    assert {r.person for r in recorder.readings if r.device.startswith("anna")} == {"p1"}
    assert {r.person for r in recorder.readings if r.device == "ben-watch"} == {"ben"}
    assert recorder.states("anna-watch") == [True, False]
    assert recorder.states("ben-watch") == [True, False]
    flaps = recorder.states("anna-thingy")
    assert flaps.count(True) >= 7
    assert flaps == [True, False] * flaps.count(True)
    assert counted_steps(recorder.readings, "anna-watch") == 1500
    assert counted_steps(recorder.readings, "ben-watch") == 1100
    first = recorder.of(StepCount, "anna-thingy")[0].total  # a power-on counter's baseline
    assert counted_steps(recorder.readings, "anna-thingy") == 1500 - first


async def test_cancelled_while_searching_stops_at_once(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    link = make_link(radio, clock, DeviceConfig("ghost", "infinitime", address="C0:FF:EE:00:00:01"))
    recorder = Recorder()
    task = asyncio.create_task(link.run(recorder))
    await clock.until_idle()  # the link has started and is waiting for an advertisement
    searching = link.phase
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (searching, link.phase) == (LinkPhase.SEARCHING, LinkPhase.IDLE)
    assert recorder.readings == []


async def test_cancelled_while_connected_reports_the_stop(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    watch = await radio.add_wearable(profile="infinitime", wearer=SimulatedPerson(), clock=clock)
    link = make_link(radio, clock, DeviceConfig("watch", "infinitime", address=watch.address))
    recorder = Recorder()
    task = asyncio.create_task(link.run(recorder))
    await watch.wait_subscribed()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.of(LinkState) == [LinkState(True, "connected"), LinkState(False, "stopped")]
    assert not watch.connected


async def test_an_incompatible_wearable_backs_off_for_long(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    # A heart rate strap configured as a Thingy: it has no pedometer.
    strap = await radio.add_wearable(profile="heart_rate", wearer=SimulatedPerson(), clock=clock)
    link = make_link(radio, clock, DeviceConfig("oops", "thingy52", address=strap.address))
    recorder = Recorder()
    async with running([link], recorder):
        # Up, down, and (issue 13) the problem with what to do, for the device's state.
        await recorder.wait_for(lambda: len(recorder.of(LinkState)) == 3)
        await clock.until_idle()
        assert link.phase is LinkPhase.BACKING_OFF
    reason = recorder.of(LinkState)[1].reason
    assert "profile 'thingy52'" in reason
    problem = recorder.of(LinkState)[2].problem
    assert problem is not None
    assert "profile 'thingy52'" in problem
    assert strap.connections == 1
