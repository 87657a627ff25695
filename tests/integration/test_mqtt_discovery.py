"""Home Assistant over a real Mosquitto: discovery, retained state, HA's birth, departed persons."""

from __future__ import annotations

import asyncio
import json

from monitor.clock import SimulatedClock
from monitor.mqtt.discovery import discovery_document
from monitor.service.app import Tuning
from tests.conftest import ConfigFactory
from tests.integration.conftest import monday, render, send
from tests.monitor.mqtt.test_discovery import TWO_PERSONS, check_field_rules
from tests.probe import MqttProbe, Received, running

FAST = Tuning(state_interval_s=0.0, birth_delay_s=(0.0, 0.05))
HA_TOPICS = ["homeassistant/device/+/config", "recovery/+/state", "recovery/+/reply/#"]
DISCOVERY = "homeassistant/device/recovery_recovery_p1/config"


def latest(messages: list[Received], topic: str) -> Received:
    return [m for m in messages if m.topic == topic][-1]


async def test_discovery_is_published_and_the_retained_state_matches_the_store(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    person = config.persons[0]
    clock = SimulatedClock(monday(11), speed=0)
    async with running(config, clock, tuning=FAST) as app, MqttProbe(config.mqtt, HA_TOPICS) as ha:
        assert app.state is not None
        messages = await ha.wait_for(lambda m: any(x.topic == DISCOVERY for x in m))
        document = latest(messages, DISCOVERY).json()
        check_field_rules(document, base="recovery", person="p1")
        assert document == discovery_document(config, person, expire_after_s=900)

        await send(ha, "recovery/p1/report/pain", b"4", name="pain")
        await send(ha, "recovery/p1/report/function", b"7", name="function")
        await send(ha, "recovery/p1/report/symptom", b'{"symptom": "severe_stiffness"}', name="s")
        await ha.wait_for(
            lambda m: any(
                x.topic == "recovery/p1/state" and x.json()["warning_active"] is True for x in m
            )
        )

    # A client that connects now (Home Assistant after a restart) sees the retained state.
    async with MqttProbe(config.mqtt, ["recovery/p1/state"], client_id="fresh") as fresh:
        (retained,) = await fresh.wait_for(lambda m: len(m) >= 1)
        assert retained.retained
        state = retained.json()
    async with running(config, clock, tuning=FAST) as app:
        assert app.state is not None
        assert state == await app.state.document(person, clock.now())
    assert (state["pain_today"], state["function_today"], state["warning_active"]) == (4, 7, True)

    # Each entity reading the state shows the store's value.
    components = document["cmps"]
    shown = {
        key: render(c["value_template"], state)
        for key, c in components.items()
        if c.get("state_topic") == "recovery/p1/state"
    }
    assert shown["pain"] == "4"
    assert shown["report_pain"] == "4"
    assert shown["function"] == "7"
    assert shown["warning_active"] == "ON"
    assert state["behind_schedule"] is True  # nothing walked by 11:00
    assert shown["behind_schedule"] == "ON"
    assert shown["steps"] == str(state["steps_today"])
    assert shown["walking_target"] == str(state["walking_target_minutes"])
    assert shown["phase"] == "pain_relief"
    assert shown["watch_connected"] == "OFF"
    assert shown["watch_battery"] == "None"  # Home Assistant shows "unknown"
    assert shown["report_symptom"] == "None"
    assert shown["report_note"] == ""


async def test_home_assistant_coming_online_gets_discovery_and_state_again(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(monday(11), speed=0)
    async with running(config, clock, tuning=FAST) as app, MqttProbe(config.mqtt, HA_TOPICS) as ha:
        assert app.announcer is not None
        await ha.wait_for(lambda m: {x.topic for x in m} >= {DISCOVERY, "recovery/p1/state"})
        await asyncio.sleep(0.2)
        ha.messages.clear()
        # An old retained "online" is not a restart; a live one is.
        ha.client.publish("homeassistant/status", b"offline", retain=True)
        ha.client.publish("homeassistant/status", b"online")
        messages = await ha.wait_for(
            lambda m: {x.topic for x in m} >= {DISCOVERY, "recovery/p1/state"}, within=5
        )
        assert json.loads(latest(messages, DISCOVERY).payload)["cmps"]
        assert app.announcer.announced == 2


async def test_a_person_who_left_the_config_is_removed_from_home_assistant_and_the_broker(
    make_config: ConfigFactory,
) -> None:
    both = make_config(persons=TWO_PERSONS)
    only_p1 = make_config()
    clock = SimulatedClock(monday(11), speed=0)
    async with MqttProbe(both.mqtt, ["#"], client_id="other-integration") as other:
        # Another integration's device that merely looks like ours stays.
        foreign = b'{"o": {"name": "z2m"}, "dev": {"ids": ["x"]}, "cmps": {}}'
        other.client.publish("homeassistant/device/recovery_p3/config", foreign, retain=True)
        async with running(both, clock, tuning=FAST):
            await other.wait_for(
                lambda m: (
                    {x.topic for x in m}
                    >= {
                        "homeassistant/device/recovery_recovery_p2/config",
                        "recovery/p2/state",
                        "recovery/p1/state",
                    }
                )
            )
        async with running(only_p1, clock, tuning=FAST) as app:
            assert app.announcer is not None
            announcer = app.announcer
            await other.wait_for(lambda _: len(announcer.cleared) >= 2)
            assert sorted(announcer.cleared) == [
                "homeassistant/device/recovery_recovery_p2/config",
                "recovery/p2/state",
            ]
    async with MqttProbe(both.mqtt, ["#"], client_id="after") as after:
        await after.settle()  # the retained messages come before the marker
        retained = {m.topic for m in after.messages if m.retained}
    assert DISCOVERY in retained
    assert "recovery/p1/state" in retained
    assert "homeassistant/device/recovery_p3/config" in retained
    assert not any("p2" in topic for topic in retained)
