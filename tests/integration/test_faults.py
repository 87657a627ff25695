"""Faults a months-long home service meets: a frozen or amnesiac broker, a flooding wearable,
the system clock stepped by NTP. Each is noticed or absorbed; nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devices.base import ReadingSink
from devices.readings import Motion, Reading
from devices.settings import DeviceConfig
from monitor.clock import Clock, SimulatedClock
from monitor.config import Config
from monitor.days import at_local, day_bounds, minute_of
from monitor.ingest.activity import combine, totals
from monitor.ingest.pipeline import MAX_QUEUED
from monitor.recovery.alerts import AlertDraft, EventType, Severity
from monitor.store.database import Store
from simulators.broker import PrivateBroker
from simulators.direct_link import DirectLinkFactory
from simulators.person import SimulatedPerson, Walk
from tests.conftest import ConfigFactory
from tests.probe import MqttProbe, running

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)


def local(hour: int, minute: int = 0) -> datetime:
    return at_local(MONDAY, time(hour, minute), LONDON)


def on_broker(config: Config, broker: PrivateBroker) -> Config:
    return dataclasses.replace(config, mqtt=dataclasses.replace(config.mqtt, port=broker.port))


async def until(check: object, within: float = 20.0) -> None:
    assert callable(check)
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - watching the service from outside
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_frozen_broker_is_noticed_and_what_was_raised_meanwhile_arrives_after(
    make_config: ConfigFactory, broker: PrivateBroker
) -> None:
    config = make_config(persons="")  # keepalive 5 s
    phone = MqttProbe(config.mqtt, ["recovery/p1/alert"], client_id="phone", persistent=True)
    async with phone:
        pass  # the phone's session waits at the broker
    async with running(config, SimulatedClock(local(10))) as app:
        assert app.mqtt is not None
        assert app.alerter is not None
        mqtt = app.mqtt
        await broker.freeze()  # the process stops; its TCP connections stay open (half-open)
        for number in range(5):
            draft = AlertDraft(
                EventType.RED_FLAG, Severity.CRITICAL, 5, "t", f"{number}", f"k{number}"
            )
            await app.alerter.raise_alert("p1", draft)
        await until(lambda: not mqtt.connected, within=20)  # ~1.5 keepalives
        await broker.thaw()
        await until(lambda: mqtt.connected, within=20)
        async with MqttProbe(
            config.mqtt, ["recovery/p1/alert"], client_id="phone", persistent=True
        ) as back:
            await back.wait_for(lambda m: len({x.json()["id"] for x in m}) == 5, within=20)


async def test_a_broker_restarted_without_its_persistence_gets_everything_again(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    async with PrivateBroker(tmp_path / "amnesiac", persistence=False) as amnesiac:
        config = on_broker(make_config(), amnesiac)
        clock = SimulatedClock(local(10))
        async with running(config, clock) as app:
            assert app.mqtt is not None
            mqtt = app.mqtt
            await asyncio.sleep(0.3)
            await amnesiac.kill()
            await until(lambda: not mqtt.connected)
            await amnesiac.start()  # no sessions, no subscriptions, no retained messages
            await until(lambda: mqtt.connected)
            await clock.advance(60)  # the state is published at most every 15 s
            topics = ["recovery/status", "recovery/p1/state", "homeassistant/device/+/config",
                      "recovery/p1/reply/#"]  # fmt: skip
            async with MqttProbe(config.mqtt, topics) as dashboard:
                # Retained state, status and discovery are published again ...
                await dashboard.wait_for(
                    lambda m: {x.topic.split("/")[-1] for x in m} >= {"status", "state", "config"}
                )
                assert any(m.payload == b"online" for m in dashboard.on("/status"))
                # ... and the service subscribed again: a command is answered.
                dashboard.client.publish(
                    "recovery/p1/report/pain", b"4", response_topic="recovery/p1/reply/t"
                )
                await dashboard.wait_for(lambda m: bool(dashboard.on("/reply/t")))
                assert dashboard.on("/reply/t")[0].json()["ok"] is True


class FloodingBand:
    """A band notifying motion ten times faster than its 100 Hz: a link at a seam we own."""

    def __init__(self, person: str, device: DeviceConfig, clock: Clock, seconds: float) -> None:
        self._person = person
        self._device = device
        self._clock = clock
        self._seconds = seconds
        self.sent = 0

    @property
    def device_id(self) -> str:
        return self._device.id

    async def run(self, sink: ReadingSink) -> None:
        start = self._clock.now()
        for tick in range(int(self._seconds * 1000)):
            at = start + timedelta(milliseconds=tick)
            sink(Reading(self._person, self._device.id, at, Motion(((0.0, 0.0, 1.0),), 100.0)))
            self.sent += 1
            if tick % 2000 == 0:
                await asyncio.sleep(0)  # a burst of BLE notifications between loop turns
        await asyncio.Event().wait()


async def test_a_flooding_wearable_is_bounded_counted_reported_and_the_rest_goes_on(
    make_config: ConfigFactory,
) -> None:
    band = DeviceConfig("band", "polar_pmd", name="Polar")
    base = make_config()
    config = dataclasses.replace(
        base, persons=(dataclasses.replace(base.persons[0], devices=(band,)),)
    )
    flood: list[FloodingBand] = []

    def factory(person: str, device: DeviceConfig, clock: Clock) -> FloodingBand:
        flood.append(FloodingBand(person, device, clock, seconds=300))
        return flood[0]

    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    topics = ["recovery/diagnostics", "recovery/p1/reply/#"]
    async with (
        running(config, SimulatedClock(local(10)), factory) as app,
        MqttProbe(config.mqtt, topics) as dashboard,
    ):
        assert app.ingest is not None
        ingest = app.ingest
        peak = 0
        while not flood or flood[0].sent < 300_000:
            peak = max(peak, ingest.queued)
            await asyncio.sleep(0)
        assert peak <= MAX_QUEUED
        dropped = ingest.dropped[("p1", "band")]
        assert dropped > 0
        # Reported where a person can see it ...
        await dashboard.wait_for(
            lambda m: any(x.json().get("readings_dropped", {}).get("p1/band") for x in m)
        )
        # ... and the service answers commands meanwhile.
        dashboard.client.publish(
            "recovery/p1/report/pain", b"3", response_topic="recovery/p1/reply/x"
        )
        await dashboard.wait_for(lambda m: bool(dashboard.on("/reply/x")), within=15)
        await ingest.settle()
        assert ingest.queued == 0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before) / 1024
    assert grown_mb < 150, f"memory grew by {grown_mb:.0f} MB"


async def test_the_clock_stepped_back_and_forward_an_hour_loses_and_doubles_nothing(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(local(9), speed=0)  # the service's wall clock, stepped by NTP
    truth = SimulatedClock(local(9), speed=0)  # real time, which the watch counts in
    # Walking 09:30-10:30 and 13:00-13:20: nothing done by noon beyond the first walk.
    person = SimulatedPerson([Walk(local(9, 30), 60.0, 100.0), Walk(local(13), 20.0, 100.0)])
    links = DirectLinkFactory({"p1": person}, LONDON, interval_s=10.0, absences={}, truth=truth)
    async with MqttProbe(config.mqtt, ["recovery/p1/alert"]) as phone:
        async with running(config, clock, links) as app:
            assert app.ingest is not None
            ingest = app.ingest

            async def live_until(moment: datetime) -> None:
                while clock.now() < moment:
                    await truth.advance(60)
                    await clock.advance(60)
                    await ingest.settle()

            await live_until(local(10))
            await clock.step(-3600)  # NTP sets the clock back an hour, mid-walk: 09:00 again
            await live_until(local(11, 30))
            await clock.step(3600)  # and forward an hour: 12:30, past the noon checkpoint
            await live_until(local(21, 30))
            assert app.store is not None
            service_store: Store = app.store

            async def closed() -> bool:
                done = await service_store.schedule_done_until("p1")
                return done is not None and done >= local(21)

            async with asyncio.timeout(20):
                while not await closed():  # noqa: ASYNC110 - the day's close is judged
                    await asyncio.sleep(0.05)
            await phone.wait_for(lambda m: "target_met" in {x.json()["event_type"] for x in m})
        store_path = config.service.database
        await asyncio.sleep(0.5)
        kinds = [m.json()["event_type"] for m in phone.messages]
    async with Store.open(store_path) as store:
        start, end = day_bounds(MONDAY, LONDON)
        minutes = combine(await store.device_minutes("p1", minute_of(start), minute_of(end)))
        alerts = await store.alerts("p1")
    # The person walked 8000 steps by real time; every one is credited, none twice.
    assert totals(minutes, start, end).steps == person.steps_until(truth.now()) == 8000
    keys = [a.key for a in alerts]
    assert len(keys) == len(set(keys))
    assert kinds.count("target_met") == 1
    assert keys.count("behind_schedule:2026-11-23:12:00") <= 1
    assert json.dumps(kinds)  # every alert that was raised arrived as JSON
