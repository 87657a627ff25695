"""Security on a real Mosquitto: passwords, TLS with a local CA, client certificates, the
documented ACL, refused publishes made visible, and no credentials in clear over a network."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path

import pytest

from monitor.clock import SimulatedClock
from monitor.config import Config, parse_config
from monitor.errors import ConfigError
from monitor.mqtt.client import MqttClient, MqttError
from monitor.mqtt.discovery import discovery_document
from monitor.service.app import App, Tuning
from simulators.broker import LocalPki
from tests.conftest import config_toml
from tests.integration.conftest import (
    DOCUMENTED_ACL,
    PASSWORDS,
    PERSON,
    monday,
    render,
    run_cli,
    secure_broker,
    send,
    until,
)
from tests.probe import MqttProbe, running

WRONG = "not-the-right-one"
FAST = Tuning(state_interval_s=0.0, diagnostics_interval_s=0.05)


async def refusal_of(config: Config) -> str:
    """Run the service until the broker refuses it; the reason it gives."""
    app = App(config, clock=SimulatedClock(monday(10), speed=0))
    task = asyncio.create_task(app.run())
    try:

        async def refused() -> bool:
            return app.mqtt is not None and app.mqtt.refusal is not None

        await until(refused)
        assert app.mqtt is not None
        assert app.mqtt.refusal is not None
        return app.mqtt.refusal
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_over_tls_with_passwords_the_documented_acl_confines_each_client(
    tmp_path: Path, pki: LocalPki
) -> None:
    async with secure_broker(tmp_path, pki) as setup:
        config = setup.config()
        clock = SimulatedClock(monday(10), speed=0)
        phone = dataclasses.replace(
            config.mqtt,
            username=f"phone-{PERSON}",
            password_file=setup.password_file(f"phone-{PERSON}"),
        )
        topics = [f"recovery/{PERSON}/reply/#", f"recovery/{PERSON}/state", "recovery/p2/state"]
        async with (
            running(config, clock, tuning=FAST) as app,
            MqttProbe(phone, topics, password=PASSWORDS[f"phone-{PERSON}"]) as probe,
        ):
            assert app.store is not None
            # The phone may report for its own person, and gets the answer.
            answer = await send(probe, f"recovery/{PERSON}/report/pain", b"3", name="own")
            assert answer["ok"] is True
            # It may not speak for someone else, nor pose as the service.
            for topic in (
                "recovery/p2/report/pain",
                f"recovery/{PERSON}/alert",
                f"recovery/{PERSON}/state",
            ):
                code = await probe.client.publish(topic, b"3")
                assert code == 0x87, topic
            await probe.wait_for(lambda m: any(x.topic == f"recovery/{PERSON}/state" for x in m))
            assert not probe.on("p2/state")

            # Home Assistant's user may send commands for anyone and read every state.
            ha = dataclasses.replace(config.mqtt, username="homeassistant")
            async with MqttProbe(
                ha, ["recovery/+/reply/#"], client_id="ha", password=PASSWORDS["homeassistant"]
            ) as home:
                answer = await send(home, f"recovery/{PERSON}/report/function", b"6", name="ha")
                assert answer["ok"] is True
                assert await home.client.publish(f"recovery/{PERSON}/alert", b"{}") == 0x87


async def test_a_wrong_password_is_refused_with_a_clear_message(
    tmp_path: Path, pki: LocalPki, caplog: pytest.LogCaptureFixture
) -> None:
    async with secure_broker(tmp_path, pki) as setup:
        with caplog.at_level(logging.ERROR, logger="monitor.mqtt.client"):
            reason = await refusal_of(setup.config(password=WRONG))
        assert "refused the connection" in reason
        assert "wrong username or password for 'recovery-monitor'" in reason
        assert "mqtt.password_file" in reason
        assert reason in caplog.text
        assert WRONG not in caplog.text

        # The command line says the same and gives up at once.
        config_file = setup.config_file(password=WRONG)
        result = await run_cli(["log", "pain", "3", "--config", str(config_file)])
        assert result.code == 1
        assert "wrong username or password" in result.err
        assert result.err.count("\n") == 1


async def test_tls_needs_the_ca_and_the_broker_sees_plain_text_for_what_it_is(
    tmp_path: Path, pki: LocalPki
) -> None:
    async with secure_broker(tmp_path, pki) as setup:
        trusted = setup.config()
        untrusted = dataclasses.replace(
            trusted, mqtt=dataclasses.replace(trusted.mqtt, ca_file=None)
        )
        reason = await refusal_of(untrusted)
        assert "TLS certificate not trusted" in reason
        assert "mqtt.ca_file" in reason
        plain = dataclasses.replace(
            trusted, mqtt=dataclasses.replace(trusted.mqtt, tls=False, ca_file=None)
        )
        reason = await refusal_of(plain)
        assert "does the broker expect TLS" in reason


async def test_client_certificates_when_the_broker_requires_them(
    tmp_path: Path, pki: LocalPki
) -> None:
    async with secure_broker(tmp_path, pki, client_certs=True) as setup:
        with_cert = setup.config(
            extra=f'cert_file = "{pki.client_cert}"\nkey_file = "{pki.client_key}"'
        )
        clock = SimulatedClock(monday(10), speed=0)
        async with running(with_cert, clock) as app:
            assert app.mqtt is not None
            assert app.mqtt.connected
        reason = await refusal_of(setup.config())
        assert reason.startswith("cannot reach the MQTT broker")


async def test_an_alert_the_acl_refuses_is_reported_not_lost(
    tmp_path: Path, pki: LocalPki, caplog: pytest.LogCaptureFixture
) -> None:
    documented = DOCUMENTED_ACL.read_text(encoding="utf-8")
    acl = documented.replace(
        "user recovery-monitor\n", f"user recovery-monitor\ntopic deny recovery/{PERSON}/alert\n"
    )
    async with secure_broker(tmp_path, pki, acl=acl) as setup:
        config = setup.config()
        clock = SimulatedClock(monday(10), speed=0)
        ha = dataclasses.replace(config.mqtt, username="homeassistant")
        with caplog.at_level(logging.INFO):
            async with (
                running(config, clock, tuning=FAST) as app,
                MqttProbe(
                    ha,
                    ["recovery/diagnostics", "recovery/+/reply/#"],
                    client_id="ha",
                    password=PASSWORDS["homeassistant"],
                ) as home,
            ):
                assert app.store is not None
                store = app.store
                symptom = b'{"symptom": "leg_weakness", "note": "stairs were hard"}'
                await send(home, f"recovery/{PERSON}/report/symptom", symptom, name="s")
                diagnostics = await home.wait_for(
                    lambda m: any(
                        x.topic == "recovery/diagnostics"
                        and x.json()["undelivered_alerts"].get(PERSON) == 1
                        for x in m
                    )
                )
                report = next(
                    x.json() for x in reversed(diagnostics) if x.topic == "recovery/diagnostics"
                )
                assert report["last_refusal"]["code"] == 0x87
                assert report["last_refusal"]["reason"] == "Not authorized"
                assert report["last_refusal"]["topic"] == f"recovery/{PERSON}/alert"
                assert report["refused_messages"] == 1
                # The alert stays in the outbox, marked, for a retry at the next start.

                async def kept_and_marked() -> bool:
                    return await store.outbox_size() == 1 and not await store.outbox()

                await until(kept_and_marked)
        assert "0x87" in caplog.text
        assert "refused alert" in caplog.text
        # No health value in any log line above debug: not the symptom, not the note.
        above_debug = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
        assert not [line for line in above_debug if "leg_weakness" in line or "stairs" in line]
        # Home Assistant's "undelivered alerts" sensor reads the count.
        sensor = discovery_document(config, config.persons[0], expire_after_s=60)["cmps"][
            "undelivered_alerts"
        ]
        assert render(sensor["value_template"], report) == "1"
        assert render(sensor["value_template"], {**report, "undelivered_alerts": {}}) == "0"


def test_credentials_never_cross_a_network_in_clear(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("pw\n")

    def config(host: str, extra: str) -> Config:
        text = config_toml(
            database=tmp_path / "db",
            port=1883,
            mqtt_extra=f'username = "u"\npassword_file = "{secret}"\n{extra}',
        ).replace('host = "127.0.0.1"', f'host = "{host}"')
        return parse_config(text)

    with pytest.raises(ConfigError) as refused:
        config("mqtt.example.org", "")
    (problem,) = refused.value.problems
    assert problem.key == "mqtt.tls"
    assert "unencrypted" in problem.reason
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.53"):
        assert config(host, "").mqtt.username == "u"
    assert config("mqtt.example.org", "allow_plaintext_credentials = true").mqtt.username == "u"
    assert config("10.0.0.2", "tls = true").mqtt.tls
    # Nor can a program build such a connection behind the config's back.
    loopback = config("127.0.0.1", "")
    with pytest.raises(MqttError, match="unencrypted"):
        MqttClient(dataclasses.replace(loopback.mqtt, host="10.0.0.2"), client_id="x")


async def test_a_retained_command_the_acl_will_not_let_us_clear_is_said_once(
    tmp_path: Path, pki: LocalPki, caplog: pytest.LogCaptureFixture
) -> None:
    """Where the service may not write on command topics, a retained command is still refused
    (`retained_command`), and one warning says it could not be cleared and what to do."""
    documented = DOCUMENTED_ACL.read_text(encoding="utf-8")
    writes = ["status", "diagnostics", "error", "+/alert", "+/error", "+/reply/#", "+/state"]
    acl = documented.replace(
        "user recovery-monitor\ntopic readwrite recovery/#\n",
        "user recovery-monitor\ntopic read recovery/#\n"
        + "".join(f"topic write recovery/{t}\n" for t in writes),
    )
    assert acl != documented
    async with secure_broker(tmp_path, pki, acl=acl) as setup:
        config = setup.config()
        ha = dataclasses.replace(config.mqtt, username="homeassistant")
        async with MqttProbe(
            ha, [f"recovery/{PERSON}/error"], client_id="ha", password=PASSWORDS["homeassistant"]
        ) as home:
            topic = f"recovery/{PERSON}/report/symptom"
            code = await home.client.publish(topic, b'{"symptom": "leg_weakness"}', retain=True)
            assert code < 0x80  # 0x10: nobody subscribed yet; it is kept, retained
            with caplog.at_level(logging.INFO):
                async with running(config, SimulatedClock(monday(10), speed=0), tuning=FAST) as app:
                    assert app.store is not None
                    errors = await home.wait_for(lambda m: bool(m))
                    assert errors[0].json()["error"] == "retained_command"

                    async def warned() -> bool:
                        return "would not let us clear the retained command" in caplog.text

                    await until(warned)
                    assert await app.store.alerts(PERSON) == []
