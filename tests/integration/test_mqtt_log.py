"""`recovery-monitor log` against the running service over a real Mosquitto."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from monitor.clock import SimulatedClock
from monitor.config import Config
from monitor.mqtt.commands import REPORT_KINDS
from simulators.broker import LocalPki, PrivateBroker
from tests.conftest import ConfigFactory, config_toml
from tests.integration.conftest import (
    PASSWORDS,
    PERSON,
    monday,
    run_cli,
    run_cli_process,
    secure_broker,
)
from tests.probe import running


def config_file(tmp_path: Path, broker: PrivateBroker) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(config_toml(database=tmp_path / "monitor.db", port=broker.port))
    return path


async def test_each_kind_of_report_goes_through_the_broker_and_is_accepted(
    make_config: ConfigFactory, tmp_path: Path, broker: PrivateBroker
) -> None:
    config: Config = make_config()
    conf = str(config_file(tmp_path, broker))
    clock = SimulatedClock(monday(10), speed=0)
    async with running(config, clock) as app:
        assert app.store is not None
        sent = [
            ["pain", "4"],
            ["function", "6.5"],
            ["symptom", "sharp_pain_during_session", "--note", "on the hill"],
            ["session", "12", "--kind", "device"],
            ["exercise", "pelvic_tilt", "--sets", "2", "--reps", "10"],
            ["note", "slept well"],
        ]
        for args in sent:
            result = await run_cli(["log", *args, "--config", conf])
            assert result.code == 0, result.err
            assert result.out.startswith(f"accepted: {args[0]} report for p1 stored (report ")
            assert result.err == ""
        reports = await app.store.reports("p1", REPORT_KINDS, monday(0), monday(23))
        assert [(r.kind, r.payload) for r in reports] == [
            ("pain", {"score": 4}),
            ("function", {"score": 6.5}),
            ("symptom", {"symptom": "sharp_pain_during_session", "note": "on the hill"}),
            ("session", {"kind": "device", "minutes": 12}),
            ("exercise", {"kind": "pelvic_tilt", "sets": 2, "reps": 10}),
            ("note", {"note": "slept well"}),
        ]
        # The same values again are a second report, not a duplicate: each run is its own.
        again = await run_cli(["log", "pain", "4", "--config", conf, "--json"])
        assert again.code == 0
        assert json.loads(again.out)["ok"] is True

        (alert,) = await app.store.alerts("p1")
        one = await run_cli(["log", "ack", alert.id, "--config", conf])
        assert one.code == 0, one.err
        assert one.out == "accepted: 1 alert(s) of p1 acknowledged\n"
        none_left = await run_cli(["log", "ack", "--all", "--config", conf])
        assert none_left.out == "accepted: 0 alert(s) of p1 acknowledged\n"

        earlier = (clock.now() - timedelta(hours=2)).isoformat()
        dated = await run_cli(["log", "pain", "2", "--at", earlier, "--config", conf])
        assert dated.code == 0
        (first,) = await app.store.reports("p1", ["pain"], monday(7, 59), monday(8, 1))
        assert first.payload == {"score": 2}


async def test_a_refused_report_prints_the_services_reason_and_fails(
    make_config: ConfigFactory, tmp_path: Path, broker: PrivateBroker
) -> None:
    config = make_config()
    conf = str(config_file(tmp_path, broker))
    async with running(config, SimulatedClock(monday(10), speed=0)) as app:
        assert app.store is not None
        result = await run_cli(["log", "pain", "11", "--config", conf])
        assert result.code == 1
        assert result.err == (
            "recovery-monitor: refused: out_of_range: 'score' must be between 0 and 10\n"
        )
        future = (monday(12)).isoformat()
        result = await run_cli(["log", "function", "3", "--at", future, "--config", conf])
        assert result.code == 1
        assert "refused: in_future" in result.err
        unknown = await run_cli(["log", "ack", "01JD5Z0000ABCDEFGHJKMNPQRS", "--config", conf])
        assert unknown.code == 1
        assert "refused: unknown_alert" in unknown.err
        assert await app.store.reports("p1", REPORT_KINDS, monday(0), monday(23)) == []


async def test_no_service_means_a_clear_failure_within_the_timeout(
    make_config: ConfigFactory, tmp_path: Path, broker: PrivateBroker
) -> None:
    config = make_config()
    conf = str(config_file(tmp_path, broker))
    # Never ran against this broker: nobody would ever read the report.
    never = await run_cli(["log", "pain", "3", "--config", conf, "--timeout", "2"])
    assert never.code == 1
    assert "nobody is subscribed to recovery/p1/report/pain" in never.err
    # Ran, and stopped: its session keeps the report, but nobody answers now.
    async with running(config, SimulatedClock(monday(10), speed=0)):
        pass
    stopped = await run_cli(["log", "pain", "3", "--config", conf, "--timeout", "0.5"])
    assert stopped.code == 1
    assert "no answer from recovery-monitor within 0.5 s" in stopped.err
    assert "status: offline" in stopped.err
    # Bad usage is exit 2, before anything is sent.
    assert (await run_cli(["log", "pain", "three", "--config", conf])).code == 2
    assert (await run_cli(["log", "symptom", "headache", "--config", conf])).code == 2


async def test_a_phone_user_over_tls_through_the_documented_acl(
    tmp_path: Path, pki: LocalPki
) -> None:
    async with secure_broker(tmp_path, pki) as setup:
        config = setup.config()
        conf = str(setup.config_file())
        phone = ["--username", f"phone-{PERSON}"]
        phone += ["--password-file", str(setup.password_file(f"phone-{PERSON}"))]
        async with running(config, SimulatedClock(monday(10), speed=0)):
            own = await run_cli(["log", "pain", "3", "--config", conf, *phone])
            assert own.code == 0, own.err
            other = await run_cli(["log", "pain", "3", "--person", "p2", "--config", conf, *phone])
            assert other.code == 1
            assert "the broker refused the report on recovery/p2/report/pain" in other.err
            assert "Not authorized (0x87)" in other.err
            # As its own process, the way a person types it.
            result = await run_cli_process(["log", "function", "5", "--config", conf, *phone])
            assert result.code == 0, result.err
            assert result.out == f"accepted: function report for {PERSON} stored (report 2)\n"
    assert PASSWORDS[f"phone-{PERSON}"] not in result.out + result.err


async def test_a_symptom_report_prints_the_alerts_it_raised(
    make_config: ConfigFactory, tmp_path: Path, broker: PrivateBroker
) -> None:
    config = make_config()
    conf = str(config_file(tmp_path, broker))
    async with running(config, SimulatedClock(monday(10), speed=0)) as app:
        assert app.store is not None
        result = await run_cli(
            ["log", "symptom", "severe_stiffness", "--note", "after the session", "--config", conf]
        )
        assert result.code == 0, result.err
        (alert,) = await app.store.alerts("p1")
        title = alert.body()["title"]
        assert result.out == (
            f"accepted: symptom report for p1 stored (report 1)\n  alert {alert.id}: {title}\n"
        )
        as_json = await run_cli(["log", "symptom", "night_pain", "--config", conf, "--json"])
        answer = json.loads(as_json.out)
        ids = [a.id for a in await app.store.alerts("p1")]
        assert [a["id"] for a in answer["alerts"]] == [i for i in ids if i != alert.id]
        assert all(isinstance(a["title"], str) and a["title"] for a in answer["alerts"])
