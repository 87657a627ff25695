"""Intake against a fake broker seam and a real SQLite file: truthful answers, no poison, no replay.

The MQTT side is a fake at the seam intake declares (`Messenger`); the store is the real one, so
a storage failure is a real SQLite error (a trigger that fails the alert's insert the way a
full disk fails a page write).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.clock import SimulatedClock
from monitor.config import parse_config
from monitor.mqtt.client import Incoming
from monitor.service.alerter import Alerter
from monitor.service.intake import Intake
from monitor.store.database import Store
from monitor.store.reports import NewReport, Reaction, ReportStored
from tests.conftest import config_toml

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
SYMPTOM = "recovery/p1/report/symptom"
RED_FLAG = b'{"symptom": "leg_weakness", "id": "r1"}'


@dataclass(frozen=True, slots=True)
class Published:
    topic: str
    body: bytes
    retain: bool
    correlation_data: bytes | None


class FakeBroker:
    """The Messenger seam: records what intake publishes and acknowledges."""

    def __init__(self) -> None:
        self.published: list[Published] = []
        self.acked: list[int] = []
        self.refuse_alerts = False  # answer alerts with a failure reason code (0x87)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> asyncio.Future[int]:
        self.published.append(Published(topic, payload, retain, correlation_data))
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(0x87 if self.refuse_alerts and topic.endswith("/alert") else 0)
        return done

    def ack(self, message: Incoming) -> None:
        self.acked.append(message.mid)

    def answers(self) -> list[dict[str, object]]:
        """Every answer on a reply topic, in order."""
        return [json.loads(p.body) for p in self.published if "/reply/" in p.topic]


class Woken:
    def wake(self) -> None:
        pass


@dataclass
class Rig:
    store: Store
    broker: FakeBroker
    intake: Intake
    path: Path
    monotonic: list[float]  # the intake's monotonic clock (seconds), moved by the test

    async def command(
        self, topic: str, payload: bytes, *, mid: int, retained: bool = False
    ) -> None:
        message = Incoming(
            topic, payload, qos=1, mid=mid, retained=retained, response_topic="recovery/p1/reply/x"
        )
        await self.intake.handle(message)


@contextlib.asynccontextmanager
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    path = tmp_path / "monitor.db"
    config = parse_config(config_toml(database=path, port=1883), base_dir=tmp_path)
    clock = SimulatedClock(NOW, speed=0)
    async with Store.open(path) as store:
        alerter = Alerter(store, Woken(), clock, "recovery", persons=config.persons)
        broker = FakeBroker()
        ticks = [0.0]
        intake = Intake(
            config,
            store=store,
            alerter=alerter,
            mqtt=broker,
            clock=clock,
            on_change=lambda _: None,
            monotonic=lambda: ticks[0],
        )
        yield Rig(store, broker, intake, path, ticks)


def counts(path: Path) -> tuple[int, int, int]:
    """Reports, alerts and outbox rows in a database file."""
    with sqlite3.connect(path) as db:
        reports, alerts, outbox = (
            int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
            for table in ("report", "alert", "outbox")
        )
    return reports, alerts, outbox


def fail_alert_inserts(path: Path) -> None:
    """The alert's page cannot be written, as on a full disk (SQLITE_FULL or a trigger's
    abort: both roll the statement back and fail the transaction)."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER full BEFORE INSERT ON alert "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


def mend(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER full")


def alerts_sent(broker: FakeBroker) -> list[dict[str, Any]]:
    """Every alert published on an alert topic, decoded."""
    return [json.loads(p.body) for p in broker.published if p.topic.endswith("/alert")]


def alert_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [str(row[0]) for row in db.execute("SELECT id FROM alert ORDER BY id")]


SYMPTOM_REPORTS = [
    RED_FLAG,
    b'{"symptom":"leg_numbness_tingling","id":"locked-1"}',  # the reported case
    b'{"symptom": "night_pain"}',  # a warning symptom, no request id
    b'{"symptom": "severe_stiffness", "note": "after the session"}',
]


@pytest.mark.parametrize("payload", SYMPTOM_REPORTS)
async def test_an_unstorable_symptom_report_is_alerted_at_once_and_stored_later_once(
    tmp_path: Path, payload: bytes
) -> None:
    async with rig(tmp_path) as r:
        fail_alert_inserts(r.path)
        await r.command(SYMPTOM, payload, mid=1)
        answer = r.broker.answers()[-1]
        assert answer["ok"] is False
        assert answer["error"] == "storage_unavailable"
        assert "sent anyway" in str(answer["detail"])
        assert counts(r.path) == (0, 0, 0), "storage_unavailable: nothing was stored yet"
        sent = alerts_sent(r.broker)
        assert [a["severity"] for a in sent] == ["critical"]
        assert answer["alerts"] == [{"id": sent[0]["id"], "title": sent[0]["title"]}]
        assert r.broker.acked == [1]

        mend(r.path)
        task = asyncio.create_task(r.intake.run())
        try:
            r.monotonic[0] += 60.0  # past the retry interval
            async with asyncio.timeout(10):
                while counts(r.path) == (0, 0, 0):  # noqa: ASYNC110 - polling the file
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert counts(r.path) == (1, 1, 0), "stored once; already sent, so not queued again"
        assert alert_ids(r.path) == [sent[0]["id"]], "the same alert id, no second one"
        assert len(alerts_sent(r.broker)) == 1


async def test_a_resend_of_a_held_symptom_report_raises_no_second_alert(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        fail_alert_inserts(r.path)
        await r.command(SYMPTOM, RED_FLAG, mid=1)
        await r.command(SYMPTOM, RED_FLAG, mid=2)  # resent during the outage
        assert [a["error"] for a in r.broker.answers()] == ["storage_unavailable"] * 2
        assert len(alerts_sent(r.broker)) == 1, "the held report's alert is not sent again"
        mend(r.path)
        await r.command(SYMPTOM, RED_FLAG, mid=3)  # the phone sends it again, as told
        answer = r.broker.answers()[-1]
        assert answer["ok"] is True
        assert answer["duplicate"] is True
        assert counts(r.path) == (1, 1, 0)
        assert alert_ids(r.path) == [alerts_sent(r.broker)[0]["id"]]
        assert len(alerts_sent(r.broker)) == 1
        assert r.broker.acked == [1, 2, 3]


async def test_a_symptom_report_is_alerted_while_another_program_locks_the_database(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        locker = sqlite3.connect(r.path, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            # Waits out the store's busy timeout (5 s), then fails like a full disk.
            await r.command(SYMPTOM, SYMPTOM_REPORTS[1], mid=1)
            assert r.broker.answers()[-1]["error"] == "storage_unavailable"
            sent = alerts_sent(r.broker)
            assert len(sent) == 1
            assert sent[0]["data"]["symptom"] == "leg_numbness_tingling"
        finally:
            locker.rollback()
            locker.close()
        r.monotonic[0] += 60.0  # past the retry interval: the next command stores it first
        await r.command("recovery/p1/report/symptom", b'{"symptom": "night_pain"}', mid=2)
        assert r.broker.answers()[-1]["ok"] is True
        assert counts(r.path) == (2, 2, 1), "the held report first, its alert not queued again"
        assert sent[0]["id"] in alert_ids(r.path)
        assert len(alerts_sent(r.broker)) == 1, "the second alert goes through the outbox"


async def test_an_alert_the_broker_did_not_confirm_is_queued_with_its_id(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        fail_alert_inserts(r.path)
        r.broker.refuse_alerts = True
        await r.command(SYMPTOM, RED_FLAG, mid=1)
        sent = alerts_sent(r.broker)
        mend(r.path)
        r.monotonic[0] += 60.0  # past the retry interval: the next command stores it first
        await r.command(SYMPTOM, b'{"symptom": "night_pain"}', mid=2)
        with sqlite3.connect(r.path) as db:
            queued = [str(row[0]) for row in db.execute("SELECT alert_id FROM outbox")]
        assert sent[0]["id"] in queued, "sent again by the outbox under the same id"


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("recovery/p1/report/pain", b'{"score": 3, "id": "n%d"}'),
        (SYMPTOM, b'{"symptom": "night_pain", "id": "n%d"}'),
    ],
)
async def test_storage_failures_are_logged_once_then_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, topic: str, payload: bytes
) -> None:
    async with rig(tmp_path) as r:
        fail_alert_inserts(r.path)
        with sqlite3.connect(r.path) as db:
            db.execute(
                "CREATE TRIGGER full_report BEFORE INSERT ON report "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        with caplog.at_level(logging.ERROR):
            for mid in range(1, 300):  # as measured: 298 refused in about a second
                await r.command(topic, payload % mid, mid=mid)
            r.monotonic[0] += 1.0
            await r.command(topic, payload % 300, mid=300)
        lines = [
            rec.getMessage()
            for rec in caplog.records
            if rec.name.startswith("monitor.service.intake")
        ]
        assert len(lines) == 3, lines
        assert "298 more command(s) could not be stored" in lines[1]
        errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
        assert len(errors) <= 4, [rec.getMessage() for rec in errors]


async def test_a_redelivered_report_whose_alert_is_missing_gets_it(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        # As an older version left it, killed between storing the report and its alert.
        await r.store.add_report(
            "p1", "symptom", NOW, NOW, {"symptom": "leg_weakness"}, "id:r1", None
        )
        assert counts(r.path) == (1, 0, 0)
        await r.command(SYMPTOM, RED_FLAG, mid=1)
        assert r.broker.answers()[-1]["duplicate"] is True
        assert counts(r.path) == (1, 1, 1)
        await r.command(SYMPTOM, RED_FLAG, mid=2)
        assert counts(r.path) == (1, 1, 1), "a third delivery changes nothing"


async def test_at_start_a_stored_report_without_its_alert_gets_it(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.store.add_report("p1", "symptom", NOW, NOW, {"symptom": "night_pain"}, "h", None)
        task = asyncio.create_task(r.intake.run())
        try:
            async with asyncio.timeout(10):
                while counts(r.path) != (1, 1, 1):  # noqa: ASYNC110 - polling the file
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        alerts = await r.store.alerts("p1")
        assert [a.key for a in alerts] == ["red_flag:1"]


POISON = [
    ("recovery/p1/report/pain", b"1" * 400, "out_of_range"),
    ("recovery/p1/report/pain", b"[" * 1000 + b"]" * 1000, "invalid_json"),
    ("recovery/p1/report/function", b'{"score": ' + b"9" * 1000 + b"}", "out_of_range"),
    ("recovery/p1/report/symptom", b'{"symptom": ' + b"[" * 900 + b"]" * 900 + b"}", None),
    ("recovery/p1/report/session", b'{"kind": "manual", "minutes": 1e999}', "invalid_field"),
    ("recovery/p1/report/note", b'{"note": {"a": ' * 600 + b"1" + b"}" * 600 + b"}", None),
]


@pytest.mark.parametrize(("topic", "payload", "code"), POISON)
async def test_no_message_stops_intake(
    tmp_path: Path, topic: str, payload: bytes, code: str | None
) -> None:
    async with rig(tmp_path) as r:
        await r.command(topic, payload, mid=1)
        refused = r.broker.answers()[-1]
        assert refused["ok"] is False
        if code is not None:
            assert refused["error"] == code
        await r.command("recovery/p1/report/pain", b"3", mid=2)
        assert r.broker.answers()[-1]["ok"] is True
        assert r.broker.acked == [1, 2]
        assert counts(r.path) == (1, 0, 0)


async def test_a_failure_nobody_foresaw_is_answered_acknowledged_and_intake_goes_on(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        original = r.store.store_report

        async def broken(report: NewReport, react: Reaction | None = None) -> ReportStored:
            raise RuntimeError("a bug")

        r.store.store_report = broken  # type: ignore[method-assign]
        await r.command(SYMPTOM, RED_FLAG, mid=1)
        assert r.broker.answers()[-1]["error"] == "internal_error"
        r.store.store_report = original  # type: ignore[method-assign]
        await r.command("recovery/p1/report/pain", b"3", mid=2)
        assert r.broker.answers()[-1]["ok"] is True
        assert r.broker.acked == [1, 2]


@pytest.mark.parametrize(
    ("topic", "payload"),
    [(SYMPTOM, b'{"symptom": "leg_weakness"}'), ("recovery/p1/alert/ack", b'{"all": true}')],
)
async def test_a_retained_command_is_refused_once_cleared_and_changes_nothing(
    tmp_path: Path, topic: str, payload: bytes
) -> None:
    async with rig(tmp_path) as r:
        await r.command(SYMPTOM, b'{"symptom": "night_pain"}', mid=1)  # an alert to ack
        before = counts(r.path)
        await r.command(topic, payload, mid=2, retained=True)
        await r.command(topic, payload, mid=3, retained=True)  # replayed at a reconnect
        assert [a["error"] for a in r.broker.answers() if a["ok"] is False] == ["retained_command"]
        assert counts(r.path) == before
        assert all(a.acked_at is None for a in await r.store.alerts("p1"))
        assert [p for p in r.broker.published if p.retain] == [Published(topic, b"", True, None)]
        assert r.broker.acked == [1, 2, 3]


@pytest.mark.parametrize("retained", [True, False])
@pytest.mark.parametrize("topic", [SYMPTOM, "recovery/p1/report/note", "recovery/p1/alert/ack"])
async def test_an_empty_message_is_ignored_silently(
    tmp_path: Path, topic: str, retained: bool
) -> None:
    async with rig(tmp_path) as r:
        # `mosquitto_pub -r -n`: clearing a retained message, not a command.
        await r.command(topic, b"", mid=1, retained=retained)
        assert r.broker.published == []
        assert r.broker.acked == [1]
        assert counts(r.path) == (0, 0, 0)
        assert r.intake.rejected == 0
