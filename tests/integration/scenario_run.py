"""Runs a scenario through the real service on a simulated clock that stands still between steps.

The clock moves from one moment of interest to the next (a report, a checkpoint, a day's close,
a watch moment) and waits, in real time, until the service has handled it: so a week takes a few
seconds and every run of the same scenario reaches the same alerts.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from monitor.clock import SimulatedClock
from monitor.config import Config, parse_config
from monitor.days import at_local
from monitor.service.app import App, Tuning
from monitor.service.scheduler import day_events, next_watch
from monitor.store.alerts import StoredAlert
from simulators.scenarios import (
    PhoneReport,
    Scenario,
    ScenarioLinks,
    ScenarioSpec,
    lay_out,
    spec_person_toml,
)
from tests.probe import MqttProbe, Received, running

PERSON = "p1"
WAIT_S = 30.0  # real seconds: a bound on a failure, not a speed
# The service starts at this local time on plan day 1.
START_TIME = time(7, 0)
QUIET = Tuning(state_interval_s=3600.0, state_refresh_s=86_400.0)
NO_ALERT = "0" * 26


@dataclass
class Run:
    """What a scenario run left behind: every alert stored, every message the probe saw."""

    config: Config
    scenario: Scenario
    alerts: list[StoredAlert] = field(default_factory=list)  # held-back ones too
    messages: list[Received] = field(default_factory=list)

    def sent(self) -> list[StoredAlert]:
        """Alerts that went out (not held back)."""
        return [a for a in self.alerts if a.held_back is None]

    def on(self, day: date) -> list[str]:
        """Event types of the alerts sent on a local day, in order."""
        tz = self.config.service.timezone
        return [a.event_type for a in self.sent() if a.created_at.astimezone(tz).date() == day]

    def payloads(self, event_type: str) -> list[dict[str, Any]]:
        """Payloads of the sent alerts of one type."""
        return [json.loads(a.payload) for a in self.sent() if a.event_type == event_type]

    def received(self, topic: str) -> list[dict[str, Any]]:
        """Alert payloads the probe received on a topic."""
        return [m.json() for m in self.messages if m.topic == topic]


def scenario_config(
    spec: ScenarioSpec, start: date, *, database: Path, port: int, timezone: str
) -> Config:
    """The service config for a scenario's person, through the service's own validation."""
    text = f"""
[service]
database = "{database}"
timezone = "{timezone}"
log_level = "debug"

[mqtt]
host = "127.0.0.1"
port = {port}
client_id = "recovery-monitor-scenario"

{spec_person_toml(spec, PERSON, start)}
"""
    return parse_config(text, base_dir=database.parent)


async def run_scenario(
    spec: ScenarioSpec,
    start: date,
    *,
    database: Path,
    port: int,
    timezone: str = "Europe/London",
    days: int | None = None,
    restart_after_day: int | None = None,
) -> Run:
    """Live `days` days of a scenario through the real service; optionally restart it once."""
    days = days or spec.days
    config = scenario_config(spec, start, database=database, port=port, timezone=timezone)
    person = config.persons[0]
    tz = config.service.timezone
    scenario = lay_out("test", spec, start, days, tz, person.walking)
    clock = SimulatedClock(at_local(start, START_TIME, tz), speed=0)
    links = ScenarioLinks(scenario, PERSON, tz, interval_s=60.0)
    end = at_local(start + timedelta(days=days), time(0), tz)
    restart = (
        at_local(start + timedelta(days=restart_after_day), time(0), tz)
        if restart_after_day
        else None
    )
    base = config.mqtt.base_topic
    topics = [f"{base}/+/alert"]
    if person.alerts.escalation_topic:
        topics.append(person.alerts.escalation_topic)
    run = Run(config, scenario)
    async with MqttProbe(config.mqtt, topics, client_id="scenario-probe") as probe:
        phone = MqttProbe(config.mqtt, [f"{base}/{PERSON}/error"], client_id="scenario-phone")
        async with phone:
            moment = clock.now()
            while moment < end:
                stop = min(restart or end, end)
                async with running(config, clock, links, QUIET) as app:
                    moment = await _live(app, clock, phone, scenario, moment, stop)
                restart = None
            async with running(config, clock, links, QUIET) as app:
                await _outbox_empty(app)
                assert app.store is not None
                run.alerts = await app.store.alerts(PERSON, held_back=True)
        wanted = len(run.sent())
        await probe.wait_for(lambda m: len({x.json()["id"] for x in m}) >= wanted)
        run.messages = list(probe.messages)
    return run


async def _live(
    app: App,
    clock: SimulatedClock,
    phone: MqttProbe,
    scenario: Scenario,
    after: datetime,
    until: datetime,
) -> datetime:
    """Step the clock through every moment of interest in (after, until]; returns `until`."""
    config = app.config
    person = config.persons[0]
    tz = config.service.timezone
    reports = {r.at: r for r in scenario.reports if after < r.at <= until}
    events = _events(config, after, until)
    ticks: list[datetime] = []
    if person.devices:
        tick = next_watch(person, tz, after)
        while tick <= until:
            ticks.append(tick)
            tick = next_watch(person, tz, tick)
    for moment in sorted({*reports, *events, *ticks, until}):
        await clock.advance_to(moment)
        if moment in reports:
            await _send(app, phone, reports[moment])
        if moment in events:
            await _until(functools.partial(_scheduled, app, moment))
        if moment in ticks:
            await _until(functools.partial(_watched, app, moment))
    return until


def _events(config: Config, after: datetime, until: datetime) -> set[datetime]:
    person = config.persons[0]
    tz = config.service.timezone
    moments: set[datetime] = set()
    day = after.astimezone(tz).date()
    while at_local(day, time(0), tz) <= until:
        moments |= {e.at for e in day_events(person, day, tz) if after < e.at <= until}
        day += timedelta(days=1)
    return moments


async def _send(app: App, phone: MqttProbe, report: PhoneReport) -> None:
    """Send one report (or acknowledgement) as a phone does, and wait until it is handled."""
    store = app.store
    assert store is not None
    base = app.config.mqtt.base_topic
    if report.kind == "ack":
        wanted = str(report.payload["event_type"])
        latest = (await store.alerts(PERSON, event_type=wanted))[-1]
        phone.client.publish(f"{base}/{PERSON}/alert/ack", json.dumps({"id": latest.id}).encode())

        async def acked() -> bool:
            found = await store.alerts(PERSON, event_type=wanted)
            return any(a.id == latest.id and a.acked_at is not None for a in found)

        await _until(acked)
        return
    body = {**report.payload, "at": report.at.isoformat()}
    phone.client.publish(f"{base}/{PERSON}/report/{report.kind}", json.dumps(body).encode())
    # Commands are handled one at a time, in order: once an acknowledgement of an alert that
    # does not exist has been refused, the report before it has been stored and acted on.
    refusals = len(phone.messages)
    phone.client.publish(f"{base}/{PERSON}/alert/ack", json.dumps({"id": NO_ALERT}).encode())
    await phone.wait_for(lambda m: len(m) > refusals)


async def _scheduled(app: App, moment: datetime) -> bool:
    assert app.store is not None
    done = await app.store.schedule_done_until(PERSON)
    return done is not None and done >= moment


async def _watched(app: App, moment: datetime) -> bool:
    assert app.scheduler is not None
    seen = app.scheduler.watched_until.get(PERSON)
    return seen is not None and seen >= moment


async def _outbox_empty(app: App) -> None:
    store = app.store
    assert store is not None

    async def empty() -> bool:
        return await store.outbox_size() == 0

    await _until(empty)


async def _until(check: Any, within: float = WAIT_S) -> None:
    """Wait (real time) until an async predicate holds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the service's progress is the point
            await asyncio.sleep(0.001)


def types(alerts: Sequence[StoredAlert]) -> list[str]:
    """The event types of some alerts, in order."""
    return [a.event_type for a in alerts]
