"""`recovery-monitor log`: send a report to the running service over MQTT, as a phone would.

It publishes on the same command topic a phone uses, with an MQTT v5 response topic under
`<base>/<pid>/reply/`, and waits for the service's answer: exit 0 when the service accepted the
report, 1 when it refused it, the broker refused us, or nobody answered in time; 2 for bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from monitor.config import Config, MqttConfig, load_config
from monitor.errors import ConfigError, MonitorError
from monitor.mqtt.client import FAILURE, NO_MATCHING_SUBSCRIBERS, Incoming, MqttClient, reason_text
from monitor.mqtt.commands import EXERCISE_KINDS, SESSION_KINDS, reply_prefix
from monitor.recovery.symptoms import SymptomKind
from monitor.service.app import read_password

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DEFAULT_TIMEOUT_S = 10.0


class LogError(MonitorError):
    """The report could not be sent, or the service did not accept it."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `log` and its report kinds on the command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", required=True, type=Path, help="the service's TOML config")
    common.add_argument("--person", help="the person's id (needed when the config has several)")
    common.add_argument("--at", help="when it happened, RFC 3339 (default: now)")
    common.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for the service's answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    common.add_argument("--username", help="connect as this MQTT user (default: the config's)")
    common.add_argument("--password-file", type=Path, help="that user's password file")
    common.add_argument("--json", action="store_true", help="print the service's answer as JSON")

    parser = commands.add_parser(
        "log", help="send a report to the running service over MQTT, as a phone would"
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")

    pain = kinds.add_parser("pain", parents=[common], help="pain score, 0 (none) to 10")
    pain.add_argument("score", type=_number)
    function = kinds.add_parser("function", parents=[common], help="function score, 0 to 10")
    function.add_argument("score", type=_number)
    symptom = kinds.add_parser("symptom", parents=[common], help="a symptom")
    symptom.add_argument("symptom", choices=[k.value for k in SymptomKind])
    symptom.add_argument("--note", help="a note kept with the report (never published)")
    session = kinds.add_parser("session", parents=[common], help="a walking session")
    session.add_argument("minutes", type=_number)
    session.add_argument("--kind", dest="session_kind", choices=SESSION_KINDS, default="manual")
    exercise = kinds.add_parser("exercise", parents=[common], help="an exercise done")
    exercise.add_argument("exercise", choices=EXERCISE_KINDS)
    for name in ("minutes", "sets", "reps"):
        exercise.add_argument(f"--{name}", type=_number)
    note = kinds.add_parser("note", parents=[common], help="a free-text note (kept private)")
    note.add_argument("text")
    ack = kinds.add_parser("ack", parents=[common], help="acknowledge an alert, or all of them")
    which = ack.add_mutually_exclusive_group(required=True)
    which.add_argument("alert_id", nargs="?", help="the alert's id")
    which.add_argument("--all", action="store_true", help="every alert waiting for it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Send the report and print the service's answer; the exit code says how it went."""
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"recovery-monitor: {error}", file=sys.stderr)
        return EXIT_USAGE
    person = _person(config, args.person)
    if person is None:
        ids = ", ".join(p.id for p in config.persons) or "none"
        print(
            f"recovery-monitor: say which person with --person (configured: {ids})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    mqtt = config.mqtt
    if args.username is not None:
        mqtt = replace(mqtt, username=args.username, password_file=args.password_file)
    topic, body = command_for(args, config.mqtt.base_topic, person)
    try:
        answer = asyncio.run(send(mqtt, topic, body, person=person, within_s=args.timeout))
    except MonitorError as error:
        print(f"recovery-monitor: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
    if not answer.get("ok"):
        print(
            f"recovery-monitor: refused: {answer.get('error')}: {answer.get('detail')}",
            file=sys.stderr,
        )
        # A symptom report the service could not store still raised its alerts: say which.
        for line in alert_lines(answer):
            print(line, file=sys.stderr)
        return EXIT_FAILURE
    if not args.json:
        print(describe(args.kind, person, answer))
    return EXIT_OK


def command_for(args: argparse.Namespace, base: str, person: str) -> tuple[str, dict[str, Any]]:
    """The command topic and JSON body for the parsed arguments."""
    kind: str = args.kind
    body: dict[str, Any]
    if kind in ("pain", "function"):
        body = {"score": args.score}
    elif kind == "symptom":
        body = {"symptom": args.symptom}
        if args.note is not None:
            body["note"] = args.note
    elif kind == "session":
        body = {"kind": args.session_kind, "minutes": args.minutes}
    elif kind == "exercise":
        body = {"kind": args.exercise}
        body.update(
            {
                k: getattr(args, k)
                for k in ("minutes", "sets", "reps")
                if getattr(args, k) is not None
            }
        )
    elif kind == "note":
        body = {"note": args.text}
    else:
        body = {"all": True} if args.all else {"id": args.alert_id}
        if args.at is not None:
            body["at"] = args.at
        return f"{base}/{person}/alert/ack", body
    # A request id makes a resend of this very report harmless, and two reports with the same
    # values, sent on purpose, two reports.
    body["id"] = f"cli-{os.urandom(8).hex()}"
    if args.at is not None:
        body["at"] = args.at
    return f"{base}/{person}/report/{kind}", body


async def send(
    mqtt: MqttConfig, topic: str, body: dict[str, Any], *, person: str, within_s: float
) -> dict[str, Any]:
    """Publish one command and return the service's answer; LogError if there is none."""
    token = os.urandom(8).hex()
    base = mqtt.base_topic
    response_topic = f"{reply_prefix(base, person)}cli-{token}"
    answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    status: list[bytes] = []

    def received(message: Incoming) -> None:
        if message.topic == f"{base}/status":
            status.append(message.payload)
        elif message.correlation_data == token.encode() and not answer.done():
            try:
                answer.set_result(json.loads(message.payload))
            except ValueError:
                answer.set_exception(LogError("the service's answer is not JSON"))

    client = MqttClient(
        mqtt,
        client_id=f"recovery-monitor-log-{token}",
        password=read_password(mqtt.password_file),
        subscriptions=[response_topic, f"{base}/status"],
        on_message=received,
        persistent=False,
        manual_ack=False,
    )
    async with client:
        try:
            async with asyncio.timeout(within_s):
                failure = await client.first_attempt()
                if failure is not None:
                    raise LogError(failure)
                granted = await client.wait_subscribed()
                if granted and granted[0] >= FAILURE:
                    raise LogError(
                        f"the broker does not let this user read {response_topic} "
                        f"({reason_text(granted[0])}): check its ACL"
                    )
                code = await client.publish(
                    topic,
                    json.dumps(body, ensure_ascii=False).encode(),
                    response_topic=response_topic,
                    correlation_data=token.encode(),
                )
                if code >= FAILURE:
                    raise LogError(
                        f"the broker refused the report on {topic}: {reason_text(code)} "
                        f"(0x{code:02X}); check its ACL for this user"
                    )
                if code == NO_MATCHING_SUBSCRIBERS:
                    raise LogError(
                        f"nobody is subscribed to {topic}: recovery-monitor has not run against "
                        "this broker (or its session expired), so the report was not kept"
                    )
                return await answer
        except TimeoutError:
            if client.refusal is not None:
                raise LogError(client.refusal) from None
            state = status[-1].decode(errors="replace") if status else "unknown"
            raise LogError(
                f"no answer from recovery-monitor within {within_s:g} s (its status on "
                f"{base}/status: {state}); the report waits for it in the broker"
            ) from None


def describe(kind: str, person: str, answer: dict[str, Any]) -> str:
    """What the service did with an accepted report: one line, then one per alert it raised."""
    if "acknowledged" in answer:
        acked = answer["acknowledged"]
        return f"accepted: {len(acked)} alert(s) of {person} acknowledged"
    if answer.get("duplicate"):
        line = f"accepted: this {kind} report for {person} had already arrived; nothing changed"
    else:
        line = f"accepted: {kind} report for {person} stored (report {answer.get('report')})"
    return "\n".join([line, *alert_lines(answer)])


def alert_lines(answer: dict[str, Any]) -> list[str]:
    """One line per alert the answer says the report raised (`alerts`: id and title)."""
    alerts = answer.get("alerts")
    if not isinstance(alerts, list):
        return []
    return [
        f"  alert {alert.get('id')}: {alert.get('title')}"
        for alert in alerts
        if isinstance(alert, dict)
    ]


def _person(config: Config, wanted: str | None) -> str | None:
    if wanted is not None:
        return wanted
    if len(config.persons) == 1:
        return config.persons[0].id
    return None


def _number(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return int(value) if value.is_integer() else value
