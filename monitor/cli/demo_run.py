"""The demo's run: the whole product in a minute, on a simulated clock (see `demo.py`).

A private Mosquitto (unless --broker), a simulated person living a scenario, their simulated
wearables, the real service in between, a phone that sends the person's reports over MQTT, and a
separate MQTT subscriber that prints each alert as a phone (and a carer or clinician, where the
scenario configures one) would receive it, then a day table and the report's summary. The
person's config goes through the service's own validation: a scenario whose config the service
refuses (surgery-too-recent) shows the refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
import sys
import tempfile
from collections import defaultdict
from collections.abc import Awaitable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

from monitor.cli.demo_broker import own_namespace, sweep
from monitor.cli.report import ReportData, gather
from monitor.clock import SimulatedClock
from monitor.config import (
    Config,
    MqttConfig,
    PersonConfig,
    bundled_config,
    load_config,
    parse_config,
)
from monitor.days import at_local
from monitor.errors import ConfigError, MonitorError
from monitor.mqtt.client import Incoming, MqttClient
from monitor.service.app import App, Tuning
from monitor.store.database import Store
from simulators.broker import PrivateBroker
from simulators.radio import VirtualRadio
from simulators.scenarios import (
    SCENARIOS,
    PhoneReport,
    Scenario,
    act_out,
    build_scenario,
    person_toml,
    wearables_on,
)

# At most seven simulated days in about half a minute (a ceiling: a slower machine takes longer
# and tells the same story); longer scenarios run faster, in proportion.
DEFAULT_SPEED = 20_000.0
DEFAULT_DAYS = 7
# The demo's first day (a Monday); the simulation starts at 07:00 local time that day.
START_DAY = date(2026, 11, 23)
START_TIME = time(7, 0)
# The simulated watch looks at its counter this often (simulated seconds) and notifies changes.
WEARABLE_INTERVAL_S = 10.0
# Real seconds a message may take through the broker and back before the demo gives up: only a
# broken broker takes this long (a round trip takes milliseconds, even on a busy machine).
DRAIN_TIMEOUT_S = 60.0
# Real seconds between looks at the broker's progress while the clock is held for it.
_POLL_S = 0.002
_T = TypeVar("_T")


def scenario_person(base: Config, name: str) -> PersonConfig:
    """The scenario's person, validated as the service validates any config (ConfigError)."""
    tz = base.service.timezone
    text = f'[service]\ntimezone = "{tz.key}"\n\n' + person_toml(
        name, base.persons[0].id, START_DAY
    )
    return parse_config(text, source=f"the {name} person's config").persons[0]


async def demo(
    scenario_name: str, days: int | None, speed: float | None, broker: str | None, as_json: bool
) -> int:
    """The demo itself; returns the exit code."""
    base = load_config(bundled_config("demo.toml"))
    tz = base.service.timezone
    spec = SCENARIOS[scenario_name]
    days = days or spec.days
    speed = speed or DEFAULT_SPEED * max(1.0, days / DEFAULT_DAYS)
    out = Printer(sys.stdout, as_json, tz)
    try:
        person = scenario_person(base, scenario_name)
    except ConfigError as error:
        out.refused(scenario_name, person_toml(scenario_name, base.persons[0].id, START_DAY), error)
        return 0
    scenario = build_scenario(scenario_name, START_DAY, days, tz, person.walking)
    start = at_local(START_DAY, START_TIME, tz)
    end = at_local(START_DAY + timedelta(days=days), time(0), tz)
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rm-demo-")))
        config = dataclasses.replace(
            base,
            service=dataclasses.replace(base.service, database=workdir / "monitor.db"),
            persons=(person,),
        )
        if broker:
            # A shared broker: topics, client ids and Home Assistant device of its own.
            host, _, port = broker.rpartition(":")
            config = own_namespace(config, host or "localhost", int(port))
            person = config.persons[0]
        else:
            private = await stack.enter_async_context(PrivateBroker(workdir / "broker"))
            mqtt = dataclasses.replace(config.mqtt, host=private.host, port=private.port)
            config = dataclasses.replace(config, mqtt=mqtt)
        out.banner(scenario, spec.description, days, speed, config.mqtt)
        # Time moves only when the service, the radio, the database and the broker have caught
        # up with it: the same story on any machine, only slower where the machine is slower.
        clock = SimulatedClock(start, speed=speed, paced=True)
        clock.hold()  # until the service is up and listening: the story starts at `start`
        listener = Listener(config, out)
        await stack.enter_async_context(listener.client)
        phone = Phone(config, clock, out)
        await stack.enter_async_context(phone.client)
        await asyncio.wait_for(listener.connected(), DRAIN_TIMEOUT_S)
        await asyncio.wait_for(phone.connected(), DRAIN_TIMEOUT_S)

        # The wearables are Bumble peripherals on an in-process virtual radio, reached by the
        # service's own BLE links through bleak, exactly as on a real adapter.
        radio = await stack.enter_async_context(VirtualRadio(clock=clock))
        wearables = await wearables_on(
            radio, scenario, person, clock, notify_interval_s=WEARABLE_INTERVAL_S
        )
        app = App(
            config,
            clock=clock,
            link_factory=radio.link_factory(timezone=tz),
            tuning=Tuning(state_interval_s=600.0, state_refresh_s=3600.0),
        )
        sync = Sync(app, clock, listener, person.id)
        service = asyncio.create_task(app.run(), name="service")
        try:
            await _race(app.started.wait(), service)
            if app.mqtt is not None:
                await _race(app.mqtt.wait_subscribed(), service)
            reports = asyncio.create_task(phone.send(scenario.reports, sync))
            troubles = asyncio.create_task(act_out(scenario, wearables, clock))
            clock.release()
            await _race(clock.sleep_until(end), service)
            clock.stop()  # the story ends here: time stands still while the last messages land
            reports.cancel()
            troubles.cancel()
            delivered = await _race(sync.caught_up(), service)
        finally:
            service.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await service
            if broker:
                await _leave_nothing(config)
        async with Store.open(config.service.database) as store:
            last = START_DAY + timedelta(days=days - 1)
            summary = await gather(store, config, person, last, days, end)
    out.table(scenario, START_DAY, days)
    out.summary(summary)
    if not delivered:
        print("recovery-monitor: not every alert reached the subscriber in time", file=sys.stderr)
        return 1
    return 0


async def _race(work: Awaitable[_T], service: asyncio.Task[None]) -> _T:
    """Await `work`, unless the service stops first (then raise what stopped it)."""
    job = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({job, service}, return_when=asyncio.FIRST_COMPLETED)
    if job not in done:
        job.cancel()
        service.result()
        raise MonitorError("the service stopped before the demo ended")
    return job.result()


async def _leave_nothing(config: Config) -> None:
    """Clear what the demo left on a shared broker; say so if that could not be done."""
    try:
        await sweep(config)
    except (TimeoutError, MonitorError) as error:
        print(
            f"recovery-monitor: could not clear the demo's retained messages under "
            f"{config.mqtt.base_topic}/ ({error or 'the broker did not answer'})",
            file=sys.stderr,
        )


def _client(mqtt: MqttConfig, client_id: str, **kwargs: Any) -> MqttClient:
    return MqttClient(mqtt, client_id=client_id, persistent=False, manual_ack=False, **kwargs)


class Sync:
    """Brings the subscriber up to date with the service while the clock is held.

    Once the simulation is idle and every message the service published has been accepted by
    the broker (PUBACK), a marker the subscriber sends to itself comes back after all of them:
    the broker forwards one client's messages in the order it received them.
    """

    def __init__(self, app: App, clock: SimulatedClock, listener: Listener, person: str) -> None:
        self._app = app
        self._clock = clock
        self._listener = listener
        self._person = person

    async def caught_up(self) -> bool:
        """Bring the subscriber up to date; False if that took more than DRAIN_TIMEOUT_S."""
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                while not await self._once():
                    pass
        except TimeoutError:
            return False
        return True

    async def _once(self) -> bool:
        app, store, mqtt = self._app, self._app.store, self._app.mqtt
        if store is None or mqtt is None or app.ingest is None:
            return False
        await self._clock.until_idle()
        self._clock.hold()  # until this task next waits on the clock
        while mqtt.in_flight:  # noqa: ASYNC110 - paho's thread reports PUBACKs; nothing to await
            await asyncio.sleep(_POLL_S)
        await self._listener.round_trip()
        stored = {alert.id for alert in await store.alerts(self._person)}
        return await store.outbox_size() == 0 and stored <= self._listener.alert_ids


class Phone:
    """The person's phone: sends their reports, and OK on an alert, each waiting for the answer.

    Every command asks for an answer on a response topic, and the clock is held until it
    arrives: the service has stored and acted on the command before time moves on.
    """

    def __init__(self, config: Config, clock: SimulatedClock, out: Printer) -> None:
        self._config = config
        self._clock = clock
        self._out = out
        self._pid = config.persons[0].id
        self._reply_topic = f"{config.mqtt.base_topic}/{self._pid}/reply/demo-phone"
        self._answers: dict[bytes, asyncio.Future[None]] = {}
        self.client = _client(
            config.mqtt,
            f"{config.mqtt.client_id}-phone",
            subscriptions=[self._reply_topic],
            on_message=self._answered,
        )

    async def connected(self) -> None:
        """Return once connected and subscribed."""
        await self.client.wait_connected()
        await self.client.wait_subscribed()

    async def send(self, reports: tuple[PhoneReport, ...], sync: Sync) -> None:
        """Send each report at its moment, each acknowledged once the service has answered it."""
        base = self._config.mqtt.base_topic
        for number, report in enumerate(reports):
            await self._clock.sleep_until(report.at)
            if report.kind == "ack":
                # The person taps "OK" on the latest alert of a kind that their phone received,
                # and has received everything the service sent until now.
                await sync.caught_up()
                alert_id = self._out.latest_of(str(report.payload["event_type"]))
                if alert_id is not None:
                    self._out.acknowledged(report, alert_id)
                    await self._command(f"{base}/{self._pid}/alert/ack", {"id": alert_id})
                continue
            body = {**report.payload, "at": report.at.isoformat(), "id": f"demo-{number}"}
            await self._command(f"{base}/{self._pid}/report/{report.kind}", body)

    async def _command(self, topic: str, body: dict[str, Any]) -> None:
        nonce = secrets.token_bytes(8)
        answer = asyncio.get_running_loop().create_future()
        self._answers[nonce] = answer
        self._clock.hold()  # until this task next waits on the clock
        self.client.publish(
            topic,
            json.dumps(body).encode(),
            response_topic=self._reply_topic,
            correlation_data=nonce,
        )
        try:
            await asyncio.wait_for(answer, DRAIN_TIMEOUT_S)
        finally:
            self._answers.pop(nonce, None)

    def _answered(self, message: Incoming) -> None:
        answer = self._answers.get(message.correlation_data or b"")
        if answer is not None and not answer.done():
            answer.set_result(None)


class Listener:
    """A separate MQTT client, subscribed like a phone: alerts and state of every person."""

    def __init__(self, config: Config, out: Printer) -> None:
        self._config = config
        self._out = out
        self._marker_topic = f"{config.mqtt.base_topic}/demo-listener/marker"
        self._markers: dict[bytes, asyncio.Future[None]] = {}
        base = config.mqtt.base_topic
        self.client = _client(
            config.mqtt,
            f"{config.mqtt.client_id}-listener",
            subscriptions=[
                f"{base}/+/alert",
                f"{base}/+/state",
                self._marker_topic,
                *self._escalations(),
            ],
            on_message=self._received,
        )

    @property
    def alert_ids(self) -> set[str]:
        """The ids of the alerts received so far."""
        return self._out.alert_ids

    async def connected(self) -> None:
        """Return once connected and subscribed."""
        await self.client.wait_connected()
        await self.client.wait_subscribed()

    async def round_trip(self) -> None:
        """Send a marker to ourselves; return once it is back (what came before it is in)."""
        nonce = secrets.token_bytes(8)
        back = asyncio.get_running_loop().create_future()
        self._markers[nonce] = back
        self.client.publish(self._marker_topic, nonce)
        try:
            await back
        finally:
            self._markers.pop(nonce, None)

    def _escalations(self) -> list[str]:
        topics = {p.alerts.escalation_topic for p in self._config.persons}
        return sorted(t for t in topics if t)

    def _received(self, message: Incoming) -> None:
        if message.topic == self._marker_topic:
            marker = self._markers.get(message.payload)
            if marker is not None and not marker.done():
                marker.set_result(None)
            return
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if message.topic in self._escalations():
            self._out.escalated(body, message.topic)
        elif message.topic.endswith("/alert"):
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
        self._latest: dict[str, str] = {}
        self._alerts_by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
        self._states: dict[date, dict[str, Any]] = {}

    def banner(
        self, scenario: Scenario, description: str, days: int, speed: float, mqtt: MqttConfig
    ) -> None:
        """Say what is about to happen."""
        if self._json:
            return
        self._print(
            f'recovery-monitor demo: scenario "{scenario.name}" ({description}), {days} simulated '
            f"day(s) at {speed:g}x, broker {mqtt.host}:{mqtt.port}\n"
            "Alerts as a phone receives them over MQTT:\n"
        )

    def refused(self, name: str, toml: str, error: ConfigError) -> None:
        """The service refused the scenario's config: show the config and why."""
        if self._json:
            problems = [{"key": p.key, "reason": p.reason} for p in error.problems]
            self._print(json.dumps({"refused": {"scenario": name, "problems": problems}}))
            return
        indented = "\n".join(f"    {line}" for line in toml.strip().splitlines())
        reasons = "\n".join(f"    {problem}" for problem in error.problems)
        self._print(
            f'recovery-monitor demo: scenario "{name}" ({SCENARIOS[name].description})\n\n'
            f"The person's config:\n{indented}\n\n"
            "The service validates its config before it starts anything, and refuses this one:\n"
            f"{reasons}\n\n"
            "So no plan runs and no alert is sent: recovery-monitor run and check-config exit "
            "with status 2 and the same message, until the plan's start date is moved."
        )

    def latest_of(self, event_type: str) -> str | None:
        """The id of the latest alert of a type received so far."""
        return self._latest.get(event_type)

    def acknowledged(self, report: PhoneReport, alert_id: str) -> None:
        """The phone acknowledged an alert."""
        if self._json:
            self._print(json.dumps({"ack": {"id": alert_id, "at": report.at.isoformat()}}))
            return
        kind = report.payload["event_type"]
        self._print(f"  [{report.at.astimezone(self._tz):%a %d %b %H:%M}] (you tap OK on {kind})")

    def escalated(self, body: dict[str, Any], topic: str) -> None:
        """An escalated copy of an alert arrived on the carer's or clinician's topic."""
        created = datetime.fromisoformat(body["created_at"]).astimezone(self._tz)
        if self._json:
            self._print(json.dumps({"escalated": {"topic": topic, "alert": body}}))
            return
        self._print(
            f"  [{created:%a %d %b %H:%M}] -> also on {topic}: {body['event_type']} "
            f"({body['title']})"
        )

    def alert(self, body: dict[str, Any]) -> None:
        """One alert arrived (duplicates, which at-least-once delivery allows, are dropped)."""
        if body.get("id") in self.alert_ids:
            return
        self.alert_ids.add(str(body.get("id")))
        self._latest[str(body.get("event_type"))] = str(body.get("id"))
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

    def summary(self, data: ReportData) -> None:
        """The report's closing lines: adherence, trend, and what the alert policy held back."""
        percent = data.adherence_percent
        held = [
            f"{a.event_type} ({a.held_back}, {a.created_at.astimezone(self._tz):%a %H:%M})"
            for a in data.held_back
        ]
        if self._json:
            body = {
                "adherence_percent": None if percent is None else round(percent),
                "trend": data.trend,
                "held_back": held,
            }
            self._print(json.dumps({"summary": body}))
            return
        self._print("")
        if percent is not None:
            self._print(f"Adherence: {percent:.0f}%")
        self._print(f"Trend: {data.trend}")
        self._print(f"Held back by the alert policy: {', '.join(held) or 'nothing'}")

    def table(self, scenario: Scenario, start: date, days: int) -> None:
        """The day-by-day table (or JSON lines): target, walked, steps, pain, function, alerts."""
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
                    "pain": state.get("pain_today"),
                    "function": state.get("function_today"),
                    "alerts": [a["event_type"] for a in alerts],
                    "scenario": scenario.notes[index],
                }
            )
        if self._json:
            for row in rows:
                self._print(json.dumps({"day": row}))
            return
        self._print("\nday         target  walked   steps  pain  function  alerts")
        keys = ("target_minutes", "walked_minutes", "steps", "pain", "function")
        for row in rows:
            day = date.fromisoformat(str(row["date"]))
            cells = [_num(row[key]) for key in keys]
            alerts_text = ", ".join(row["alerts"]) or "-"
            self._print(
                f"{day:%a %d %b}  {cells[0]:>6}  {cells[1]:>6}  {cells[2]:>6}  {cells[3]:>4}  "
                f"{cells[4]:>8}  {alerts_text}"
            )

    def _print(self, text: str) -> None:
        print(text, file=self._stream, flush=True)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)
