"""`recovery-monitor demo`: the whole product in a minute, on a simulated clock.

A private Mosquitto (unless --broker), a simulated person living a scenario, their simulated
wearable, the real service in between, a phone that sends the person's reports over MQTT, and a
separate MQTT subscriber that prints each alert as a phone would receive it, then a day table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import tempfile
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from monitor.app import App, Tuning
from monitor.clock import SimulatedClock
from monitor.config import Config, MqttConfig, bundled_config, load_config
from monitor.days import at_local
from monitor.errors import MonitorError
from monitor.logs import configure_logging
from monitor.mqtt import Incoming, MqttClient
from simulators.broker import PrivateBroker
from simulators.direct_link import DirectLinkFactory
from simulators.scenarios import PLANNERS, PhoneReport, Scenario, build_scenario

# Seven simulated days in about half a minute.
DEFAULT_SPEED = 20_000.0
DEFAULT_DAYS = 7
# The demo's first day (a Monday); the simulation starts at 07:00 local time that day.
START_DAY = date(2026, 11, 23)
START_TIME = time(7, 0)
# The simulated watch looks at its counter this often (simulated seconds) and notifies changes.
WEARABLE_INTERVAL_S = 10.0
# How long (real seconds) to wait at the end for the last alerts to arrive.
DRAIN_TIMEOUT_S = 10.0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `demo` on the command line."""
    parser = commands.add_parser("demo", help="run the whole product on a simulated week")
    parser.add_argument("--scenario", default="week", choices=sorted(PLANNERS))
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED)
    parser.add_argument("--broker", metavar="HOST:PORT", help="use this broker, not a private one")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every alert the service raised reached the subscriber."""
    if not 1 <= args.days <= 366 or args.speed <= 0:
        print("recovery-monitor: --days must be 1-366 and --speed above 0", file=sys.stderr)
        return 2
    configure_logging("warning")
    try:
        return asyncio.run(demo(args.scenario, args.days, args.speed, args.broker, args.json))
    except MonitorError as error:
        print(f"recovery-monitor: {error}", file=sys.stderr)
        return 1


async def demo(
    scenario_name: str, days: int, speed: float, broker: str | None, as_json: bool
) -> int:
    """The demo itself; returns the exit code."""
    base = load_config(bundled_config("demo.toml"))
    tz = base.service.timezone
    person = base.persons[0]
    scenario = build_scenario(scenario_name, START_DAY, days, tz, person.walking)
    start = at_local(START_DAY, START_TIME, tz)
    end = at_local(START_DAY + timedelta(days=days), time(0), tz)
    out = Printer(sys.stdout, as_json, tz)
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rm-demo-")))
        if broker:
            host, _, port = broker.rpartition(":")
            mqtt = dataclasses.replace(base.mqtt, host=host or "localhost", port=int(port))
        else:
            private = await stack.enter_async_context(PrivateBroker(workdir / "broker"))
            mqtt = dataclasses.replace(base.mqtt, host=private.host, port=private.port)
        config = dataclasses.replace(
            base,
            service=dataclasses.replace(base.service, database=workdir / "monitor.db"),
            mqtt=mqtt,
            persons=(dataclasses.replace(person, plan_start=START_DAY),),
        )
        out.banner(scenario, days, speed, mqtt)
        listener = await stack.enter_async_context(Listener(config, out).client())
        phone = await stack.enter_async_context(_client(mqtt, "recovery-demo-phone"))
        await asyncio.wait_for(listener.wait_connected(), DRAIN_TIMEOUT_S)
        await asyncio.wait_for(phone.wait_connected(), DRAIN_TIMEOUT_S)

        clock = SimulatedClock(start, speed=speed)
        links = DirectLinkFactory(
            {person.id: scenario.person},
            tz,
            interval_s=WEARABLE_INTERVAL_S,
            absences={person.id: scenario.absences},
        )
        app = App(
            config,
            clock=clock,
            link_factory=links,
            tuning=Tuning(state_interval_s=600.0, state_refresh_s=3600.0),
        )
        service = asyncio.create_task(app.run(), name="service")
        try:
            await _race(app.started.wait(), service)
            reports = asyncio.create_task(_send_reports(phone, config, clock, scenario.reports))
            await _race(clock.sleep_until(end), service)
            reports.cancel()
            delivered = await _drain(app, listener_ids=out.alert_ids, person=person.id)
        finally:
            service.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await service
    out.table(scenario, START_DAY, days)
    if not delivered:
        print("recovery-monitor: not every alert reached the subscriber in time", file=sys.stderr)
        return 1
    return 0


async def _race(work: Any, service: asyncio.Task[None]) -> None:
    """Await `work`, unless the service stops first (then raise what stopped it)."""
    job = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({job, service}, return_when=asyncio.FIRST_COMPLETED)
    if job not in done:
        job.cancel()
        service.result()
        raise MonitorError("the service stopped before the demo ended")


async def _send_reports(
    phone: MqttClient, config: Config, clock: SimulatedClock, reports: tuple[PhoneReport, ...]
) -> None:
    base = config.mqtt.base_topic
    pid = config.persons[0].id
    for number, report in enumerate(reports):
        await clock.sleep_until(report.at)
        body = {**report.payload, "at": report.at.isoformat(), "id": f"demo-{number}"}
        phone.publish(f"{base}/{pid}/report/{report.kind}", json.dumps(body).encode())


async def _drain(app: App, *, listener_ids: set[str], person: str) -> bool:
    """Wait until the outbox is empty and the subscriber holds every alert the store holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_TIMEOUT_S
    store, ingest = app.store, app.ingest
    if store is None or ingest is None:
        return False
    await ingest.settle()
    while loop.time() < deadline:
        stored = {alert.id for alert in await store.alerts(person)}
        if await store.outbox_size() == 0 and stored <= listener_ids:
            return True
        await asyncio.sleep(0.05)
    return False


def _client(mqtt: MqttConfig, client_id: str, **kwargs: Any) -> MqttClient:
    return MqttClient(mqtt, client_id=client_id, persistent=False, manual_ack=False, **kwargs)


class Listener:
    """A separate MQTT client, subscribed like a phone: alerts and state of every person."""

    def __init__(self, config: Config, out: Printer) -> None:
        self._config = config
        self._out = out

    def client(self) -> MqttClient:
        """The subscriber's MQTT client."""
        base = self._config.mqtt.base_topic
        return _client(
            self._config.mqtt,
            "recovery-demo-listener",
            subscriptions=[f"{base}/+/alert", f"{base}/+/state"],
            on_message=self._received,
        )

    def _received(self, message: Incoming) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if message.topic.endswith("/alert"):
            self._out.alert(body)
        elif message.topic.endswith("/state"):
            self._out.state(body)


class Printer:
    """Prints what the subscriber sees, as text or JSON lines, and the closing day table."""

    def __init__(self, stream: TextIO, as_json: bool, tz: Any) -> None:
        self._stream = stream
        self._json = as_json
        self._tz = tz
        self.alert_ids: set[str] = set()
        self._alerts_by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
        self._states: dict[date, dict[str, Any]] = {}

    def banner(self, scenario: Scenario, days: int, speed: float, mqtt: MqttConfig) -> None:
        """Say what is about to happen."""
        if self._json:
            return
        self._print(
            f'recovery-monitor demo: scenario "{scenario.name}", {days} simulated day(s) at '
            f"{speed:g}x, broker {mqtt.host}:{mqtt.port}\n"
            "Alerts as a phone receives them over MQTT:\n"
        )

    def alert(self, body: dict[str, Any]) -> None:
        """One alert arrived (duplicates, which at-least-once delivery allows, are dropped)."""
        if body.get("id") in self.alert_ids:
            return
        self.alert_ids.add(str(body.get("id")))
        created = datetime.fromisoformat(body["created_at"]).astimezone(self._tz)
        self._alerts_by_day[created.date()].append(body)
        if self._json:
            self._print(json.dumps({"alert": body}))
            return
        self._print(
            f"  [{created:%a %d %b %H:%M}] {body['severity'].upper():8} {body['event_type']}: "
            f"{body['title']}\n      {body['message']}"
        )

    def state(self, body: dict[str, Any]) -> None:
        """A state message arrived: keep the latest one of each day."""
        with contextlib.suppress(KeyError, ValueError):
            self._states[date.fromisoformat(body["date"])] = body

    def table(self, scenario: Scenario, start: date, days: int) -> None:
        """The day-by-day table (or JSON lines): target, walked, steps, alerts."""
        rows: list[dict[str, Any]] = []
        for index in range(days):
            day = start + timedelta(days=index)
            state = self._states.get(day, {})
            alerts = self._alerts_by_day.get(day, [])
            verdict: dict[str, Any] = next(
                (a["data"] for a in alerts if a["event_type"] in ("target_met", "target_missed")),
                {},
            )
            target = verdict.get("target_minutes", state.get("walking_target_minutes"))
            walked = verdict.get("walked_minutes", state.get("walking_minutes_today"))
            rows.append(
                {
                    "date": day.isoformat(),
                    "plan_day": index + 1,
                    "target_minutes": target,
                    "walked_minutes": walked,
                    "steps": state.get("steps_today"),
                    "alerts": [a["event_type"] for a in alerts],
                    "scenario": scenario.notes[index],
                }
            )
        if self._json:
            for row in rows:
                self._print(json.dumps({"day": row}))
            return
        self._print("\nday         target  walked   steps  alerts")
        for row in rows:
            day = date.fromisoformat(str(row["date"]))
            cells = [_num(row[key]) for key in ("target_minutes", "walked_minutes", "steps")]
            alerts_text = ", ".join(row["alerts"]) or "-"
            self._print(
                f"{day:%a %d %b}  {cells[0]:>6}  {cells[1]:>6}  {cells[2]:>6}  {alerts_text}"
            )

    def _print(self, text: str) -> None:
        print(text, file=self._stream, flush=True)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)
