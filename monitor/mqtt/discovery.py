"""Home Assistant MQTT discovery, pure: one device per person, built from the config alone.

Device-based discovery (`<prefix>/device/recovery_<pid>/config`): `dev` and `o` at the root, the
entities under `cmps`, each with its platform `p` and a `unique_id`. Entities read the person's
retained state topic and the alert topic; the number, select, text and button entities publish
to the person's command topics. All of them follow the service's availability (`<base>/status`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from monitor.config import Config, MqttConfig, PersonConfig
from monitor.recovery.alerts import EventType
from monitor.recovery.plan import Phase
from monitor.recovery.symptoms import SymptomKind

ORIGIN_NAME = "recovery-monitor"
OBJECT_PREFIX = "recovery_"
# The retained diagnostics topic under the base topic (see monitor/mqtt/diagnostics.py).
DIAGNOSTICS_SUFFIX = "diagnostics"
# HA's text entity refuses longer values; the service itself takes notes of up to 500 characters.
HA_TEXT_MAX = 255


def _software_version() -> str:
    try:
        return metadata.version("recovery-monitor")
    except metadata.PackageNotFoundError:
        return "dev"


SOFTWARE_VERSION = _software_version()


def object_id(person_id: str) -> str:
    """The discovery object id of a person's device."""
    return f"{OBJECT_PREFIX}{person_id}"


def discovery_topic(prefix: str, person_id: str) -> str:
    """Where a person's device discovery document is published (retained)."""
    return f"{prefix}/device/{object_id(person_id)}/config"


def birth_topic(prefix: str) -> str:
    """Where Home Assistant announces itself (`online`) and its end (`offline`)."""
    return f"{prefix}/status"


def state_topic(base: str, person_id: str) -> str:
    """A person's retained state topic."""
    return f"{base}/{person_id}/state"


def discovery_document(
    config: Config, person: PersonConfig, *, expire_after_s: int
) -> dict[str, Any]:
    """The device discovery document for one person.

    `expire_after_s`: a wearable's connectivity turns unavailable in Home Assistant when no state
    message has arrived for this long (the state is refreshed well within it).
    """
    mqtt = config.mqtt
    pid = person.id
    base = f"{mqtt.base_topic}/{pid}"
    state = f"{base}/state"
    uid = object_id(pid)
    components: dict[str, dict[str, Any]] = {}

    def add(key: str, platform: str, name: str, **options: Any) -> None:
        components[key] = {"p": platform, "name": name, "unique_id": f"{uid}_{key}", **options}

    def from_state(field: str) -> str:
        return "{{ value_json." + field + " }}"

    def flag(field: str) -> str:
        return "{{ 'ON' if value_json." + field + " else 'OFF' }}"

    add(
        "steps",
        "sensor",
        "Steps today",
        state_topic=state,
        value_template=from_state("steps_today"),
        unit_of_measurement="steps",
        state_class="total_increasing",
        icon="mdi:walk",
    )
    add(
        "walking",
        "sensor",
        "Walking today",
        state_topic=state,
        value_template=from_state("walking_minutes_today"),
        device_class="duration",
        unit_of_measurement="min",
        state_class="total_increasing",
        suggested_display_precision=0,
    )
    add(
        "movement",
        "sensor",
        "Movement today",
        state_topic=state,
        value_template=from_state("movement_minutes_today"),
        device_class="duration",
        unit_of_measurement="min",
        state_class="total_increasing",
        suggested_display_precision=0,
    )
    add(
        "walking_target",
        "sensor",
        "Walking target",
        state_topic=state,
        value_template=from_state("walking_target_minutes"),
        device_class="duration",
        unit_of_measurement="min",
        icon="mdi:flag-checkered",
    )
    add(
        "movement_target",
        "sensor",
        "Movement target",
        state_topic=state,
        value_template=from_state("movement_target_minutes"),
        device_class="duration",
        unit_of_measurement="min",
        icon="mdi:flag-checkered",
    )
    add(
        "plan_day",
        "sensor",
        "Plan day",
        state_topic=state,
        value_template=from_state("plan_day"),
        icon="mdi:calendar-today",
    )
    add(
        "phase",
        "sensor",
        "Plan phase",
        state_topic=state,
        value_template=from_state("phase"),
        device_class="enum",
        options=[phase.label for phase in Phase],
    )
    add(
        "pain",
        "sensor",
        "Pain today",
        state_topic=state,
        value_template=from_state("pain_today"),
        state_class="measurement",
        icon="mdi:emoticon-sad-outline",
    )
    add(
        "function",
        "sensor",
        "Function today",
        state_topic=state,
        value_template=from_state("function_today"),
        state_class="measurement",
        icon="mdi:human-handsup",
    )
    add(
        "behind_schedule",
        "binary_sensor",
        "Behind schedule",
        state_topic=state,
        value_template=flag("behind_schedule"),
        device_class="problem",
    )
    add(
        "warning_active",
        "binary_sensor",
        "Warning symptom",
        state_topic=state,
        value_template=flag("warning_active"),
        device_class="safety",
    )
    for device in person.devices:
        entry = f"value_json.devices['{device.id}']"
        add(
            f"{device.id}_connected",
            "binary_sensor",
            f"{device.id} connected",
            state_topic=state,
            device_class="connectivity",
            expire_after=expire_after_s,
            value_template="{{ 'ON' if " + entry + ".connected else 'OFF' }}",
            entity_category="diagnostic",
        )
        add(
            f"{device.id}_battery",
            "sensor",
            f"{device.id} battery",
            state_topic=state,
            device_class="battery",
            unit_of_measurement="%",
            state_class="measurement",
            value_template="{{ " + entry + ".battery }}",
            entity_category="diagnostic",
        )
    add(
        "alert",
        "event",
        "Alert",
        state_topic=f"{base}/alert",
        event_types=[event.value for event in EventType],
        icon="mdi:bell-alert",
    )
    add(
        "undelivered_alerts",
        "sensor",
        "Undelivered alerts",
        state_topic=f"{mqtt.base_topic}/{DIAGNOSTICS_SUFFIX}",
        value_template="{{ value_json.undelivered_alerts['" + pid + "'] | default(0) }}",
        state_class="measurement",
        entity_category="diagnostic",
        icon="mdi:bell-cancel",
    )
    # Every command carries the moment of the press: two presses are two reports, while a
    # redelivery of one press stays a duplicate.
    at = '"at": "{{ now().isoformat() }}"'
    add(
        "report_pain",
        "number",
        "Report pain",
        command_topic=f"{base}/report/pain",
        command_template='{"score": {{ value }}, ' + at + "}",
        state_topic=state,
        value_template=from_state("pain_today"),
        min=0,
        max=10,
        step=1,
        mode="slider",
        icon="mdi:emoticon-sad-outline",
    )
    add(
        "report_function",
        "number",
        "Report function",
        command_topic=f"{base}/report/function",
        command_template='{"score": {{ value }}, ' + at + "}",
        state_topic=state,
        value_template=from_state("function_today"),
        min=0,
        max=10,
        step=1,
        mode="slider",
        icon="mdi:human-handsup",
    )
    # The select falls back to "unknown" with every state message ("None"), so that the same
    # symptom can be reported again and a past choice does not linger on the dashboard.
    add(
        "report_symptom",
        "select",
        "Report symptom",
        command_topic=f"{base}/report/symptom",
        command_template='{"symptom": "{{ value }}", ' + at + "}",
        options=[k.value for k in SymptomKind],
        state_topic=state,
        value_template="None",
        icon="mdi:alert-circle-outline",
    )
    # A note is emptied by the next state message: it lives in the service's database only.
    add(
        "report_note",
        "text",
        "Report note",
        command_topic=f"{base}/report/note",
        command_template='{"note": {{ value | tojson }}, ' + at + "}",
        state_topic=state,
        value_template="{{ '' }}",
        max=HA_TEXT_MAX,
        mode="text",
        icon="mdi:note-edit-outline",
    )
    # For the button, `at` also bounds what is acknowledged: nothing raised after the press.
    add(
        "acknowledge",
        "button",
        "Acknowledge alerts",
        command_topic=f"{base}/alert/ack",
        command_template='{"all": true, ' + at + "}",
        icon="mdi:check-circle-outline",
    )
    return {
        "dev": {
            "ids": [uid],
            "name": f"Recovery {pid}",
            "mf": ORIGIN_NAME,
            "mdl": "Recovery plan",
            "sw": SOFTWARE_VERSION,
        },
        "o": {"name": ORIGIN_NAME, "sw": SOFTWARE_VERSION},
        "avty": [{"t": f"{mqtt.base_topic}/status"}],
        "qos": 1,
        "cmps": components,
    }  # fmt: skip


def discovery_payload(config: Config, person: PersonConfig, *, expire_after_s: int) -> bytes:
    """The discovery document as the bytes to publish."""
    document = discovery_document(config, person, expire_after_s=expire_after_s)
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Departed:
    """A retained topic of ours that names a person no longer in the config: clear it."""

    person: str
    topic: str


def departed(topic: str, payload: bytes, *, mqtt: MqttConfig, persons: set[str]) -> Departed | None:
    """Whether a retained message is ours and about a person who has left the config.

    Ours: the state topic under our base topic, or a device discovery document of ours (our
    origin, and every entity's topics under `<base>/<pid>/`), so a second service or another
    integration sharing the broker is never touched.
    """
    if not payload:
        return None
    base = mqtt.base_topic
    parts = topic.split("/")
    if topic.startswith(base + "/") and topic.endswith("/state"):
        middle = topic[len(base) + 1 : -len("/state")]
        if "/" not in middle and middle and middle not in persons:
            return Departed(middle, topic)
        return None
    prefix = mqtt.discovery_prefix
    if not prefix or not topic.startswith(prefix + "/device/") or parts[-1] != "config":
        return None
    node = topic[len(prefix) + len("/device/") : -len("/config")]
    if not node.startswith(OBJECT_PREFIX):
        return None
    pid = node[len(OBJECT_PREFIX) :]
    if not pid or "/" in pid or pid in persons:
        return None
    return Departed(pid, topic) if _is_ours(payload, base, pid) else None


def _is_ours(payload: bytes, base: str, pid: str) -> bool:
    """Published by a recovery-monitor on our base topic, for this person."""
    try:
        document = json.loads(payload)
    except ValueError:
        return False
    if not isinstance(document, dict) or not isinstance(document.get("o"), dict):
        return False
    components = document.get("cmps")
    if document["o"].get("name") != ORIGIN_NAME or not isinstance(components, dict):
        return False
    topics = [
        str(component.get(key))
        for component in components.values()
        if isinstance(component, dict)
        for key in ("state_topic", "command_topic")
        if component.get(key) is not None
    ]
    return (
        bool(topics)
        and all(topic.startswith(f"{base}/") for topic in topics)
        and any(topic.startswith(f"{base}/{pid}/") for topic in topics)
    )
