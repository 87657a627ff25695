"""Health data is personal: not in logs above debug, not in retained messages beyond a dashboard."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from monitor.clock import SimulatedClock
from monitor.days import at_local
from monitor.recovery.alerts import EventType
from monitor.recovery.symptoms import SymptomKind
from simulators.direct_link import DirectLinkFactory
from simulators.person import SimulatedPerson, Walk
from tests.conftest import ConfigFactory
from tests.probe import MqttProbe, running

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)
NOTE = "my neighbour helped with the shopping"


def local(hour: int, minute: int = 0) -> datetime:
    return at_local(MONDAY, time(hour, minute), LONDON)


async def test_a_day_of_reports_and_alerts_leaves_no_health_value_in_logs_or_retained_topics(
    make_config: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config()
    clock = SimulatedClock(local(9), speed=0)
    person = SimulatedPerson([Walk(local(9, 30), 3.0, 93.0)])  # 279 steps: behind all day
    links = DirectLinkFactory({"p1": person}, LONDON, interval_s=10.0, absences={})
    reports: dict[str, dict[str, object]] = {
        "pain": {"score": 7},
        "function": {"score": 3},
        "symptom": {"symptom": "leg_numbness_tingling", "note": NOTE},
        "session": {"kind": "manual", "minutes": 45},
        "exercise": {"kind": "bird_dog", "sets": 2},
        "note": {"note": NOTE},
    }
    with caplog.at_level(logging.DEBUG):
        async with (
            running(config, clock, links) as app,
            MqttProbe(config.mqtt, ["recovery/#"]) as everything,
        ):
            assert app.ingest is not None
            for kind, body in reports.items():
                payload = json.dumps({**body, "id": f"privacy-{kind}"}).encode()
                everything.client.publish(f"recovery/p1/report/{kind}", payload)
            while clock.now() < local(21, 30):
                await clock.advance(600)
                await app.ingest.settle()
            await everything.wait_for(
                lambda m: any("target_missed" in x.payload.decode() for x in m)
            )
            await everything.settle(app.mqtt)  # all the service sent until now
            retained = [m for m in everything.messages if m.retained]
            alerts = [m.json()["event_type"] for m in everything.on("/alert")]

    assert {"warning_symptom", "target_missed"} <= set(alerts)
    secrets = [NOTE, "score", *(k.value for k in SymptomKind), *(e.value for e in EventType),
               str(person.steps_until(local(21)))]  # fmt: skip
    for record in caplog.records:
        if record.levelno > logging.DEBUG and record.name.startswith(("monitor", "devices")):
            line = record.getMessage()
            assert not [s for s in secrets if s in line], f"{record.levelname}: {line}"
    assert any(
        r.levelno == logging.DEBUG and "leg_numbness" in r.getMessage() for r in caplog.records
    )
    # Retained: what a dashboard shows (the state), never a note or which symptom it was.
    for message in retained:
        text = message.payload.decode()
        assert NOTE not in text
        assert not [k for k in SymptomKind if k.value in text]
    states = [m.json() for m in everything.on("/p1/state")]
    assert states
    assert states[-1]["warning_active"] is True
    assert states[-1]["date"] == MONDAY.isoformat()
