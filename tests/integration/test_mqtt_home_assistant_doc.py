"""The examples in docs/home-assistant.md, run against the real service: the HA automations'
templates rendered with real alerts, the Node-RED flow's functions run in Node.js, and the
acknowledgements they produce sent back to the service."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
import yaml

from monitor.clock import SimulatedClock
from monitor.config import Config
from monitor.recovery.alerts import AlertDraft, EventType, Severity
from tests.conftest import ConfigFactory
from tests.integration.conftest import REPO, monday, until
from tests.probe import MqttProbe, Received, running

DOC = (REPO / "docs" / "home-assistant.md").read_text(encoding="utf-8")
ALERT_FIELDS = {
    "id", "event_type", "severity", "priority", "title", "message", "created_at", "person",
    "requires_ack", "data", "schema",
}  # fmt: skip


def blocks(language: str) -> list[str]:
    """The fenced code blocks of one language in the doc."""
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def rendered(value: Any, **context: Any) -> Any:
    """Every template string in a structure rendered as Home Assistant would (plain Jinja)."""
    if isinstance(value, str) and "{{" in value:
        environment = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)  # noqa: S701 - text, not HTML
        return environment.from_string(value).render(**context)
    if isinstance(value, dict):
        return {key: rendered(item, **context) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(item, **context) for item in value]
    return value


def matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching, for the `+` wildcards the examples use."""
    wanted, parts = pattern.split("/"), topic.split("/")
    return len(wanted) == len(parts) and all(
        w in ("+", p) for w, p in zip(wanted, parts, strict=True)
    )


def automations() -> dict[str, dict[str, Any]]:
    (text,) = blocks("yaml")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, list)
    for automation in loaded:
        assert set(automation) <= {"id", "alias", "mode", "triggers", "conditions", "actions"}
        assert automation["triggers"]
        assert automation["actions"]
    return {automation["id"]: automation for automation in loaded}


async def alert_from_the_service(probe: MqttProbe, count: int) -> dict[str, Any]:
    messages = await probe.wait_for(lambda m: len(m) >= count)
    message: Received = messages[count - 1]
    alert: dict[str, Any] = message.json()
    alert["_topic"] = message.topic
    return alert


def push(automation: dict[str, Any], alert: dict[str, Any]) -> dict[str, Any]:
    """What the alert automation asks the companion app to show for an alert."""
    (trigger,) = automation["triggers"]
    assert trigger["trigger"] == "mqtt"
    # Home Assistant's MQTT trigger subscribes at QoS 0 unless told (issue 14).
    assert trigger["qos"] == 1
    assert matches(trigger["topic"], alert["_topic"])
    payload = {k: v for k, v in alert.items() if k != "_topic"}
    context = {"trigger": {"topic": alert["_topic"], "payload_json": payload}}
    (choose,) = automation["actions"]
    for option in choose["choose"]:
        (condition,) = option["conditions"]
        assert condition["condition"] == "template"
        if rendered(condition["value_template"], **context) == "True":
            (step,) = option["sequence"]
            break
    else:
        (step,) = choose["default"]
    assert step["action"].startswith("notify.mobile_app_")
    used = set(re.findall(r"payload_json\.(\w+)", json.dumps(step)))
    assert used <= ALERT_FIELDS
    result: dict[str, Any] = rendered(step["data"], **context)
    return result


async def test_the_home_assistant_automations_push_alerts_and_acknowledge_them(
    make_config: ConfigFactory,
) -> None:
    config: Config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    examples = automations()
    async with (
        running(config, clock) as app,
        MqttProbe(config.mqtt, ["recovery/+/alert"]) as ha,
    ):
        assert app.store is not None
        assert app.alerter is not None
        store = app.store
        ha.client.publish("recovery/p1/report/symptom", b'{"symptom": "leg_numbness_tingling"}')
        critical = await alert_from_the_service(ha, 1)
        assert critical["severity"] == "critical"
        shown = push(examples["recovery_alert_to_phone"], critical)
        assert shown["title"] == critical["title"]
        assert shown["message"] == critical["message"]
        assert shown["data"]["tag"] == f"recovery-{critical['id']}"
        assert shown["data"]["push"]["interruption-level"] == "critical"
        assert shown["data"]["push"]["sound"]["critical"] == 1
        assert (shown["data"]["priority"], shown["data"]["ttl"]) == ("high", 0)
        assert shown["data"]["channel"] == "alarm_stream"
        (button,) = shown["data"]["actions"]
        assert button["title"] == "Acknowledge"

        # The phone's button press comes back as an event; the second automation answers it.
        acknowledge = examples["recovery_alert_acknowledged"]
        (trigger,) = acknowledge["triggers"]
        assert trigger["event_type"] == "mobile_app_notification_action"
        event = {"trigger": {"event": {"data": {"action": button["action"]}}}}
        (condition,) = acknowledge["conditions"]
        assert rendered(condition["value_template"], **event) == "True"
        (publish,) = acknowledge["actions"]
        assert publish["action"] == "mqtt.publish"
        data = rendered(publish["data"], **event)
        assert data["topic"] == "recovery/p1/alert/ack"
        ha.client.publish(data["topic"], data["payload"].encode(), qos=data["qos"])

        async def acknowledged() -> bool:
            (alert,) = await store.alerts("p1")
            return alert.acked_at is not None

        await until(acknowledged)
        other = {"trigger": {"event": {"data": {"action": "SOMETHING_ELSE"}}}}
        assert rendered(condition["value_template"], **other) == "False"

        for count, severity, level, kind in (
            (2, Severity.WARNING, "time-sensitive", EventType.TARGET_MISSED),
            (3, Severity.INFO, "active", EventType.TARGET_MISSED),
            # The weekly summary reaches the phone as an ordinary notification.
            (4, Severity.INFO, "active", EventType.WEEKLY_SUMMARY),
        ):
            # target_missed: nudges (behind_schedule) would be held back by their cooldown.
            draft = AlertDraft(kind, severity, 3, "t", "m", key=f"k{count}")
            await app.alerter.raise_alert("p1", draft)
            alert = await alert_from_the_service(ha, count)
            shown = push(examples["recovery_alert_to_phone"], alert)
            assert shown["data"]["push"]["interruption-level"] == level
            assert "actions" not in shown["data"]


def node_red_flow() -> dict[str, dict[str, Any]]:
    (text,) = blocks("json")
    nodes = json.loads(text)
    by_id = {node["id"]: node for node in nodes}
    for node in nodes:
        for output in node.get("wires", []):
            assert all(target in by_id for target in output), node["id"]
    return by_id


async def run_function(node: dict[str, Any], msg: dict[str, Any], env: dict[str, str]) -> Any:
    """Run a Node-RED function node's code in Node.js, as Node-RED would call it."""
    node_js = shutil.which("node") or shutil.which("nodejs")
    assert node_js is not None, "Node.js runs the Node-RED example's functions"
    harness = (
        "let input = '';\n"
        "process.stdin.on('data', (c) => { input += c; });\n"
        "process.stdin.on('end', () => {\n"
        "  const {code, msg, env} = JSON.parse(input);\n"
        "  const run = new Function('msg', 'env', code);\n"
        "  const out = run(msg, {get: (k) => env[k]});\n"
        "  process.stdout.write(JSON.stringify(out === undefined ? null : out));\n"
        "});\n"
    )
    process = await asyncio.create_subprocess_exec(
        node_js,
        "-e",
        harness,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(
        json.dumps({"code": node["func"], "msg": msg, "env": env}).encode()
    )
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def test_the_node_red_flow_pushes_alerts_to_ntfy_and_acknowledges_them(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    flow = node_red_flow()
    assert flow["rm_broker"]["protocolVersion"] == "5"
    alerts_in = flow["rm_alerts"]
    assert alerts_in["type"] == "mqtt in"
    assert alerts_in["datatype"] == "json"
    assert flow["rm_ack_out"]["type"] == "mqtt out"
    env = {"NTFY_URL": "https://ntfy.example/recovery-test", "NODE_RED_URL": "https://nr.example"}
    clock = SimulatedClock(monday(10), speed=0)
    async with (
        running(config, clock) as app,
        MqttProbe(config.mqtt, [alerts_in["topic"]]) as node_red,
    ):
        assert app.store is not None
        store = app.store
        node_red.client.publish("recovery/p1/report/symptom", b'{"symptom": "night_pain"}')
        alert = await alert_from_the_service(node_red, 1)
        del alert["_topic"]
        request = await run_function(flow["rm_to_ntfy"], {"payload": alert}, env)
        assert request["url"] == env["NTFY_URL"]
        assert request["method"] == "POST"
        assert request["payload"] == alert["message"]
        headers = request["headers"]
        assert (headers["X-Title"], headers["X-Priority"]) == (alert["title"], "5")
        kind, title, url, *options = (part.strip() for part in headers["X-Actions"].split(","))
        assert (kind, title, options) == ("http", "Acknowledge", ["method=POST", "clear=true"])
        assert url.startswith(env["NODE_RED_URL"] + flow["rm_ack_in"]["url"] + "?")

        # The phone presses the button: ntfy calls Node-RED, which publishes the ack.
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        to_mqtt, reply = await run_function(
            flow["rm_ack"], {"req": {"query": query}, "res": {}}, env
        )
        assert reply["statusCode"] == 204
        node_red.client.publish(to_mqtt["topic"], to_mqtt["payload"].encode(), qos=to_mqtt["qos"])

        async def acknowledged() -> bool:
            (stored,) = await store.alerts("p1")
            return stored.acked_at is not None

        await until(acknowledged)
        bad = {"req": {"query": {"person": "p1/#", "id": alert["id"]}}, "res": {}}
        assert await run_function(flow["rm_ack"], bad, env) == [
            None,
            {"req": bad["req"], "res": {}, "payload": "", "statusCode": 400},
        ]
