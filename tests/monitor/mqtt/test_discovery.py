"""Home Assistant discovery documents against the field rules, and departed-person detection."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import Config, parse_config
from monitor.mqtt.client import publish_packet_size
from monitor.mqtt.commands import parse_command
from monitor.mqtt.discovery import (
    HA_TEXT_MAX,
    departed,
    discovery_document,
    discovery_messages,
    discovery_payload,
    discovery_topic,
    escape,
    legacy_object_id,
    object_id,
    unescape,
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
                      "payload_on", "payload_off", "json_attributes_topic",
                      "json_attributes_template"},
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
    assert document["dev"]["ids"] == [object_id(base, person)]
    assert document["dev"]["name"]
    assert document["o"]["name"] == "recovery-monitor"
    assert document["avty"] == [{"t": f"{base}/status"}]
    components = document["cmps"]
    assert components
    for key, component in components.items():
        platform = component["p"]
        assert platform in ALLOWED, key
        assert component["unique_id"] == f"{object_id(base, person)}_{key}"
        # Home Assistant up to at least 2025.4 ignores a device-level qos (issue 14).
        assert component["qos"] == 1, key
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
    payload = render_command(component["command_template"], value, pressed)
    command = parse_command(
        component["command_topic"],
        payload.encode(),
        base="recovery",
        persons={"p1"},
        now=pressed.replace(microsecond=900000),
    )
    assert command.fields == fields
    assert command.at == pressed


def render_command(template: str, value: object, pressed: datetime) -> str:
    """A command template rendered as Home Assistant 2025.4 does: `value`, its `now()`, and
    its `to_json` filter (orjson: UTF-8 as it is, homeassistant/helpers/template.py)."""
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - JSON text, not HTML
    environment.filters["to_json"] = lambda v, ensure_ascii=False: json.dumps(
        v, ensure_ascii=ensure_ascii, separators=(",", ":")
    )
    return environment.from_string(template).render(value=value, now=lambda: pressed)


@pytest.mark.parametrize(
    "note",
    [
        "😀" * 200,  # the issue's case: 12 bytes each once escaped, refused `too_large`
        "😀" * HA_TEXT_MAX,
        "é" * HA_TEXT_MAX,
        "a" * HA_TEXT_MAX,
        '"\\' * (HA_TEXT_MAX // 3),
        "line one\nline two\t" + "👩‍👩‍👧" * 20,
    ],
)
def test_every_note_home_assistant_lets_through_is_accepted(note: str) -> None:
    """Home Assistant's text entity allows `max` characters (255); each such note is a command
    the service takes whole."""
    conf = config()
    component = discovery_document(conf, conf.persons[0], expire_after_s=60)["cmps"]["report_note"]
    assert len(note) <= component["max"] == HA_TEXT_MAX
    pressed = datetime(2026, 11, 24, 15, 0, 7, tzinfo=UTC)
    payload = render_command(component["command_template"], note, pressed)
    command = parse_command(
        component["command_topic"], payload.encode(), base="recovery", persons={"p1"}, now=pressed
    )
    assert command.fields == {"note": note}


@given(st.text(max_size=40), st.text(max_size=40))
def test_escaping_is_injective_and_leaves_no_separator(a: str, b: str) -> None:
    assert "_" not in escape(a)
    assert set(escape(a)) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert unescape(escape(a)) == a
    if a != b:
        assert escape(a) != escape(b)


COLLIDING = """
[[person]]
id = "p1"
pain_type = "acute"
plan_start = 2026-11-23

[[person.device]]
id = "a_b"
profile = "rsc"
address = "C7:1E:93:4F:10:2A"

[[person]]
id = "p1_a"
pain_type = "acute"
plan_start = 2026-11-23

[[person.device]]
id = "b"
profile = "rsc"
address = "C7:1E:93:4F:10:2B"
"""


@pytest.mark.parametrize(
    "installs",
    [
        # Ids that contain `_`: joined with `_` they used to give the same unique ids.
        [("recovery", COLLIDING)],
        # Two installs on one broker with the same person id on different base topics.
        [("recovery", TWO_PERSONS), ("recovery2", TWO_PERSONS)],
        [("home/a", TWO_PERSONS), ("home_a", TWO_PERSONS), ("home-a", TWO_PERSONS)],
    ],
)
def test_no_two_entities_devices_or_discovery_topics_share_an_identity(
    installs: list[tuple[str, str]],
) -> None:
    unique_ids: list[str] = []
    devices: list[str] = []
    topics: list[str] = []
    for base, persons in installs:
        conf = config(persons=persons, mqtt_extra=f'base_topic = "{base}"')
        for person in conf.persons:
            document = discovery_document(conf, person, expire_after_s=60)
            check_field_rules(document, base=base, person=person.id)
            unique_ids += [c["unique_id"] for c in document["cmps"].values()]
            devices += document["dev"]["ids"]
            topics.append(discovery_topic("homeassistant", base, person.id))
    assert len(set(unique_ids)) == len(unique_ids)
    assert len(set(devices)) == len(devices)
    assert len(set(topics)) == len(topics)


def test_no_discovery_without_a_prefix_but_topics_follow_the_config() -> None:
    conf = config(mqtt_extra='base_topic = "home/rec"\ndiscovery_prefix = "ha"')
    assert discovery_topic("ha", "home/rec", "p1") == "ha/device/recovery_home-2frec_p1/config"
    assert discovery_topic("ha", "home/rec", "p1", 2) == "ha/device/recovery_home-2frec_p1_2/config"
    document = discovery_document(conf, conf.persons[1], expire_after_s=60)
    check_field_rules(document, base="home/rec", person="p2")


def ours(pid: str, base: str = "recovery") -> bytes:
    conf = config(
        persons=f'[[person]]\nid = "{pid}"\npain_type = "acute"\nplan_start = 2026-11-23\n',
        mqtt_extra=f'base_topic = "{base}"',
    )
    return json.dumps(discovery_document(conf, conf.persons[0], expire_after_s=60)).encode()


def node(pid: str, base: str = "recovery", piece: int = 1) -> str:
    return discovery_topic("homeassistant", base, pid, piece)


def legacy(pid: str) -> str:
    return f"homeassistant/device/{legacy_object_id(pid)}/config"


@pytest.mark.parametrize(
    ("topic", "payload", "gone", "was_departed"),
    [
        ("recovery/p9/state", b"{}", "p9", True),
        ("recovery/p1/state", b"{}", None, True),
        ("recovery/p9/state", b"", None, True),
        ("recovery/p9/alert", b"{}", None, True),
        ("recovery/a/b/state", b"{}", None, True),
        ("other/p9/state", b"{}", None, True),
        (node("p9"), ours("p9"), "p9", True),
        (node("p9", piece=3), ours("p9"), "p9", True),
        (node("p1"), ours("p1"), None, True),
        # A spare piece, or the old ambiguous node, of a person still configured.
        (node("p1", piece=2), ours("p1"), "p1", False),
        (legacy("p1"), ours("p1"), "p1", False),
        (legacy("p9"), ours("p9"), "p9", True),
        # Another service on another base topic, sharing the discovery prefix: not ours.
        (node("p9", base="elsewhere"), ours("p9", base="elsewhere"), None, True),
        (legacy("p9"), ours("p9", base="elsewhere"), None, True),
        (node("p9", base="recovery/b"), ours("p9", base="recovery/b"), None, True),
        (legacy("b_p9"), ours("p9", base="recovery/b"), None, True),
        # Another integration's device with a name like ours.
        (node("p9"), b'{"o": {"name": "z2m"}, "cmps": {}}', None, True),
        (node("p9"), b"not json", None, True),
        ("homeassistant/device/zigbee_p9/config", ours("p9"), None, True),
        ("homeassistant/sensor/recovery_recovery_p9/config", ours("p9"), None, True),
        (node("p9").replace("_p9/", "_p9_x/"), ours("p9"), None, True),
    ],
)
def test_what_is_cleared_is_found_only_in_our_own_retained_topics(
    topic: str, payload: bytes, gone: str | None, was_departed: bool
) -> None:
    conf = config()
    current = [node("p1"), node("p2")]
    found = departed(topic, payload, mqtt=conf.mqtt, persons={"p1", "p2"}, current=current)
    assert (found.person if found else None) == gone
    if found is not None:
        assert found.topic == topic
        assert found.departed is was_departed


def packet_limit(limit: int) -> Callable[[str, bytes], bool]:
    """A broker's Maximum Packet Size, as the client measures a retained QoS 1 publish."""
    return lambda topic, payload: publish_packet_size(topic, payload, qos=1) <= limit


@pytest.mark.parametrize("limit", [4096, 2048, 1500])
def test_discovery_is_spread_over_documents_that_fit_the_broker(limit: int) -> None:
    conf = config()
    person = conf.persons[0]
    whole = discovery_document(conf, person, expire_after_s=60)
    assert len(discovery_payload(conf, person, expire_after_s=60)) > limit  # 6 KB in the issue
    found = discovery_messages(conf, person, expire_after_s=60, fits=packet_limit(limit))
    assert found.left_out == ()
    assert len(found.messages) > 1
    components: dict[str, Any] = {}
    for index, (topic, payload) in enumerate(found.messages, start=1):
        assert topic == node("p1", piece=index)
        assert packet_limit(limit)(topic, payload)
        document = json.loads(payload)
        check_field_rules(document, base="recovery", person="p1")
        assert {k: v for k, v in document.items() if k != "cmps"} == {
            k: v for k, v in whole.items() if k != "cmps"
        }
        components |= document["cmps"]
    assert components == whole["cmps"]
    unlimited = discovery_messages(conf, person, expire_after_s=60)
    assert unlimited.messages == ((node("p1"), discovery_payload(conf, person, expire_after_s=60)),)


def test_what_fits_nowhere_is_named() -> None:
    conf = config()
    found = discovery_messages(conf, conf.persons[0], expire_after_s=60, fits=packet_limit(740))
    assert found.left_out == ("report_symptom",)  # its options make it the largest
    assert "steps" not in found.left_out
    for topic, payload in found.messages:
        assert packet_limit(740)(topic, payload)


@pytest.mark.parametrize("problem", [None, "the wearable refused the setup: check its firmware"])
def test_a_wearables_setup_problem_shows_on_its_connectivity_entity(problem: str | None) -> None:
    conf = config()
    person = conf.persons[0]
    document = discovery_document(conf, person, expire_after_s=900)
    connectivity = [c for c in document["cmps"].values() if c.get("device_class") == "connectivity"]
    assert len(connectivity) == len(person.devices)
    for component, device in zip(connectivity, person.devices, strict=True):
        assert component["json_attributes_topic"] == component["state_topic"]
        state: dict[str, dict[str, dict[str, object]]] = {
            "devices": {d.id: {"connected": False, "problem": None} for d in person.devices}
        }
        state["devices"][device.id]["problem"] = problem
        environment = jinja2.Environment(autoescape=False)  # noqa: S701 - JSON text, not HTML
        rendered = environment.from_string(component["json_attributes_template"]).render(
            value_json=state
        )
        assert json.loads(rendered) == {"problem": problem}
