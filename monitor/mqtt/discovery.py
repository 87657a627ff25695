"""Home Assistant MQTT discovery, pure: one device per person, built from the config alone.

Device-based discovery (`<prefix>/device/<node>/config`, Home Assistant 2024.11 or later): `dev`
and `o` at the root, the entities under `cmps`, each with its platform `p`, a `unique_id` and
`qos` (Home Assistant up to at least 2025.4 ignores a device-level `qos`). Entities read the
person's retained state topic and the alert topic; the number, select, text and button entities
publish to the person's command topics. All of them follow the service's availability
(`<base>/status`).

Identity: the node, device id and unique ids are `recovery_<install>_<person>[_<key>]`, where
install and person are the base topic and the person id escaped by `escape` (no `_` inside),
so two installs on one broker, or ids that contain `_`, never share one.
When the broker's maximum packet size is too small for one document, the entities are spread
over several documents for the same device (`<node>_2`, `<node>_3`, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import monitor
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


# The package's own version (pyproject.toml reads it from there): no importlib.metadata, which
# costs the service about 3 MB of memory for this one string.
SOFTWARE_VERSION = monitor.__version__


# Characters kept as they are by `escape`; every other byte of the UTF-8 becomes `-xx`.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# The QoS of each entity's subscription and commands: at least once, like the alerts.
QOS = 1


def escape(text: str) -> str:
    """`text` in `[a-z0-9-]`, injectively: each other UTF-8 byte (`-` and `_` too) is `-xx`.

    So escaped parts never contain `_` and can be joined with it without ambiguity.
    """
    return "".join(
        chr(byte) if chr(byte) in _PLAIN else f"-{byte:02x}" for byte in text.encode("utf-8")
    )


def object_id(base: str, person_id: str) -> str:
    """The discovery node id of a person's device, namespaced by the install's base topic."""
    return f"{OBJECT_PREFIX}{escape(base)}_{escape(person_id)}"


def legacy_object_id(person_id: str) -> str:
    """The node id versions before 0.2 used (`recovery_<pid>`): ambiguous, cleared at connect."""
    return f"{OBJECT_PREFIX}{person_id}"


def discovery_topic(prefix: str, base: str, person_id: str, part: int = 1) -> str:
    """Where a person's device discovery document (or its `part`-th piece) is published."""
    node = object_id(base, person_id)
    return f"{prefix}/device/{node if part == 1 else f'{node}_{part}'}/config"


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
    uid = object_id(mqtt.base_topic, pid)
    components: dict[str, dict[str, Any]] = {}

    def add(key: str, platform: str, name: str, **options: Any) -> None:
        components[key] = {
            "p": platform,
            "name": name,
            "unique_id": f"{uid}_{key}",
            "qos": QOS,
            **options,
        }

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
        # The key goes into the unique id: escaped, so that `_` in a device id stays unambiguous.
        key = escape(device.id)
        add(
            f"{key}_connected",
            "binary_sensor",
            f"{device.id} connected",
            state_topic=state,
            device_class="connectivity",
            expire_after=expire_after_s,
            value_template="{{ 'ON' if " + entry + ".connected else 'OFF' }}",
            # Why a wearable cannot be used (a link setup problem, devices/ble.py), shown as an
            # attribute of its connectivity entity; null while it works.
            json_attributes_topic=state,
            json_attributes_template="{{ {'problem': " + entry + ".problem} | tojson }}",
            entity_category="diagnostic",
        )
        add(
            f"{key}_battery",
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
    # Home Assistant's `to_json` writes UTF-8 as it is (Jinja's `tojson` escapes each emoji
    # into 12 bytes), so the 255 characters its text entity allows fit the command's bytes.
    add(
        "report_note",
        "text",
        "Report note",
        command_topic=f"{base}/report/note",
        command_template='{"note": {{ value | to_json }}, ' + at + "}",
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
        "qos": QOS,
        "cmps": components,
    }  # fmt: skip


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def discovery_payload(config: Config, person: PersonConfig, *, expire_after_s: int) -> bytes:
    """The discovery document as the bytes to publish."""
    return _encode(discovery_document(config, person, expire_after_s=expire_after_s))


@dataclass(frozen=True, slots=True)
class Discovery:
    """A person's discovery as published: (topic, payload) pieces, and the entities in none."""

    messages: tuple[tuple[str, bytes], ...]
    left_out: tuple[str, ...]


def discovery_messages(
    config: Config,
    person: PersonConfig,
    *,
    expire_after_s: int,
    fits: Callable[[str, bytes], bool] | None = None,
) -> Discovery:
    """One document if it fits the broker (`fits(topic, payload)`), else as few as fit.

    Entities are packed in order; one that does not fit even alone (with the device and origin
    blocks) is left out and named in `left_out`. `fits=None`: no limit.
    """
    mqtt = config.mqtt
    prefix, base, pid = mqtt.discovery_prefix, mqtt.base_topic, person.id
    document = discovery_document(config, person, expire_after_s=expire_after_s)
    whole = _encode(document)
    if fits is None or fits(discovery_topic(prefix, base, pid), whole):
        return Discovery(((discovery_topic(prefix, base, pid), whole),), ())
    envelope = {key: value for key, value in document.items() if key != "cmps"}
    pieces: list[tuple[str, bytes]] = []
    left_out: list[str] = []
    current: dict[str, Any] = {}
    packed = b""
    for key, component in document["cmps"].items():
        topic = discovery_topic(prefix, base, pid, len(pieces) + 1)
        trial = _encode({**envelope, "cmps": {**current, key: component}})
        if fits(topic, trial):
            current, packed = {**current, key: component}, trial
            continue
        if current:
            pieces.append((topic, packed))
            topic = discovery_topic(prefix, base, pid, len(pieces) + 1)
        alone = _encode({**envelope, "cmps": {key: component}})
        if fits(topic, alone):
            current, packed = {key: component}, alone
        else:
            current, packed = {}, b""
            left_out.append(key)
    if current:
        pieces.append((discovery_topic(prefix, base, pid, len(pieces) + 1), packed))
    return Discovery(tuple(pieces), tuple(left_out))


def unescape(text: str) -> str | None:
    """The inverse of `escape`; None if `text` is not something `escape` returns."""
    out = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char in _PLAIN:
            out.append(ord(char))
            index += 1
            continue
        code = text[index + 1 : index + 3]
        if char != "-" or len(code) != 2 or not all(c in "0123456789abcdef" for c in code):
            return None
        byte = int(code, 16)
        if chr(byte) in _PLAIN:
            return None  # escape never writes a plain character as `-xx`
        out.append(byte)
        index += 3
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True, slots=True)
class Departed:
    """A retained topic of ours to clear: about a person no longer in the config (`departed`),
    or a discovery document of a configured person on a node no longer used (an old id, a
    spare piece)."""

    person: str
    topic: str
    departed: bool = True
    discovery: bool = False


def departed(
    topic: str,
    payload: bytes,
    *,
    mqtt: MqttConfig,
    persons: set[str],
    current: Iterable[str] | None = None,
) -> Departed | None:
    """Whether a retained message is ours and to be cleared.

    Ours: the state topic under our base topic, or a device discovery document of ours (our
    origin, every entity's topics under `<base>/`, and its node ours: `recovery_<install>_<pid>`
    with an optional piece number, or the old `recovery_<pid>` with the entities under
    `<base>/<pid>/`), so a second service or another integration sharing the broker is never
    touched. A discovery document of a configured person is cleared when its topic is not in
    `current` (the topics published now); `current=None`: only departed persons.
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
    pid = _node_person(node, base)
    if pid is None or not _is_ours(payload, base, pid):
        return None
    if pid not in persons:
        return Departed(pid, topic, discovery=True)
    if current is not None and topic not in set(current):
        return Departed(pid, topic, departed=False, discovery=True)
    return None


def _node_person(node: str, base: str) -> str | None:
    """The person a discovery node of ours names (current or old form), if it is one."""
    ours = f"{OBJECT_PREFIX}{escape(base)}_"
    if node.startswith(ours):
        person, _, piece = node[len(ours) :].partition("_")
        if piece and not (piece.isdigit() and int(piece) >= 2):
            return None
        return unescape(person) or None
    if node.startswith(OBJECT_PREFIX) and "/" not in node and len(node) > len(OBJECT_PREFIX):
        return node[len(OBJECT_PREFIX) :]
    return None


def _is_ours(payload: bytes, base: str, pid: str) -> bool:
    """Published by a recovery-monitor on our base topic, for this person (or its install)."""
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
    if not topics or not all(topic.startswith(f"{base}/") for topic in topics):
        return False
    # A piece may hold only install-wide entities (diagnostics); the others name the person.
    named = [topic for topic in topics if topic[len(base) + 1 :].count("/")]
    return all(topic.startswith(f"{base}/{pid}/") for topic in named)
