"""Wearables that reboot, vanish, leave, hang or refuse come back without a restart, and the
day's step total stays exact through the service's own counter logic."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from devices.ble import LinkPhase, LinkSettings
from devices.readings import Battery, CounterEpoch, LinkState, StepCount
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from simulators.wearables import SimulatedWearable
from tests.integration.ble.conftest import FAST, START, Recorder, counted_steps, make_link, running

pytestmark = pytest.mark.timeout(30)

Fault = Callable[[SimulatedWearable], Awaitable[None]]
WALK = Walk(START + timedelta(minutes=2), 20)  # 2000 steps, 08:02-08:22
FAULT_AT = START + timedelta(minutes=6)
END = START + timedelta(minutes=25)


@dataclass
class Outcome:
    recorder: Recorder
    wearable: SimulatedWearable
    person: SimulatedPerson

    @property
    def steps(self) -> list[int]:
        return [s.total for s in self.recorder.of(StepCount)]


async def walk_through(
    radio: VirtualRadio,
    clock: SimulatedClock,
    profile: str,
    fault: Fault,
    settings: LinkSettings = FAST,
) -> Outcome:
    """A 20-minute walk with `fault` injected 4 minutes into it; run until all is reported."""
    person = SimulatedPerson([WALK])
    wearable = await radio.add_wearable(profile=profile, wearer=person, clock=clock)
    link = make_link(
        radio, clock, DeviceConfig("dev", profile, address=wearable.address), settings=settings
    )
    recorder = Recorder()
    async with running([link], recorder):
        await wearable.wait_subscribed()
        await clock.sleep_until(FAULT_AT)
        await fault(wearable)
        await clock.sleep_until(END)
        await recorder.wait_for_count("dev", lambda: wearable.count)
        assert link.phase is LinkPhase.CONNECTED
    return Outcome(recorder, wearable, person)


def assert_exact(outcome: Outcome) -> None:
    """The counter logic credits exactly the steps walked (a Thingy's first value is its base)."""
    walked = outcome.person.steps_until(END)
    assert walked == 2000
    first = outcome.recorder.of(StepCount)[0]
    baseline = first.total if first.epoch is CounterEpoch.POWER_ON else 0
    assert counted_steps(outcome.recorder.readings, "dev") == walked - baseline


async def reboot(wearable: SimulatedWearable) -> None:
    await wearable.reboot()


async def vanish(wearable: SimulatedWearable) -> None:
    await wearable.vanish()


async def away_ten_minutes(wearable: SimulatedWearable) -> None:
    await wearable.out_of_range(600)


@pytest.mark.parametrize("profile", ["infinitime", "thingy52"])
async def test_reboot(radio: VirtualRadio, clock: SimulatedClock, profile: str) -> None:
    outcome = await walk_through(radio, clock, profile, reboot)
    assert outcome.wearable.reboots == 1
    assert outcome.recorder.states() == [True, False, True, False]
    # The counter went back to 0 once, at the reboot; otherwise it only grew.
    drops = [(a, b) for a, b in itertools.pairwise(outcome.steps) if b < a]
    assert len(drops) == 1
    before, after = drops[0]
    # The last value before the reboot is what the device had counted when it rebooted.
    assert before == outcome.person.steps_until(outcome.wearable.reboot_times[0])
    assert after < before
    assert_exact(outcome)


@pytest.mark.parametrize("profile", ["infinitime", "thingy52"])
async def test_link_loss(radio: VirtualRadio, clock: SimulatedClock, profile: str) -> None:
    outcome = await walk_through(radio, clock, profile, vanish)
    assert outcome.recorder.states() == [True, False, True, False]
    assert outcome.steps == sorted(outcome.steps)
    assert_exact(outcome)


@pytest.mark.parametrize("profile", ["infinitime", "thingy52"])
async def test_out_of_range_for_ten_minutes(
    radio: VirtualRadio, clock: SimulatedClock, profile: str
) -> None:
    outcome = await walk_through(radio, clock, profile, away_ten_minutes)
    states = outcome.recorder.of(LinkState)
    assert [s.connected for s in states] == [True, False, True, False]
    lost = next(r for r in outcome.recorder.readings if r.value == states[1])
    back = next(r for r in outcome.recorder.readings if r.value is states[2])
    away = back.received_at - lost.received_at
    assert timedelta(minutes=10) <= away < timedelta(minutes=11)
    # Steps walked out of range arrive as one jump after the reconnect, and are all counted.
    assert outcome.steps == sorted(outcome.steps)
    assert_exact(outcome)


async def test_hung_wearable_is_dropped_and_reconnected(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    async def hang(wearable: SimulatedWearable) -> None:
        await wearable.stall(900, hang_requests=True)

    settings = LinkSettings(gatt_timeout_s=0.1, disconnect_timeout_s=0.2, silence_s=60)
    outcome = await walk_through(radio, clock, "infinitime", hang, settings)
    reasons = [s.reason for s in outcome.recorder.of(LinkState) if not s.connected]
    assert reasons[0].startswith("lost:")
    assert outcome.wearable.connections >= 2
    assert outcome.steps == sorted(outcome.steps)
    assert_exact(outcome)


async def test_silently_stopped_notifications_are_noticed(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    async def pause(wearable: SimulatedWearable) -> None:
        await wearable.stall(600)  # no notifications, but reads are answered

    settings = LinkSettings(gatt_timeout_s=5, silence_s=60)
    outcome = await walk_through(radio, clock, "infinitime", pause, settings)
    reasons = [s.reason for s in outcome.recorder.of(LinkState) if not s.connected]
    assert reasons[0] == "lost: its value changed without a notification"
    assert_exact(outcome)


async def test_slow_notifications_need_no_reconnect(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    async def slow(wearable: SimulatedWearable) -> None:
        await wearable.slow(6)

    outcome = await walk_through(radio, clock, "infinitime", slow)
    assert outcome.recorder.states() == [True, False]
    assert_exact(outcome)


async def test_refused_connections_back_off_until_accepted(
    radio: VirtualRadio, clock: SimulatedClock
) -> None:
    async def refuse_then_drop(wearable: SimulatedWearable) -> None:
        await wearable.refuse_connections(True)
        await wearable.vanish()
        connections = wearable.connections
        await clock.sleep(300)
        assert wearable.connections == connections  # every attempt was refused
        await wearable.refuse_connections(False)

    outcome = await walk_through(radio, clock, "thingy52", refuse_then_drop)
    assert outcome.recorder.states() == [True, False, True, False]
    assert_exact(outcome)


async def test_low_battery_is_reported(radio: VirtualRadio, clock: SimulatedClock) -> None:
    async def drain(wearable: SimulatedWearable) -> None:
        await wearable.set_battery(9)

    outcome = await walk_through(radio, clock, "thingy52", drain)
    levels = outcome.recorder.of(Battery)
    assert levels[0] == Battery(90)
    assert levels[-1] == Battery(9)
    assert set(levels) == {Battery(90), Battery(9)}
