"""Commands through a real Mosquitto: refusals and their reasons, acceptance, duplicates, floods."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from monitor.clock import SimulatedClock
from monitor.config import parse_config
from monitor.mqtt.client import Incoming
from monitor.mqtt.commands import MAX_COMMAND_BYTES, REPORT_KINDS
from monitor.service.app import Tuning
from monitor.service.intake import MAX_WAITING
from monitor.store.database import Store
from simulators.broker import PrivateBroker
from tests.conftest import ConfigFactory, config_toml
from tests.integration.conftest import monday, send
from tests.probe import MqttProbe, running

LISTEN = ["recovery/+/reply/#", "recovery/+/error", "recovery/error"]
FAST = Tuning(state_interval_s=0.0)

MALFORMED: list[tuple[str, bytes, str]] = [
    ("recovery/p1/report/pain", b"{not json", "invalid_json"),
    ("recovery/p1/report/pain", b'{"score": "four"}', "invalid_field"),
    ("recovery/p1/report/function", b"12", "out_of_range"),
    ("recovery/p1/report/session", b'{"kind": "manual", "minutes": 0}', "out_of_range"),
    ("recovery/p1/report/symptom", b'{"symptom": "headache"}', "unknown_symptom"),
    ("recovery/p1/report/symptom", b'{"note": "forgot the kind"}', "missing_field"),
    ("recovery/p1/report/note", b'{"note": "' + b"x" * MAX_COMMAND_BYTES + b'"}', "too_large"),
    ("recovery/p1/report/pain", b"\xc3\x28", "invalid_utf8"),
    ("recovery/p1/report/pain", b'{"score": 2, "at": "2026-11-23T18:00:00+00:00"}', "in_future"),
    ("recovery/p1/report/pain", b'{"score": 2, "feeling": "meh"}', "unknown_field"),
    ("recovery/p9/report/pain", b"3", "unknown_person"),
    ("recovery/p1/alert/ack", b'{"id": "01JD5Z0000ABCDEFGHJKMNPQRS"}', "unknown_alert"),
]


async def stored_reports(store: Store, person: str) -> int:
    """How many reports of any kind the store holds for a person."""
    far = timedelta(days=3650)
    now = monday(12)
    return len(await store.reports(person, REPORT_KINDS, now - far, now + far))


async def test_each_malformed_command_gets_its_error_and_changes_nothing(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    async with running(config, clock, tuning=FAST) as app, MqttProbe(config.mqtt, LISTEN) as probe:
        assert app.store is not None
        assert app.state is not None
        await asyncio.sleep(0.2)
        states_before = app.state.published
        for number, (topic, payload, code) in enumerate(MALFORMED):
            answer = await send(probe, topic, payload, name=f"bad-{number}")
            assert answer["ok"] is False, topic
            assert answer["error"] == code, (topic, payload)
            assert answer["topic"] == topic
            assert isinstance(answer["detail"], str)
            assert answer["detail"]
        person_of = {t: t.split("/")[1] for t, _, _ in MALFORMED}
        errors = await probe.wait_for(
            lambda m: len([x for x in m if x.topic.endswith("/error")]) >= len(MALFORMED)
        )
        published = [m.json() for m in errors if m.topic.endswith("/error")]
        assert [e["error"] for e in published] == [code for _, _, code in MALFORMED]
        for message in (m for m in errors if m.topic.endswith("/error")):
            body = message.json()
            assert message.topic == f"recovery/{person_of[body['topic']]}/error"
            assert body["received_at"] == clock.now().isoformat()
        assert await stored_reports(app.store, "p1") == 0
        assert await stored_reports(app.store, "p9") == 0
        assert await app.store.alerts("p1") == []
        assert app.state.published == states_before, "no state change to publish"
        assert app.intake is not None
        assert app.intake.rejected == len(MALFORMED)


async def test_a_command_with_a_foreign_response_topic_is_refused_and_not_answered_there(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    topics = [*LISTEN, "homeassistant/#"]
    async with running(config, clock) as app, MqttProbe(config.mqtt, topics) as probe:
        assert app.store is not None
        await asyncio.sleep(0.2)
        probe.messages.clear()
        probe.client.publish(
            "recovery/p1/report/pain",
            b"3",
            response_topic="homeassistant/device/recovery_p1/config",
            correlation_data=b"x",
        )
        errors = await probe.wait_for(lambda m: any(x.topic == "recovery/p1/error" for x in m))
        error = next(x.json() for x in errors if x.topic == "recovery/p1/error")
        assert error["error"] == "bad_response_topic"
        await probe.settle(app.mqtt)  # anything it answered would be here now
        assert not [m for m in probe.messages if m.correlation_data == b"x"]
        assert await stored_reports(app.store, "p1") == 0


async def test_every_kind_is_accepted_stored_once_and_answered(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    async with (
        running(config, clock, tuning=FAST) as app,
        MqttProbe(config.mqtt, [*LISTEN, "recovery/p1/alert"]) as probe,
    ):
        assert app.store is not None
        accepted = [
            ("recovery/p1/report/pain", b"4"),
            ("recovery/p1/report/function", b'{"score": 6}'),
            ("recovery/p1/report/session", b'{"kind": "manual", "minutes": 12}'),
            ("recovery/p1/report/exercise", b'{"kind": "cat_cow", "sets": 2, "reps": 10}'),
            ("recovery/p1/report/note", b'{"note": "walked to the shop"}'),
            ("recovery/p1/report/symptom", b'{"symptom": "night_pain", "note": "woke at 3"}'),
        ]
        for number, (topic, payload) in enumerate(accepted):
            answer = await send(probe, topic, payload, name=f"ok-{number}")
            assert answer["ok"] is True, answer
            assert isinstance(answer["report"], int)
        # The same command delivered again (as after a reconnect): answered, stored once.
        again = await send(probe, "recovery/p1/report/pain", b"4", name="again")
        assert again == {"ok": True, "topic": "recovery/p1/report/pain", "duplicate": True}
        assert await stored_reports(app.store, "p1") == len(accepted)
        reports = await app.store.reports("p1", ["note", "symptom"], monday(0), monday(23))
        assert [r.payload for r in reports] == [
            {"note": "walked to the shop"},
            {"note": "woke at 3", "symptom": "night_pain"},
        ]

        alerts = await probe.wait_for(lambda m: any(x.topic.endswith("/alert") for x in m))
        alert = next(x.json() for x in alerts if x.topic.endswith("/alert"))
        assert alert["event_type"] == "red_flag"
        assert alert["requires_ack"] is True
        ack = await send(probe, "recovery/p1/alert/ack", json.dumps({"id": alert["id"]}), name="a1")
        assert ack["acknowledged"] == [alert["id"]]
        twice = await send(
            probe, "recovery/p1/alert/ack", json.dumps({"id": alert["id"]}), name="a2"
        )
        assert twice["acknowledged"] == [alert["id"]], "acknowledging twice is harmless"
        (stored,) = await app.store.alerts("p1")
        assert stored.acked_at == clock.now()


async def test_acknowledge_all_takes_what_waits_up_to_the_press_and_is_idempotent(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    async with running(config, clock) as app, MqttProbe(config.mqtt, LISTEN) as probe:
        assert app.store is not None
        for number, kind in enumerate(["leg_weakness", "severe_stiffness"]):
            body = {"symptom": kind, "id": f"s{number}"}
            await send(probe, "recovery/p1/report/symptom", json.dumps(body), name=f"s{number}")
            await clock.advance(60)
        press = clock.now().isoformat()
        await clock.advance(60)
        await send(probe, "recovery/p1/report/symptom", '{"symptom": "night_pain"}', name="late")
        everything = await app.store.alerts("p1")
        assert len(everything) == 3
        command = json.dumps({"all": True, "at": press})
        first = await send(probe, "recovery/p1/alert/ack", command, name="all-1")
        assert first["acknowledged"] == [a.id for a in everything[:2]]
        again = await send(probe, "recovery/p1/alert/ack", command, name="all-2")
        assert again["acknowledged"] == [], "a redelivery acknowledges nothing new"
        assert [a.acked_at is not None for a in await app.store.alerts("p1")] == [True, True, False]


async def test_a_flood_of_bad_commands_is_answered_or_summed_up_and_the_service_keeps_up(
    tmp_path: Path,
) -> None:
    flood = 1500
    # The broker must keep the whole flood for us: the count is what this test checks.
    async with PrivateBroker(
        tmp_path / "broker", extra_config="max_queued_messages 100000\n"
    ) as broker:
        config = parse_config(config_toml(database=tmp_path / "monitor.db", port=broker.port))
        clock = SimulatedClock(monday(10), speed=0)
        async with running(config, clock) as app, MqttProbe(config.mqtt, LISTEN) as probe:
            assert app.intake is not None
            loop = asyncio.get_running_loop()
            started = loop.time()
            for number in range(flood):
                probe.client.publish("recovery/p1/report/pain", f"{{bad {number}".encode())
            answer = await send(probe, "recovery/p1/report/pain", b"5", name="after", within=30)
            assert answer["ok"] is True
            elapsed = loop.time() - started

            await probe.wait_for(lambda _: _accounted(probe) >= flood, within=10)
            individual = [
                m.json() for m in probe.on("/p1/error") if m.json()["error"] != "rate_limited"
            ]
            summaries = [
                m.json() for m in probe.on("/p1/error") if m.json()["error"] == "rate_limited"
            ]
            assert summaries, "the flood was rate-limited"
            assert {e["error"] for e in individual} == {"invalid_json"}
            assert len(individual) + sum(int(s["count"]) for s in summaries) == flood
            assert app.intake.rejected == flood
            assert app.intake.unanswered == sum(int(s["count"]) for s in summaries)
            assert elapsed < 20, f"{flood} bad commands took {elapsed:.1f} s"


def _accounted(probe: MqttProbe) -> int:
    total = 0
    for message in probe.on("/p1/error"):
        body = message.json()
        total += int(body["count"]) if body["error"] == "rate_limited" else 1
    return total


async def test_qos0_commands_beyond_the_waiting_room_are_dropped_and_counted(
    make_config: ConfigFactory,
) -> None:
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    async with running(config, clock) as app, MqttProbe(config.mqtt, LISTEN) as probe:
        assert app.intake is not None
        intake = app.intake
        burst = MAX_WAITING + 200
        # All at once, as paho's thread would hand them over faster than they are handled.
        for _ in range(burst):
            intake.submit(
                Incoming("recovery/p1/report/pain", b"{bad", qos=0, mid=0, retained=False)
            )
        assert intake.dropped == 200
        await probe.wait_for(lambda _: _accounted(probe) >= burst, within=10)
        assert intake.rejected == MAX_WAITING
        assert _accounted(probe) == burst


async def test_poison_commands_through_the_broker_are_refused_and_intake_goes_on(
    make_config: ConfigFactory,
) -> None:
    """A bare 400-digit number and a 1000-deep array (issue 11, case 3): each refused, each
    acknowledged, and a valid command right after is answered."""
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    async with running(config, clock, tuning=FAST) as app, MqttProbe(config.mqtt, LISTEN) as probe:
        assert app.store is not None
        poison = [(b"1" * 400, "out_of_range"), (b"[" * 1000 + b"]" * 1000, "invalid_json")]
        for number, (payload, code) in enumerate(poison):
            answer = await send(probe, "recovery/p1/report/pain", payload, name=f"poison-{number}")
            assert answer["error"] == code
        answer = await send(probe, "recovery/p1/report/pain", b"4", name="valid")
        assert answer["ok"] is True
        assert await stored_reports(app.store, "p1") == 1


async def test_a_retained_command_is_refused_once_and_cleared_from_the_broker(
    make_config: ConfigFactory,
) -> None:
    """A retained symptom and a retained ack-all (issue 11, case 4) are not acted on at
    subscribe; each is answered `retained_command` and cleared."""
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    retained = {
        "recovery/p1/report/symptom": b'{"symptom": "leg_weakness"}',
        "recovery/p1/alert/ack": b'{"all": true}',
    }
    async with MqttProbe(config.mqtt, LISTEN, client_id="phone") as phone:
        for topic, payload in retained.items():
            await phone.client.publish(topic, payload, retain=True)
        async with running(config, clock, tuning=FAST) as app:
            assert app.store is not None
            errors = await phone.wait_for(lambda m: len(m) >= 2)
            assert sorted(e.json()["topic"] for e in errors) == sorted(retained)
            assert {e.json()["error"] for e in errors} == {"retained_command"}
            assert await stored_reports(app.store, "p1") == 0
            assert await app.store.alerts("p1") == []
    marker = "recovery/p1/marker"
    async with MqttProbe(config.mqtt, [*retained, marker], client_id="later") as later:
        await later.client.wait_subscribed()
        # Retained messages come on subscribing, before anything published after it.
        await later.client.publish(marker, b"after")
        await later.wait_for(lambda m: any(x.topic == marker for x in m))
        assert [m.topic for m in later.messages] == [marker]


async def test_an_empty_retained_message_on_a_command_topic_is_ignored_silently(
    make_config: ConfigFactory,
) -> None:
    """`mosquitto_pub -r -n` (clearing a retained message) is no command: no answer, nothing
    stored (it was answered `invalid_json`)."""
    config = make_config()
    clock = SimulatedClock(monday(10), speed=0)
    async with (
        running(config, clock, tuning=FAST) as app,
        MqttProbe(config.mqtt, LISTEN, client_id="phone") as phone,
    ):
        assert app.store is not None
        await phone.client.wait_subscribed()
        for topic in ("recovery/p1/report/symptom", "recovery/p1/report/note"):
            await phone.client.publish(topic, b"", retain=True)
            await phone.client.publish(topic, b"")
        # Commands are handled in order: once this one is refused, the empty ones were handled.
        await phone.client.publish("recovery/p1/report/pain", b"x")
        errors = await phone.wait_for(lambda m: len(m) >= 1)
        assert [(e.topic, e.json()["error"]) for e in errors] == [
            ("recovery/p1/error", "invalid_json")
        ]
        assert await stored_reports(app.store, "p1") == 0
