"""Home Assistant discovery documents against the field rules, and departed-person detection."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest

from monitor.config import Config, parse_config
from monitor.mqtt.commands import parse_command
from monitor.mqtt.discovery import (
    OBJECT_PREFIX,
    departed,
    discovery_document,
    discovery_payload,
    discovery_topic,
)
from monitor.recovery.alerts import EventType
from monitor.recovery.symptoms import SymptomKind
from simulators.broker import MAX_PACKET_BYTES
from tests.conftest import config_toml

TWO_PERSONS = """
[[person]]
id = "p1"
pain_type = "acute"
plan_start = 2026-11-23

[[person.device]]
id = "watch"
profile = "infinitime"
name = "InfiniTime"

[[person.device]]
id = "shoe"
profile = "rsc"
address = "C7:1E:93:4F:10:2A"

[[person]]
id = "p2"
pain_type = "chronic"
plan_start = 2026-10-01
"""

# The options each platform may carry (a typo or a wrong key fails the check), beyond the
# common ones, and the ones it must carry (mqtt-facts.md, Home Assistant's MQTT docs).
COMMON = {"p", "name", "unique_id", "icon", "entity_category", "qos", "object_id"}
ALLOWED = {
    "sensor": {"state_topic", "value_template", "device_class", "state_class",
               "unit_of_measurement", "suggested_display_precision", "options", "expire_after"},
    "binary_sensor": {"state_topic", "value_template", "device_class", "expire_after",
                      "payload_on", "payload_off"},
    "event": {"state_topic", "event_types", "value_template", "device_class"},
    "number": {"command_topic", "command_template", "state_topic", "value_template", "min",
               "max", "step", "mode", "unit_of_measurement"},
    "select": {"command_topic", "command_template", "state_topic", "value_template", "options"},
    "text": {"command_topic", "command_template", "state_topic", "value_template", "min", "max",
             "mode", "pattern"},
    "button": {"command_topic", "command_template", "payload_press"},
}  # fmt: skip
REQUIRED = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "event": {"state_topic", "event_types"},
    "number": {"command_topic"},
    "select": {"command_topic", "options"},
    "text": {"command_topic"},
    "button": {"command_topic"},
}
STATE_FIELDS = {
    "date", "steps_today", "walking_minutes_today", "movement_minutes_today",
    "walking_target_minutes", "movement_target_minutes", "plan_day", "phase",
    "behind_schedule", "warning_active", "pain_today", "function_today", "devices",
}  # fmt: skip


def check_field_rules(document: Mapping[str, Any], *, base: str, person: str) -> None:
    """Assert that a device discovery document keeps every rule in mqtt-facts.md."""
    assert set(document) <= {"dev", "o", "cmps", "avty", "qos"}
    assert document["dev"]["ids"] == [f"{OBJECT_PREFIX}{person}"]
    assert document["dev"]["name"]
    assert document["o"]["name"] == "recovery-monitor"
    assert document["avty"] == [{"t": f"{base}/status"}]
    components = document["cmps"]
    assert components
    for key, component in components.items():
        platform = component["p"]
        assert platform in ALLOWED, key
        assert component["unique_id"] == f"{OBJECT_PREFIX}{person}_{key}"
        assert set(component) <= COMMON | ALLOWED[platform], (key, set(component))
        assert REQUIRED[platform] <= set(component), key
        for topic_key in ("state_topic", "command_topic"):
            if topic_key in component:
                assert component[topic_key].startswith(f"{base}/"), key
        if component.get("device_class") == "enum":
            assert component["options"]
            assert "state_class" not in component
            assert "unit_of_measurement" not in component
        if component.get("device_class") == "connectivity":
            assert component["expire_after"] > 0
        if component.get("state_topic") == f"{base}/{person}/state":
            used = set(re.findall(r"value_json\.(\w+)", component.get("value_template", "")))
            assert used <= STATE_FIELDS, key
        if "command_topic" in component:
            assert re.fullmatch(
                rf"{base}/{person}/(report/(pain|function|symptom|note)|alert/ack)",
                component["command_topic"],
            ), key


def config(persons: str = TWO_PERSONS, mqtt_extra: str = "") -> Config:
    return parse_config(
        config_toml(database=Path("/tmp/x.db"), port=1883, persons=persons, mqtt_extra=mqtt_extra)
    )


def test_each_person_gets_a_device_that_keeps_the_field_rules() -> None:
    conf = config()
    unique_ids: set[str] = set()
    for person in conf.persons:
        document = discovery_document(conf, person, expire_after_s=900)
        check_field_rules(document, base="recovery", person=person.id)
        ids = {c["unique_id"] for c in document["cmps"].values()}
        assert not ids & unique_ids, "unique ids are unique across persons"
        unique_ids |= ids
        assert len(discovery_payload(conf, person, expire_after_s=900)) < MAX_PACKET_BYTES // 4


def test_the_entities_the_issue_asks_for_are_there() -> None:
    conf = config()
    components = discovery_document(conf, conf.persons[0], expire_after_s=900)["cmps"]
    platforms = {key: c["p"] for key, c in components.items()}
    assert platforms == {
        "steps": "sensor", "walking": "sensor", "movement": "sensor",
        "walking_target": "sensor", "movement_target": "sensor", "plan_day": "sensor",
        "phase": "sensor", "pain": "sensor", "function": "sensor",
        "behind_schedule": "binary_sensor", "warning_active": "binary_sensor",
        "watch_connected": "binary_sensor", "watch_battery": "sensor",
        "shoe_connected": "binary_sensor", "shoe_battery": "sensor",
        "alert": "event", "undelivered_alerts": "sensor",
        "report_pain": "number", "report_function": "number", "report_symptom": "select",
        "report_note": "text", "acknowledge": "button",
    }  # fmt: skip
    assert components["steps"]["state_class"] == "total_increasing"
    assert components["walking"]["device_class"] == "duration"
    assert components["walking"]["unit_of_measurement"] == "min"
    assert components["phase"]["options"] == ["pain_relief", "active", "maintenance"]
    assert components["pain"]["state_class"] == "measurement"
    assert components["behind_schedule"]["device_class"] == "problem"
    assert components["warning_active"]["device_class"] == "safety"
    assert components["watch_connected"]["expire_after"] == 900
    assert components["watch_battery"]["device_class"] == "battery"
    assert components["alert"]["event_types"] == [e.value for e in EventType]
    assert components["alert"]["state_topic"] == "recovery/p1/alert"
    assert components["report_symptom"]["options"] == [k.value for k in SymptomKind]
    assert (components["report_pain"]["min"], components["report_pain"]["max"]) == (0, 10)


@pytest.mark.parametrize(
    ("key", "value", "fields"),
    [
        ("report_pain", 4, {"score": 4}),
        ("report_pain", 7.0, {"score": 7}),
        ("report_function", 10, {"score": 10}),
        ("report_symptom", "night_pain", {"symptom": "night_pain"}),
        (
            "report_note",
            'knee "clicked" <again> & again',
            {"note": 'knee "clicked" <again> & again'},
        ),
        ("acknowledge", "PRESS", {"all": True}),
    ],
)
def test_what_home_assistant_sends_is_a_command_the_service_accepts(
    key: str, value: object, fields: dict[str, object]
) -> None:
    conf = config()
    component = discovery_document(conf, conf.persons[0], expire_after_s=60)["cmps"][key]
    pressed = datetime(2026, 11, 24, 15, 0, 7, 250000, tzinfo=UTC)
    # Home Assistant renders command templates with `value` and its own `now()`.
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - JSON text, not HTML
    payload = environment.from_string(component["command_template"]).render(
        value=value, now=lambda: pressed
    )
    command = parse_command(
        component["command_topic"],
        payload.encode(),
        base="recovery",
        persons={"p1"},
        now=pressed.replace(microsecond=900000),
    )
    assert command.fields == fields
    assert command.at == pressed


def test_no_discovery_without_a_prefix_but_topics_follow_the_config() -> None:
    conf = config(mqtt_extra='base_topic = "home/rec"\ndiscovery_prefix = "ha"')
    assert discovery_topic("ha", "p1") == "ha/device/recovery_p1/config"
    document = discovery_document(conf, conf.persons[1], expire_after_s=60)
    check_field_rules(document, base="home/rec", person="p2")


def ours(pid: str, base: str = "recovery") -> bytes:
    conf = config(
        persons=f'[[person]]\nid = "{pid}"\npain_type = "acute"\nplan_start = 2026-11-23\n',
        mqtt_extra=f'base_topic = "{base}"',
    )
    return json.dumps(discovery_document(conf, conf.persons[0], expire_after_s=60)).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "gone"),
    [
        ("recovery/p9/state", b"{}", "p9"),
        ("recovery/p1/state", b"{}", None),
        ("recovery/p9/state", b"", None),
        ("recovery/p9/alert", b"{}", None),
        ("recovery/a/b/state", b"{}", None),
        ("other/p9/state", b"{}", None),
        ("homeassistant/device/recovery_p9/config", ours("p9"), "p9"),
        ("homeassistant/device/recovery_p1/config", ours("p1"), None),
        # Another service on another base topic, sharing the discovery prefix: not ours.
        ("homeassistant/device/recovery_p9/config", ours("p9", base="elsewhere"), None),
        # Another integration's device with a name like ours.
        ("homeassistant/device/recovery_p9/config", b'{"o": {"name": "z2m"}, "cmps": {}}', None),
        ("homeassistant/device/recovery_p9/config", b"not json", None),
        ("homeassistant/device/zigbee_p9/config", ours("p9"), None),
        ("homeassistant/sensor/recovery_p9/config", ours("p9"), None),
    ],
)
def test_departed_persons_are_found_only_in_our_own_retained_topics(
    topic: str, payload: bytes, gone: str | None
) -> None:
    conf = config()
    found = departed(topic, payload, mqtt=conf.mqtt, persons={"p1", "p2"})
    assert (found.person if found else None) == gone
    if found is not None:
        assert found.topic == topic
