"""The service against a real Home Assistant Core (see conftest.py): what a user of
docs/home-assistant.md gets. The tests share one Home Assistant and run in file order; the
restart test comes last because it stops and starts Home Assistant.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

import pytest

from simulators.broker import PrivateBroker
from tests.interop.conftest import (
    AUTOMATION_IDS,
    BASE,
    DISCOVERY_TOPIC,
    PERSON,
    TIMINGS,
    Service,
    device_entities,
    wait_for_device,
)
from tests.interop.homeassistant import HomeAssistant, eventually
from tests.interop.watch import Seen, Watcher

STATE_TOPIC = f"{BASE}/{PERSON}/state"
ALERT_TOPIC = f"{BASE}/{PERSON}/alert"
WAIT_S = 60.0


# The table of docs/home-assistant.md: entity name -> (domain, device class, unit, state class).
DOCUMENTED: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "Steps today": ("sensor", None, "steps", "total_increasing"),
    "Walking today": ("sensor", "duration", "min", "total_increasing"),
    "Movement today": ("sensor", "duration", "min", "total_increasing"),
    "Walking target": ("sensor", "duration", "min", None),
    "Movement target": ("sensor", "duration", "min", None),
    "Plan day": ("sensor", None, None, None),
    "Plan phase": ("sensor", "enum", None, None),
    "Pain today": ("sensor", None, None, "measurement"),
    "Function today": ("sensor", None, None, "measurement"),
    "Behind schedule": ("binary_sensor", "problem", None, None),
    "Warning symptom": ("binary_sensor", "safety", None, None),
    "watch connected": ("binary_sensor", "connectivity", None, None),
    "watch battery": ("sensor", "battery", "%", "measurement"),
    "Alert": ("event", None, None, None),
    "Undelivered alerts": ("sensor", None, None, "measurement"),
    "Report pain": ("number", None, None, None),
    "Report function": ("number", None, None, None),
    "Report symptom": ("select", None, None, None),
    "Report note": ("text", None, None, None),
    "Acknowledge alerts": ("button", None, None, None),
}
# Sensors that show one field of the retained state: entity name -> field.
FROM_STATE = {
    "Steps today": "steps_today",
    "Walking today": "walking_minutes_today",
    "Movement today": "movement_minutes_today",
    "Walking target": "walking_target_minutes",
    "Movement target": "movement_target_minutes",
    "Plan day": "plan_day",
    "Plan phase": "phase",
    "Pain today": "pain_today",
    "Function today": "function_today",
    "Behind schedule": "behind_schedule",
    "Warning symptom": "warning_active",
    "Report pain": "pain_today",
    "Report function": "function_today",
}


async def entity_ids(ha: HomeAssistant) -> dict[str, str]:
    """The person's entities in Home Assistant: entity name -> entity id."""
    found = await device_entities(ha)
    assert found is not None, "the person's device is not in Home Assistant's registry"
    return {str(e["original_name"]): str(e["entity_id"]) for e in found[1]}


def shown(value: object) -> str:
    """How Home Assistant shows a state value from the service's JSON."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def same(state: str, value: object) -> bool:
    """Whether a Home Assistant state shows a value of the service's state JSON."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(state) == float(value)
        except ValueError:
            return False
    return state == shown(value)


async def state_of(ha: HomeAssistant, entity_id: str) -> dict[str, Any]:
    """An entity's state object; it must exist."""
    state = await ha.state(entity_id)
    assert state is not None, f"{entity_id} has no state in Home Assistant"
    return state


async def until_state(
    ha: HomeAssistant, entity_id: str, wanted: str, *, within: float = WAIT_S
) -> dict[str, Any]:
    """Wait until an entity shows `wanted`; the state object."""

    async def check() -> dict[str, Any] | None:
        state = await ha.state(entity_id)
        return state if state is not None and same(state["state"], wanted) else None

    return await eventually(check, within=within, what=f"{entity_id} == {wanted!r}")


async def until_logged(service: Service, pattern: str, *, after: int) -> re.Match[str]:
    """Wait until the service logs a line matching `pattern` past offset `after` of its log."""

    async def check() -> re.Match[str] | None:
        return re.search(pattern, service.log()[after:])

    return await eventually(check, within=WAIT_S, what=f"the service to log {pattern!r}")


def latest_state(watcher: Watcher) -> dict[str, Any]:
    """The service's latest retained state, as any subscriber sees it."""
    messages = watcher.on(STATE_TOPIC)
    assert messages, "the service published no state"
    state: dict[str, Any] = json.loads(messages[-1].payload)
    return state


async def next_alert(watcher: Watcher, already: int) -> dict[str, Any]:
    """The first alert after the `already` alerts seen so far."""

    async def check() -> Seen | None:
        alerts = watcher.on(ALERT_TOPIC)
        return alerts[already] if len(alerts) > already else None

    seen = await eventually(check, within=WAIT_S, what="an alert from the service")
    alert: dict[str, Any] = json.loads(seen.payload)
    return alert


async def test_the_device_and_every_documented_entity_appear(
    home_assistant: HomeAssistant, watcher: Watcher
) -> None:
    """The service's device discovery gives one device with the 20 entities of the docs'
    table, each of the documented kind, device class, unit and state class."""
    found = await device_entities(home_assistant)
    assert found is not None
    device, entities = found
    assert device["name"] == f"Recovery {PERSON}"
    assert device["manufacturer"] == "recovery-monitor"
    names = {str(e["original_name"]): e for e in entities}
    assert sorted(names) == sorted(DOCUMENTED)
    assert all(e["platform"] == "mqtt" for e in entities)
    discovery = json.loads(watcher.on(DISCOVERY_TOPIC)[-1].payload)
    assert len(discovery["cmps"]) == len(entities)
    for name, (domain, device_class, unit, state_class) in DOCUMENTED.items():
        entity_id = str(names[name]["entity_id"])
        assert entity_id.startswith(domain + "."), (name, entity_id)
        attributes = (await state_of(home_assistant, entity_id))["attributes"]
        assert attributes.get("device_class") == device_class, name
        assert attributes.get("unit_of_measurement") == unit, name
        assert attributes.get("state_class") == state_class, name


async def test_every_entity_shows_the_services_state(
    home_assistant: HomeAssistant, watcher: Watcher
) -> None:
    """Each state sensor, binary sensor and number shows its field of the retained state;
    the watch's connectivity and battery show the watch's; actions start empty."""
    ids = await entity_ids(home_assistant)
    wrong: list[str] = []

    async def matches() -> bool | None:
        state = latest_state(watcher)
        expected: dict[str, object] = {name: state[field] for name, field in FROM_STATE.items()}
        expected["watch connected"] = state["devices"]["watch"]["connected"]
        expected["watch battery"] = state["devices"]["watch"]["battery"]
        wrong.clear()
        for name, value in expected.items():
            shown_state = (await state_of(home_assistant, ids[name]))["state"]
            if not same(shown_state, value):
                wrong.append(f"{name}: {shown_state!r} != {value!r}")
        return None if wrong else True

    try:
        await eventually(matches, within=WAIT_S, what="every entity to show the service's state")
    except TimeoutError as timeout:
        pytest.fail(f"{timeout}: {wrong}")
    assert (await state_of(home_assistant, ids["Report symptom"]))["state"] == "unknown"
    assert (await state_of(home_assistant, ids["Report note"]))["state"] == ""
    for name in DOCUMENTED:
        assert (await state_of(home_assistant, ids[name]))["state"] != "unavailable", name


async def test_undelivered_alerts_reads_zero_on_a_healthy_install(
    home_assistant: HomeAssistant,
) -> None:
    """A healthy install shows 0 undelivered alerts, not `unknown`."""
    ids = await entity_ids(home_assistant)
    await until_state(home_assistant, ids["Undelivered alerts"], "0", within=30.0)


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [("Report pain", "pain_today", 4), ("Report function", "function_today", 7)],
)
async def test_a_score_set_in_home_assistant_is_stored_and_shown(
    home_assistant: HomeAssistant,
    service: Service,
    watcher: Watcher,
    name: str,
    field: str,
    value: int,
) -> None:
    """Setting a number entity publishes a report the service stores, and the day's score comes
    back through the retained state to the sensor and the number itself."""
    ids = await entity_ids(home_assistant)
    offset = len(service.log())
    await home_assistant.call("number", "set_value", {"entity_id": ids[name], "value": value})
    await until_logged(service, rf"{PERSON}: report \d+ stored", after=offset)
    sensor = "Pain today" if field == "pain_today" else "Function today"
    await until_state(home_assistant, ids[sensor], str(value))
    await until_state(home_assistant, ids[name], str(value))
    assert latest_state(watcher)[field] == value


async def test_a_symptom_reported_in_home_assistant_alerts_the_event_entity_and_the_phone(
    home_assistant: HomeAssistant, service: Service, watcher: Watcher
) -> None:
    """Choosing a symptom reaches the service, whose critical alert reaches the Alert event
    entity (same id and event type) and, through the documented automation, the phone's
    notify action; the warning binary sensor turns on."""
    ids = await entity_ids(home_assistant)
    alerts_before = len(watcher.on(ALERT_TOPIC))
    offset = len(service.log())
    await home_assistant.call(
        "select",
        "select_option",
        {"entity_id": ids["Report symptom"], "option": "leg_weakness"},
    )
    await until_logged(service, rf"{PERSON}: report \d+ stored", after=offset)
    alert = await next_alert(watcher, alerts_before)
    assert alert["severity"] == "critical"

    async def event_shown() -> dict[str, Any] | None:
        state = await state_of(home_assistant, ids["Alert"])
        return state if state["attributes"].get("id") == alert["id"] else None

    event = await eventually(event_shown, within=WAIT_S, what="the alert on the event entity")
    assert event["attributes"]["event_type"] == alert["event_type"]
    assert event["attributes"]["severity"] == "critical"
    await until_state(home_assistant, ids["Warning symptom"], "on")
    notifications = home_assistant.config_dir / "notifications.txt"

    async def notified() -> bool | None:
        text = notifications.read_text(encoding="utf-8") if notifications.exists() else ""
        return True if alert["message"].strip() in text else None

    try:
        await eventually(notified, within=WAIT_S, what="the documented automation's notification")
    except TimeoutError as timeout:
        traces = await home_assistant.ws({"type": "trace/list", "domain": "automation"})
        pytest.fail(f"{timeout}; automation traces: {json.dumps(traces)[:3000]}")


async def test_a_note_set_in_home_assistant_is_stored(
    home_assistant: HomeAssistant, service: Service, watcher: Watcher
) -> None:
    """The text entity publishes a note the service stores (and refuses nothing)."""
    ids = await entity_ids(home_assistant)
    errors_before = len(watcher.on(f"{BASE}/{PERSON}/error"))
    offset = len(service.log())
    await home_assistant.call(
        "text", "set_value", {"entity_id": ids["Report note"], "value": "Stiff after the bus ride"}
    )
    await until_logged(service, rf"{PERSON}: report \d+ is a note report", after=offset)
    assert len(watcher.on(f"{BASE}/{PERSON}/error")) == errors_before


async def test_the_phone_acknowledgement_automation_acknowledges_the_alert(
    home_assistant: HomeAssistant, service: Service, watcher: Watcher
) -> None:
    """The docs' second automation, run by the companion app's action event, publishes an
    acknowledgement of one alert at QoS 1 that the service accepts."""
    alerts_before = len(watcher.on(ALERT_TOPIC))
    watcher.publish(f"{BASE}/{PERSON}/report/symptom", json.dumps({"symptom": "night_pain"}), qos=1)
    alert = await next_alert(watcher, alerts_before)
    offset = len(service.log())
    await home_assistant.fire(
        "mobile_app_notification_action", {"action": f"RECOVERY_ACK:{PERSON}:{alert['id']}"}
    )

    async def acknowledged() -> Seen | None:
        acks = watcher.on(f"{BASE}/{PERSON}/alert/ack")
        return next((m for m in acks if alert["id"] in m.text), None)

    ack = await eventually(acknowledged, within=WAIT_S, what="the automation's acknowledgement")
    assert json.loads(ack.payload) == {"id": alert["id"]}
    assert ack.qos == 1
    await until_logged(service, rf"{PERSON}: 1 alert\(s\) acknowledged", after=offset)


async def test_the_acknowledge_button_acknowledges_waiting_alerts(
    home_assistant: HomeAssistant, service: Service, watcher: Watcher
) -> None:
    """Pressing the button acknowledges every alert still waiting for it."""
    ids = await entity_ids(home_assistant)
    alerts_before = len(watcher.on(ALERT_TOPIC))
    watcher.publish(
        f"{BASE}/{PERSON}/report/symptom", json.dumps({"symptom": "severe_stiffness"}), qos=1
    )
    await next_alert(watcher, alerts_before)
    offset = len(service.log())
    await home_assistant.call("button", "press", {"entity_id": ids["Acknowledge alerts"]})
    match = await until_logged(service, rf"{PERSON}: (\d+) alert\(s\) acknowledged", after=offset)
    assert int(match.group(1)) >= 1


async def test_the_documented_automations_pass_home_assistants_config_check(
    home_assistant: HomeAssistant,
) -> None:
    """Home Assistant's own check_config accepts the docs' automations, and both are loaded
    and on."""
    with TIMINGS.phase("check_config"):
        result = await home_assistant.check_config()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed config" not in result.stdout, result.stdout
    states = await home_assistant.automation_states()
    for automation in AUTOMATION_IDS:
        assert states[automation]["state"] == "on", automation


async def test_commands_from_home_assistant_travel_at_qos_1(
    home_assistant: HomeAssistant, service: Service, watcher: Watcher
) -> None:
    """A command Home Assistant publishes (here: a pain score) reaches the broker at QoS 1."""
    ids = await entity_ids(home_assistant)
    topic = f"{BASE}/{PERSON}/report/pain"
    before = len(watcher.on(topic))
    await home_assistant.call("number", "set_value", {"entity_id": ids["Report pain"], "value": 3})

    async def published() -> Seen | None:
        found = watcher.on(topic)
        return found[before] if len(found) > before else None

    command = await eventually(published, within=WAIT_S, what="Home Assistant's command")
    assert command.qos == 1


async def test_home_assistant_subscribes_to_alerts_at_qos_1(
    home_assistant: HomeAssistant, interop_broker: PrivateBroker
) -> None:
    """The broker's log shows Home Assistant's subscriptions to the alerts, the event entity's
    and the documented automation's trigger, at QoS 1."""
    topics = (ALERT_TOPIC, f"{BASE}/+/alert")

    async def subscribed() -> dict[str, set[int]] | None:
        log = (interop_broker.workdir / "mosquitto.log").read_text(encoding="utf-8")
        # "<time>: <client id> <qos> <topic>"; the watcher subscribes to recovery/# instead.
        qos: dict[str, set[int]] = {}
        for topic in topics:
            lines = [line.split() for line in log.splitlines() if line.endswith(" " + topic)]
            qos[topic] = {int(parts[-2]) for parts in lines if len(parts) == 4}
        return qos if all(qos.values()) else None

    qos = await eventually(subscribed, within=WAIT_S, what=f"subscriptions to {topics}")
    assert qos == {ALERT_TOPIC: {1}, f"{BASE}/+/alert": {1}}


async def test_an_alert_raised_while_home_assistant_restarts_reaches_the_event_entity(
    home_assistant: HomeAssistant, service: Service, watcher: Watcher
) -> None:
    """An alert raised while Home Assistant is stopped reaches its Alert event entity once it
    is back (the phone automation then runs)."""
    ids = await entity_ids(home_assistant)
    offline_before = len(watcher.on("homeassistant/status"))
    started = time.monotonic()
    with TIMINGS.phase("restart Home Assistant"):
        await home_assistant.stop()

        async def said_offline() -> bool | None:
            said = watcher.on("homeassistant/status")[offline_before:]
            return True if any(m.payload == b"offline" for m in said) else None

        await eventually(said_offline, within=WAIT_S, what="Home Assistant's offline message")
        alerts_before = len(watcher.on(ALERT_TOPIC))
        watcher.publish(
            f"{BASE}/{PERSON}/report/symptom", json.dumps({"symptom": "leg_weakness"}), qos=1
        )
        alert = await next_alert(watcher, alerts_before)
        await home_assistant.start()
        await wait_for_device(home_assistant, len(DOCUMENTED))
    TIMINGS.phases["Home Assistant away (s)"] = time.monotonic() - started

    async def event_shown() -> bool | None:
        state = await home_assistant.state(ids["Alert"])
        ok = state is not None and state["attributes"].get("id") == alert["id"]
        return True if ok else None

    try:
        await eventually(event_shown, within=WAIT_S, what="the alert raised while away")
    except TimeoutError as timeout:
        state: Mapping[str, Any] = await state_of(home_assistant, ids["Alert"])
        pytest.fail(f"{timeout}; the event entity shows {state['attributes'].get('id')}")
