"""Fixtures for the MQTT interface tests: a throwaway CA, a broker with passwords, TLS and the
documented ACL, configs for it, and helpers to send commands and run the `log` command."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pytest

from monitor.cli.main import main
from monitor.config import Config, parse_config
from monitor.days import at_local
from simulators.broker import BrokerTls, LocalPki, PrivateBroker, make_test_pki
from tests.conftest import config_toml
from tests.probe import MqttProbe

REPO = Path(__file__).parents[2]
DOCUMENTED_ACL = REPO / "config" / "mosquitto-acl.conf"
LONDON = ZoneInfo("Europe/London")
# The person of the documented ACL and of config/default.toml.
PERSON = "p7f3a"
PERSON_TOML = f"""
[[person]]
id = "{PERSON}"
pain_type = "acute"
plan_start = 2026-11-23

[[person.device]]
id = "watch"
profile = "infinitime"
name = "InfiniTime"
"""
PASSWORDS = {
    "recovery-monitor": "s3rvice-pw",
    "homeassistant": "h4-pw",
    f"phone-{PERSON}": "ph0ne-pw",
}


def monday(hour: int, minute: int = 0) -> datetime:
    """A moment on the test persons' first plan day (Monday 23 November 2026), London time."""
    return at_local(date(2026, 11, 23), time(hour, minute), LONDON)


@pytest.fixture
async def pki(tmp_path: Path) -> LocalPki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made for this test."""
    return await make_test_pki(tmp_path / "pki")


@dataclass(frozen=True, slots=True)
class SecureSetup:
    """A running broker with passwords, TLS and an ACL, and how to make configs for it."""

    broker: PrivateBroker
    pki: LocalPki
    folder: Path

    def password_file(self, user: str, password: str | None = None) -> Path:
        """A file holding a user's password (or the given, possibly wrong, one)."""
        path = self.folder / f"{user}.password"
        path.write_text((password or PASSWORDS[user]) + "\n", encoding="utf-8")
        path.chmod(0o600)
        return path

    def toml(
        self, *, user: str = "recovery-monitor", password: str | None = None, extra: str = ""
    ) -> str:
        """A service config that connects as `user` over TLS with the test CA."""
        mqtt = (
            f'username = "{user}"\npassword_file = "{self.password_file(user, password)}"\n'
            f'tls = true\nca_file = "{self.pki.ca_cert}"\n{extra}'
        )
        return config_toml(
            database=self.folder / "monitor.db",
            port=self.broker.port,
            persons=PERSON_TOML,
            mqtt_extra=mqtt,
        )

    def config(self, **kwargs: str) -> Config:
        """The config itself."""
        return parse_config(self.toml(**kwargs), base_dir=self.folder)

    def config_file(self, **kwargs: str) -> Path:
        """The config as a file, for the command line."""
        path = self.folder / "config.toml"
        path.write_text(self.toml(**kwargs), encoding="utf-8")
        return path


@contextlib.asynccontextmanager
async def secure_broker(
    tmp_path: Path, pki: LocalPki, *, acl: str | None = None, client_certs: bool = False
) -> AsyncIterator[SecureSetup]:
    """A broker that wants a password and TLS, with the documented ACL unless `acl` is given."""
    folder = tmp_path / "secure"
    folder.mkdir(exist_ok=True)
    tls = BrokerTls(pki.ca_cert, pki.server_cert, pki.server_key, client_certs)
    rules = acl if acl is not None else DOCUMENTED_ACL.read_text(encoding="utf-8")
    async with PrivateBroker(folder / "broker", users=PASSWORDS, acl=rules, tls=tls) as broker:
        yield SecureSetup(broker, pki, folder)


def render(template: str, value_json: Any) -> str:
    """A value template rendered as Home Assistant would (Jinja, `value_json` bound)."""
    # Renders JSON fields into plain text, never HTML: nothing to escape.
    environment = jinja2.Environment(autoescape=False)  # noqa: S701
    return environment.from_string(template).render(value_json=value_json)


async def until(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait (real time) until an async predicate holds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the service's state is the point
            await asyncio.sleep(0.02)


def reply_topic(command_topic: str, name: str) -> str:
    """A response topic the service accepts for a command on `command_topic`."""
    base, person = command_topic.split("/")[:2]
    return f"{base}/{person}/reply/{name}"


async def send(
    probe: MqttProbe, topic: str, payload: bytes | str, *, name: str, within: float = 10.0
) -> dict[str, object]:
    """Publish one command with a response topic and return the service's answer."""
    raw = payload.encode() if isinstance(payload, str) else payload
    correlation = name.encode()
    probe.client.publish(
        topic, raw, response_topic=reply_topic(topic, name), correlation_data=correlation
    )
    messages = await probe.wait_for(
        lambda m: any(x.correlation_data == correlation for x in m), within=within
    )
    answer: dict[str, object] = next(
        x.json() for x in messages if x.correlation_data == correlation
    )
    return answer


@dataclass(frozen=True, slots=True)
class CliResult:
    """What a run of the command line returned and printed."""

    code: int
    out: str
    err: str


async def run_cli(args: Sequence[str]) -> CliResult:
    """Run `recovery-monitor ARGS` in a thread of this process (it has its own event loop)."""
    out, err = io.StringIO(), io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return main(list(args))
            except SystemExit as exit_:  # argparse's way of refusing bad usage
                return int(exit_.code or 0)

    code = await asyncio.to_thread(call)
    return CliResult(code, out.getvalue(), err.getvalue())


async def run_cli_process(args: Sequence[str]) -> CliResult:
    """Run `python -m monitor ARGS` as a process of its own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        *args,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), err.decode())


def json_lines(text: str) -> list[dict[str, object]]:
    """Each non-empty line of `text` parsed as JSON."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
