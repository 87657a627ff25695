"""Home Assistant and MQTT as they really behave (issue 14), over a real Mosquitto: HA's clean
session across a restart, two installs and ids with `_` on one broker, a broker's packet limit,
diagnostics from the start, departed persons removed in HA's order, a shared client id."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.clock import SimulatedClock
from monitor.config import Config, parse_config
from monitor.mqtt.client import FAILURE, PACKET_TOO_LARGE, publish_packet_size
from monitor.mqtt.discovery import (
    discovery_document,
    discovery_payload,
    discovery_topic,
    legacy_object_id,
)
from monitor.service.app import App, Tuning
from simulators.broker import PrivateBroker
from tests.conftest import ConfigFactory, config_toml
from tests.integration.conftest import monday, render, send, until
from tests.monitor.mqtt.test_discovery import COLLIDING, TWO_PERSONS
from tests.probe import MqttProbe, Received, running

FAST = Tuning(state_interval_s=0.0, birth_delay_s=(0.0, 0.05), diagnostics_interval_s=0.0)
DISCOVERY = "homeassistant/device/+/config"


def own_config(
    folder: Path, port: int, *, base: str = "recovery", persons: str | None = None, client: str
) -> Config:
    """A config with its own database, base topic and client id, for a second service."""
    text = config_toml(
        database=folder / f"{client}.db",
        port=port,
        persons=persons,
        mqtt_extra=f'base_topic = "{base}"',
    ).replace('client_id = "recovery-monitor-test"', f'client_id = "{client}"')
    return parse_config(text, base_dir=folder)


def retained(messages: list[Received]) -> dict[str, bytes]:
    """The last payload seen on each topic (what a newcomer would get)."""
    return {m.topic: m.payload for m in messages}


async def test_alerts_raised_while_home_assistant_was_away_are_offered_again_once(
    make_config: ConfigFactory,
) -> None:
    """HA subscribes with a clean session: what it missed during a restart comes again, same id."""
    config = make_config()
    clock = SimulatedClock(monday(11), speed=0)
    topics = ["recovery/p1/alert", "recovery/p1/reply/#"]
    async with running(config, clock, tuning=FAST) as app, MqttProbe(config.mqtt, topics) as probe:
        announcer = app.announcer
        assert announcer is not None

        async def raise_one(symptom: str) -> str:
            before = len(probe.on("/alert"))
            await send(probe, "recovery/p1/report/symptom", json.dumps({"symptom": symptom}),
                       name=symptom)  # fmt: skip
            alerts = await probe.wait_for(lambda _: len(probe.on("/alert")) > before)
            return str([m for m in alerts if m.topic.endswith("/alert")][-1].json()["id"])

        seen_by_ha = await raise_one("severe_stiffness")
        await clock.advance(60)
        probe.client.publish("homeassistant/status", b"offline")  # HA's last will
        await until(holds(lambda: announcer.away_since is not None))
        acknowledged = await raise_one("night_pain")
        missed = await raise_one("leg_weakness")
        answer = await send(probe, "recovery/p1/alert/ack", json.dumps({"id": acknowledged}),
                            name="ack")  # fmt: skip
        assert answer["ok"] is True
        probe.messages.clear()

        probe.client.publish("homeassistant/status", b"online")  # HA's birth
        await until(holds(lambda: announcer.births_answered >= 1))
        await flushed(probe)
        again = [m.json()["id"] for m in probe.on("/alert")]
        assert again == [missed]
        assert announcer.offered_again == [missed]
        assert seen_by_ha not in again

        # A second birth without a will in between offers nothing again.
        probe.client.publish("homeassistant/status", b"online")
        await until(holds(lambda: announcer.births_answered >= 2))
        await flushed(probe)
        assert [m.json()["id"] for m in probe.on("/alert")] == [missed]


async def flushed(probe: MqttProbe) -> None:
    """Whatever the service published before now has reached the probe: a command's answer,
    published after it on the same connection, has."""
    answer = await send(probe, "recovery/p1/report/function", b"5", name="barrier")
    assert answer["ok"] is True


def holds(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """A plain condition on the service's state, for `until`."""

    async def check() -> bool:
        return predicate()

    return check


async def test_two_installs_and_ids_with_underscores_coexist_on_one_broker(
    tmp_path: Path, broker: PrivateBroker
) -> None:
    """`p1`+`a_b` and `p1_a`+`b`, on two installs with different base topics: four devices,
    every entity its own unique id, and nothing flips when the installs reconnect in turn."""
    installs = [
        own_config(tmp_path, broker.port, base=base, persons=COLLIDING, client=f"svc-{n}")
        for n, base in enumerate(["recovery", "home/recovery"])
    ]
    clock = SimulatedClock(monday(11), speed=0)
    expected = {
        _topic(config, person.id): discovery_document(config, person, expire_after_s=900)
        for config in installs
        for person in config.persons
    }
    assert len(expected) == 4
    for config in [*installs, installs[0]]:  # each connects (and announces) in turn
        async with running(config, clock, tuning=FAST) as app:
            await until(announced(app))
    async with MqttProbe(installs[0].mqtt, [DISCOVERY], client_id="ha") as ha:
        await ha.wait_for(lambda m: {x.topic for x in m} >= set(expected))
        shown = {topic: json.loads(payload) for topic, payload in retained(ha.messages).items()}
    assert shown == expected
    unique_ids = [c["unique_id"] for d in shown.values() for c in d["cmps"].values()]
    assert len(unique_ids) == len(set(unique_ids)) == 4 * 20
    assert len({d["dev"]["ids"][0] for d in shown.values()}) == 4


def announced(app: App) -> Callable[[], Awaitable[bool]]:
    """Whether the service has published its discovery since it started."""
    assert app.announcer is not None
    announcer = app.announcer
    return holds(lambda: announcer.announced >= 1)


def _topic(config: Config, person: str) -> str:
    return discovery_topic(config.mqtt.discovery_prefix, config.mqtt.base_topic, person)


async def test_a_broker_with_a_4096_byte_packet_limit_gets_all_of_it_in_pieces(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Mosquitto's `max_packet_size 4096`: discovery in pieces within it, state and status out,
    one connection, and a message over the limit is not sent (one log line) rather than
    dropping the connection for ever."""
    caplog.set_level(logging.INFO)
    async with PrivateBroker(tmp_path / "small", extra_config="max_packet_size 4096\n") as small:
        config = own_config(tmp_path, small.port, persons=TWO_PERSONS, client="svc")
        clock = SimulatedClock(monday(11), speed=0)
        topics = [DISCOVERY, "recovery/+/state", "recovery/status"]
        whole = {p.id: discovery_document(config, p, expire_after_s=900) for p in config.persons}
        assert (
            max(len(discovery_payload(config, p, expire_after_s=900)) for p in config.persons)
            > 4096
        )

        def complete(messages: list[Received]) -> bool:
            seen = retained(messages)
            shown: dict[str, dict[str, Any]] = {}
            for topic, payload in seen.items():
                if topic.startswith("homeassistant/") and payload:
                    document = json.loads(payload)
                    person = document["dev"]["ids"][0].rsplit("_", 1)[1]
                    shown.setdefault(person, {}).update(document["cmps"])
            return (
                all(shown.get(pid) == document["cmps"] for pid, document in whole.items())
                and {"recovery/p1/state", "recovery/p2/state"} <= set(seen)
                and seen.get("recovery/status") == b"online"
            )

        async with running(config, clock, tuning=FAST) as app, MqttProbe(config.mqtt, topics) as ha:
            assert app.mqtt is not None
            await ha.wait_for(complete)
            assert app.mqtt.max_packet_size == 4096
            assert all(len(m.payload) < 4096 for m in ha.messages)
            code = await app.mqtt.publish("recovery/p1/too-big", b"x" * 5000)
            assert code == PACKET_TOO_LARGE
            # The size is counted as Mosquitto counts it: 4096 bytes on the wire pass.
            topic = "recovery/p1/just-fits"
            payload = b"x" * (4096 - publish_packet_size(topic, b"", qos=1) - 1)
            assert publish_packet_size(topic, payload, qos=1) == 4096
            # Acknowledged after the refused one: had that gone out, the broker would have
            # dropped the connection first (and "lost the MQTT broker" be logged by now).
            assert await app.mqtt.publish(topic, payload) < FAILURE
            assert app.mqtt.connected
    text = caplog.text
    assert text.count("connected to the MQTT broker") == 2  # the service and the probe, once each
    assert "lost the MQTT broker" not in text
    assert "TLS" not in text
    lines = [
        r.getMessage() for r in caplog.records if "over the broker's maximum" in r.getMessage()
    ]
    assert lines == [
        "not sent: a 5027-byte message on recovery/p1/too-big is over the broker's maximum "
        "packet size of 4096 bytes (raise max_packet_size in the broker's config)"
    ]


async def test_undelivered_alerts_reads_zero_from_the_start_and_old_counts_do_not_linger(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(monday(11), speed=0)
    async with MqttProbe(config.mqtt, [], client_id="old") as old:
        stale = b'{"undelivered_alerts": {"p1": 3}, "refused_messages": 3}'
        await old.client.publish("recovery/diagnostics", stale, retain=True)
    sensor = discovery_document(config, config.persons[0], expire_after_s=900)["cmps"][
        "undelivered_alerts"
    ]
    async with running(config, clock, tuning=FAST) as app:
        assert app.diagnostics is not None
        diagnostics = app.diagnostics
        await until(holds(lambda: diagnostics.published >= 1))
        async with MqttProbe(config.mqtt, [sensor["state_topic"]], client_id="ha") as ha:
            message = (await ha.wait_for(lambda m: len(m) >= 1))[0]
    assert message.retained
    assert render(sensor["value_template"], message.json()) == "0"


async def test_a_departed_person_leaves_home_assistant_before_their_state_is_cleared(
    make_config: ConfigFactory,
) -> None:
    """The discovery documents go first: an emptied state under live entities would fail each
    entity's template in Home Assistant (20 errors a person)."""
    both = make_config(persons=TWO_PERSONS)
    only_p1 = make_config()
    clock = SimulatedClock(monday(11), speed=0)
    p2_discovery = _topic(both, "p2")
    async with MqttProbe(both.mqtt, [DISCOVERY, "recovery/+/state"], client_id="ha") as ha:
        async with running(both, clock, tuning=FAST):
            await ha.wait_for(lambda m: {p2_discovery, "recovery/p2/state"} <= {x.topic for x in m})
        ha.messages.clear()
        async with running(only_p1, clock, tuning=FAST) as app:
            assert app.announcer is not None
            announcer = app.announcer
            await until(holds(lambda: len(announcer.cleared) >= 2))
            await ha.wait_for(lambda m: sum(not x.payload for x in m) >= 2)
    assert announcer.cleared == [p2_discovery, "recovery/p2/state"]
    emptied = [m.topic for m in ha.messages if not m.payload]
    assert emptied == [p2_discovery, "recovery/p2/state"]


async def test_an_old_style_device_is_cleared_before_its_successor_is_announced(
    make_config: ConfigFactory,
) -> None:
    """Upgrading from `recovery_<pid>` nodes: the old device goes first, so Home Assistant
    never holds two copies of each entity (and the new ones keep their entity ids)."""
    config = make_config()
    clock = SimulatedClock(monday(11), speed=0)
    old_topic = f"homeassistant/device/{legacy_object_id('p1')}/config"
    old = discovery_payload(config, config.persons[0], expire_after_s=900)
    async with MqttProbe(config.mqtt, [DISCOVERY], client_id="ha") as ha:
        await ha.client.publish(old_topic, old, retain=True)
        await ha.wait_for(lambda m: len(m) >= 1)
        ha.messages.clear()
        async with running(config, clock, tuning=FAST):
            new_topic = _topic(config, "p1")
            await ha.wait_for(lambda m: new_topic in {x.topic for x in m})
        order = [(m.topic, bool(m.payload)) for m in ha.messages]
    assert order[:2] == [(old_topic, False), (new_topic, True)]


async def test_two_services_with_one_client_id_are_told_so_in_the_log(
    tmp_path: Path, broker: PrivateBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = own_config(tmp_path / "a", broker.port, client="same-id")
    second = own_config(tmp_path / "b", broker.port, base="other", client="same-id")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    clock = SimulatedClock(monday(11), speed=0)

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if "session taken over" in r.getMessage()]

    async with running(first, clock, tuning=FAST), running(second, clock, tuning=FAST):
        await until(holds(lambda: bool(said())), within=30.0)
    assert "another MQTT client connects with our client id" in said()[0]
    assert "'same-id'" in said()[0]
    assert "mqtt.client_id" in said()[0]
