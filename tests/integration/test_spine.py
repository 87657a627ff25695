"""The service end to end on a real Mosquitto: a day, a restart, a dead broker, a killed service."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.clock import SimulatedClock
from monitor.days import at_local, day_bounds, minute_of
from monitor.ingest.activity import combine, totals
from monitor.recovery.alerts import AlertDraft, EventType, Severity
from monitor.store.database import Store
from simulators.broker import PrivateBroker
from simulators.direct_link import DirectLinkFactory
from simulators.person import SimulatedPerson, Walk
from tests.conftest import ConfigFactory, config_toml
from tests.integration.child_service import WALK_MINUTES, scripted_person
from tests.probe import MqttProbe, Received, running

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)  # plan day 1 of the test person: target 5 minutes


def local(hour: int, minute: int = 0) -> datetime:
    return at_local(MONDAY, time(hour, minute), LONDON)


async def until(check: object, within: float = 10.0) -> None:
    """Wait (real time) until an async predicate holds."""
    assert callable(check)
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the store is the point
            await asyncio.sleep(0.02)


async def test_a_simulated_day_nudges_at_the_right_checkpoint_once_even_after_a_restart(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(local(7), speed=0)
    # One minute walked at 09:00: on track at 12:00 (1.5 expected), behind at 16:00 (3.1).
    person = SimulatedPerson([Walk(local(9), 1.0, 100.0)])
    links = DirectLinkFactory({"p1": person}, LONDON, interval_s=10.0, absences={})
    alerts_topic = f"{config.mqtt.base_topic}/p1/alert"

    async with MqttProbe(config.mqtt, [alerts_topic]) as probe:
        async with running(config, clock, links) as app:
            assert app.store is not None

            async def handled(moment: datetime) -> bool:
                assert app.store is not None
                done = await app.store.schedule_done_until("p1")
                return done is not None and done >= moment

            await clock.advance_to(local(12) + timedelta(seconds=30))
            await until(lambda: handled(local(12)))
            # (Sitting still from 09:01 earns a long-sitting reminder too: not this test's topic.)
            assert await app.store.alerts("p1", event_type="behind_schedule") == []

            await clock.advance_to(local(16) + timedelta(seconds=30))
            await probe.wait_for(lambda m: len(_nudges(m)) == 1)
            alert = _nudges(probe.messages)[0]
            assert alert["event_type"] == "behind_schedule"
            assert alert["data"] == {
                "day": "2026-11-23",
                "checkpoint": "16:00",
                "walked_minutes": 1.0,
                "target_minutes": 5,
                "expected_minutes": 3.1,
                "remaining_minutes": 4,
            }
            assert "1 of 5 minutes walked" in alert["message"]
            assert "a 4-minute walk now" in alert["message"]
            # As if the service had died after raising the alert but before noting that
            # 16:00 was done: the restart must judge 16:00 again, and stay silent.
            await app.store.set_schedule_done_until("p1", local(15, 59))

        async with running(config, clock, links) as app:
            assert app.store is not None
            await until(lambda: handled_again(app.store, local(16)))
            await asyncio.sleep(0.3)
            assert len(await app.store.alerts("p1", event_type="behind_schedule")) == 1
        assert len(_nudges(probe.messages)) == 1


def _nudges(messages: list[Received]) -> list[dict[str, Any]]:
    """The behind-schedule nudges among received alerts."""
    alerts = [m.json() for m in messages]
    return [a for a in alerts if a["event_type"] == "behind_schedule"]


async def handled_again(store: Store | None, moment: datetime) -> bool:
    assert store is not None
    done = await store.schedule_done_until("p1")
    return done is not None and done >= moment


async def test_alerts_survive_the_broker_being_killed_while_they_are_raised(
    make_config: ConfigFactory, broker: PrivateBroker
) -> None:
    config = make_config(persons="")  # nobody to schedule: only the alerts below
    clock = SimulatedClock(local(10), speed=0)
    topic = "recovery/p1/alert"
    probe = MqttProbe(config.mqtt, [topic], client_id="phone", persistent=True)
    async with probe:
        pass  # register the persistent session, then go away like a phone would
    async with running(config, clock) as app:
        alerter = app.alerter
        assert alerter is not None
        for number in range(200):
            draft = AlertDraft(
                EventType.WARNING_SYMPTOM,
                Severity.CRITICAL,
                5,
                "test",
                f"alert {number}",
                key=f"test:{number}",
            )
            await alerter.raise_alert("p1", draft)
            if number == 60:
                await broker.kill()
            if number == 140:
                await broker.start()
        assert app.store is not None
        store = app.store
        await until(lambda: outbox_empty(store), within=30)
    async with MqttProbe(config.mqtt, [topic], client_id="phone", persistent=True) as phone:
        await phone.wait_for(lambda m: len({x.json()["id"] for x in m}) >= 200, within=20)
        ids = {m.json()["id"] for m in phone.messages}
        assert {m.json()["message"] for m in phone.messages} == {f"alert {n}" for n in range(200)}
        assert len(ids) == 200


async def outbox_empty(store: Store) -> bool:
    return await store.outbox_size() == 0


@pytest.mark.slow
@pytest.mark.timeout(300)  # two lives of a service in processes of their own, on a busy machine
async def test_a_service_killed_mid_day_loses_no_steps_and_repeats_no_alert(
    make_config: ConfigFactory, tmp_path: Path, broker: PrivateBroker
) -> None:
    config = make_config()
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(database=tmp_path / "monitor.db", port=broker.port))
    speed = 600.0  # ten simulated minutes a second
    topic = "recovery/p1/alert"
    database = tmp_path / "monitor.db"
    topics = [topic, "recovery/status"]
    async with MqttProbe(config.mqtt, topics, client_id="phone", persistent=True) as phone:
        # First life: 11:58 to 12:12, through the 12:00 nudge and into the walk.
        first = await _child(config_file, local(11, 58), speed, stop=local(12, 12))
        await phone.wait_for(lambda m: len(phone.on("/alert")) >= 1, within=60)
        await _stopped(first)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at = _last_reading_time(database)
        assert local(12, 5) < killed_at < local(12, 25), "killed mid-walk"

        # Second life, from 12:20 to 12:50: the watch has counted on while the service was dead.
        second = await _child(config_file, local(12, 20), speed, stop=local(12, 50))
        await _stopped(second)
        offline = _offline(phone.messages)
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0
        # Its last word (after any alert it sent) is its status going offline.
        await phone.wait_for(lambda m: _offline(m) > offline, within=30)
        nudges = [m.json() for m in phone.on("/alert")]

    assert len({n["id"] for n in nudges}) == 1, "the 12:00 nudge, once"
    assert nudges[0]["event_type"] == "behind_schedule"
    watch_total = scripted_person(config_file).steps_until(local(13))
    assert watch_total == int(WALK_MINUTES * 100)
    async with Store.open(tmp_path / "monitor.db") as store:
        start, end = day_bounds(MONDAY, LONDON)
        minutes = combine(await store.device_minutes("p1", minute_of(start), minute_of(end)))
        day = totals(minutes, start, end)
        assert day.steps == watch_total
        assert day.walking_minutes == pytest.approx(WALK_MINUTES, abs=1.0)
        assert len(await store.alerts("p1")) == 1


_CHILDREN: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
def _no_child_left() -> Iterator[None]:
    """A child service the test did not stop (it failed on the way) is killed afterwards."""
    yield
    while _CHILDREN:
        child = _CHILDREN.pop()
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.kill()


async def _child(
    config_file: Path, start: datetime, speed: float, *, stop: datetime | None = None
) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.child_service",
        str(config_file),
        start.isoformat(),
        str(speed),
        *([stop.isoformat()] if stop else []),
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    _CHILDREN.append(child)
    return child


async def _stopped(child: asyncio.subprocess.Process, within: float = 120.0) -> None:
    """Wait (real time) until the child's clock has stopped at its STOP moment."""
    assert child.stdout is not None
    async with asyncio.timeout(within):
        assert await child.stdout.readline() == b"stopped\n"


def _last_reading_time(database: Path) -> datetime:
    with sqlite3.connect(database) as db:
        (micros,) = db.execute("SELECT max(received_us) FROM raw_reading").fetchone()
    return datetime.fromtimestamp(micros / 1e6, UTC)


async def _read_until(database: Path, moment: datetime, within: float = 60.0) -> None:
    """Wait (real time) until the child service has stored a reading received at `moment`."""

    async def reached() -> bool:
        try:
            return _last_reading_time(database) >= moment
        except (sqlite3.Error, TypeError):  # not created yet, or no reading yet
            return False

    await until(reached, within)


def _offline(messages: list[Received]) -> int:
    return sum(m.topic == "recovery/status" and m.payload == b"offline" for m in messages)


async def test_alerts_a_dying_broker_acknowledged_are_sent_again_after_it_returns(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    # A broker that keeps nothing: whatever it acknowledged is gone when it dies.
    async with PrivateBroker(tmp_path / "volatile", persistence=False) as volatile:
        config = make_config(persons="")
        config = dataclasses.replace(
            config, mqtt=dataclasses.replace(config.mqtt, port=volatile.port)
        )
        clock = SimulatedClock(local(10), speed=0)
        async with running(config, clock) as app:
            assert app.alerter is not None
            assert app.store is not None
            store = app.store
            draft = AlertDraft(EventType.RED_FLAG, Severity.CRITICAL, 5, "t", "m", key="once")
            alert = await app.alerter.raise_alert("p1", draft)
            assert alert is not None
            await until(lambda: outbox_empty(store))  # acknowledged by the broker
            await volatile.kill()
            await volatile.start()
            async with MqttProbe(config.mqtt, ["recovery/p1/alert"]) as phone:
                await phone.wait_for(lambda m: len(m) >= 1, within=15)
            assert phone.messages[0].json()["id"] == alert.id


@pytest.mark.slow
@pytest.mark.timeout(300)  # two lives of a service in processes of their own, on a busy machine
async def test_a_service_killed_in_a_burst_of_readings_and_reports_ends_with_each_once(
    make_config: ConfigFactory, tmp_path: Path, broker: PrivateBroker
) -> None:
    config = make_config()
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(database=tmp_path / "monitor.db", port=broker.port))
    burst = 60
    topics = ["recovery/p1/alert", "recovery/p1/reply/#", "recovery/status"]
    async with MqttProbe(config.mqtt, topics, client_id="phone", persistent=True) as phone:
        # The watch is counting its walk (12:05-12:25) while the reports pour in.
        first = await _child(config_file, local(12, 4), 600.0)
        # The service is up (its session, which keeps commands for it, exists) and the walk
        # has begun, however long that takes the machine.
        await phone.wait_for(lambda m: any(x.payload == b"online" for x in m), within=60)
        await _read_until(tmp_path / "monitor.db", local(12, 6))
        for number in range(burst):
            body = json.dumps({"symptom": "leg_numbness_tingling", "id": f"burst-{number}"})
            phone.client.publish(
                "recovery/p1/report/symptom", body.encode(), response_topic="recovery/p1/reply/b"
            )
            if number == burst // 2:
                first.send_signal(signal.SIGKILL)  # in the middle of it all
            await asyncio.sleep(0.01)
        await first.wait()
        second = await _child(config_file, local(12, 20), 600.0)
        try:
            await phone.wait_for(lambda m: len(_alert_ids(m)) >= burst, within=120)
        finally:
            second.send_signal(signal.SIGTERM)
            assert await second.wait() == 0
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        stored = db.execute(
            "SELECT dedup, count(*) FROM report WHERE kind = 'symptom' GROUP BY dedup"
        ).fetchall()
        alerted = db.execute(
            "SELECT count(*), count(DISTINCT key) FROM alert WHERE event_type = 'warning_symptom'"
        ).fetchone()
    assert sorted(stored) == sorted((f"id:burst-{n}", 1) for n in range(burst))
    assert alerted == (burst, burst)
    assert len(_alert_ids(phone.messages)) == burst


def _alert_ids(messages: list[Received]) -> set[str]:
    return {
        m.json()["id"]
        for m in messages
        if m.topic.endswith("/alert") and m.json()["event_type"] == "warning_symptom"
    }
