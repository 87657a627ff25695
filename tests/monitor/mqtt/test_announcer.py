"""The announcer against fakes of the seams it declares (publisher, state, alert history):
what it clears, in which order, what it announces, and what it offers again after HA's return.
Also the default client id, unique per install."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.clock import SimulatedClock
from monitor.config import Config, PersonConfig, parse_config
from monitor.mqtt.announcer import Announcer
from monitor.mqtt.client import Incoming, publish_packet_size
from monitor.mqtt.discovery import discovery_document, discovery_topic, legacy_object_id
from monitor.store.alerts import StoredAlert
from tests.monitor.mqtt.test_discovery import TWO_PERSONS, config

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
P1_ONLY = '[[person]]\nid = "p1"\npain_type = "acute"\nplan_start = 2026-11-23\n'


class FakeBroker:
    """Records what is published; a Maximum Packet Size like a broker's CONNACK."""

    def __init__(self, max_packet_size: int | None = None) -> None:
        self.max_packet_size = max_packet_size
        self.sent: list[tuple[str, bytes, bool]] = []

    def fits(self, topic: str, payload: bytes, *, qos: int = 1) -> bool:
        limit = self.max_packet_size
        return limit is None or publish_packet_size(topic, payload, qos=qos) <= limit

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[int]:
        assert self.fits(topic, payload, qos=qos)
        self.sent.append((topic, payload, retain))
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(0)
        return future

    async def wait_connected(self) -> None:
        return None

    async def wait_subscribed(self) -> tuple[int, ...]:
        return ()


class FakeStates:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, person: PersonConfig) -> None:
        self.published.append(person.id)


class FakeHistory:
    def __init__(self, alerts: list[StoredAlert]) -> None:
        self._alerts = alerts

    async def alerts(self, person: str, since: datetime | None = None) -> list[StoredAlert]:
        return [
            a
            for a in self._alerts
            if a.person == person and (since is None or a.created_at >= since)
        ]


def away(subject: Announcer) -> datetime | None:
    return subject.away_since


def stored(alert_id: str, at: datetime, *, acked: bool = False) -> StoredAlert:
    payload = json.dumps({"id": alert_id, "event_type": "warning_symptom", "person": "p1"})
    return StoredAlert(
        alert_id, "p1", alert_id, "warning_symptom", "critical", at, payload,
        at if acked else None,
    )  # fmt: skip


def announcer(
    conf: Config, broker: FakeBroker, clock: SimulatedClock, alerts: Sequence[StoredAlert] = ()
) -> tuple[Announcer, FakeStates]:
    states = FakeStates()
    found = Announcer(
        conf,
        mqtt=broker,
        state=states,
        alerts=FakeHistory(list(alerts)),
        clock=clock,
        expire_after_s=900,
        birth_delay_s=(0.0, 0.0),
        settle_s=0.0,
    )
    return found, states


def retained(topic: str, payload: bytes) -> Incoming:
    return Incoming(topic, payload, qos=0, mid=0, retained=True)


async def until_sent(broker: FakeBroker, count: int) -> None:
    async with asyncio.timeout(5):
        while len(broker.sent) < count:  # noqa: ASYNC110 - the announcer runs in this loop
            await asyncio.sleep(0)


async def test_at_connect_ours_and_unused_goes_first_then_discovery_then_old_states() -> None:
    both, only_p1 = config(TWO_PERSONS), config(P1_ONLY)
    broker = FakeBroker()
    clock = SimulatedClock(START)
    subject, _ = announcer(only_p1, broker, clock)
    p2_document = json.dumps(discovery_document(both, both.persons[1], expire_after_s=900))
    p1_document = json.dumps(discovery_document(only_p1, only_p1.persons[0], expire_after_s=900))
    new_p1 = discovery_topic("homeassistant", "recovery", "p1")
    p2_topic = discovery_topic("homeassistant", "recovery", "p2")
    legacy = f"homeassistant/device/{legacy_object_id('p1')}/config"
    async with asyncio.TaskGroup() as group:
        task = group.create_task(subject.run())
        subject.connected()
        subject.received(retained("recovery/p2/state", b"{}"))
        subject.received(retained(p2_topic, p2_document.encode()))
        subject.received(retained(legacy, p1_document.encode()))
        subject.received(retained(new_p1, p1_document.encode()))  # current: left alone
        await until_sent(broker, 4)
        task.cancel()
    assert [(topic, bool(payload)) for topic, payload, _ in broker.sent] == [
        (p2_topic, False),
        (legacy, False),
        (new_p1, True),
        ("recovery/p2/state", False),
    ]
    assert all(retain for _, _, retain in broker.sent)


async def test_discovery_goes_out_in_pieces_when_the_broker_allows_less() -> None:
    conf = config(TWO_PERSONS)
    broker = FakeBroker(max_packet_size=2048)
    subject, _ = announcer(conf, broker, SimulatedClock(START))
    async with asyncio.TaskGroup() as group:
        task = group.create_task(subject.run())
        subject.connected()
        async with asyncio.timeout(5):
            while subject.announced < 1:  # noqa: ASYNC110
                await asyncio.sleep(0)
        task.cancel()
    p1 = [t for t, _, _ in broker.sent if "_p1" in t]
    assert p1[0] == discovery_topic("homeassistant", "recovery", "p1")
    assert p1[1:] == [
        discovery_topic("homeassistant", "recovery", "p1", n) for n in range(2, len(p1) + 1)
    ]


async def test_only_unacknowledged_alerts_raised_while_home_assistant_was_away_come_again() -> None:
    conf = config(P1_ONLY)
    clock = SimulatedClock(START)
    before, acked, missed = (
        stored("A", START),
        stored("B", START.replace(minute=5), acked=True),
        stored("C", START.replace(minute=6)),
    )
    broker = FakeBroker()
    subject, states = announcer(conf, broker, clock, [before, acked, missed])
    birth = "homeassistant/status"
    async with asyncio.TaskGroup() as group:
        task = group.create_task(subject.run())
        await clock.advance(60)
        subject.received(Incoming(birth, b"offline", qos=0, mid=0, retained=False))
        assert away(subject) == START.replace(minute=1)
        subject.received(Incoming(birth, b"online", qos=0, mid=0, retained=False))
        assert away(subject) is None
        async with asyncio.timeout(5):
            while not subject.offered_again:  # noqa: ASYNC110
                await asyncio.sleep(0)
        task.cancel()
    assert subject.offered_again == ["C"]
    alerts = [(t, json.loads(p)["id"]) for t, p, retain in broker.sent if t.endswith("/alert")]
    assert alerts == [("recovery/p1/alert", "C")]
    assert states.published == ["p1"]
    # Discovery and the state come before the alert, so its entity is there to take it.
    assert broker.sent[-1][0] == "recovery/p1/alert"


def test_each_install_gets_a_client_id_of_its_own_and_keeps_it(tmp_path: Path) -> None:
    def load(database: str, base: str = "recovery", extra: str = "") -> str:
        text = (
            f'[service]\ndatabase = "{tmp_path / database}"\n[mqtt]\nbase_topic = "{base}"\n'
            f'{extra}\n[[person]]\nid = "p1"\npain_type = "acute"\nplan_start = 2026-11-20\n'
        )
        return parse_config(text).mqtt.client_id

    first = load("a.db")
    assert first == load("a.db")  # the broker keeps our session under it across restarts
    assert first.startswith("recovery-monitor-")
    others = {load("b.db"), load("a.db", base="home/recovery"), first}
    assert len(others) == 3
    assert load("a.db", extra='client_id = "mine"') == "mine"


def test_a_flood_of_home_assistant_births_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    # Anyone allowed to publish on the birth topic: 200 "online" in a row, one answer pending.
    subject, _ = announcer(config(P1_ONLY), FakeBroker(), SimulatedClock(START))
    caplog.set_level(logging.INFO, logger="monitor.mqtt.announcer")
    for _ in range(200):
        subject.received(Incoming("homeassistant/status", b"online", qos=0, mid=0, retained=False))
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.getMessage() for r in lines] == [
        "Home Assistant is online: discovery and states follow shortly"
    ]
