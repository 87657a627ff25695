"""Shared fixtures: a private Mosquitto per test on a free port, and configs that point at it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from monitor.config import Config, parse_config
from simulators.broker import PrivateBroker

ConfigFactory = Callable[..., Config]


@pytest.fixture(autouse=True)
def _quiet_bumble() -> Iterator[None]:
    # Bumble logs every packet a lost link drops at warning level; on the virtual radio that is
    # expected, and it would bury the service's own warnings.
    logger = logging.getLogger("bumble")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[PrivateBroker]:
    """A real Mosquitto of this test's own, with persistence, killed after the test."""
    async with PrivateBroker(tmp_path / "broker") as running:
        yield running


def config_toml(
    *,
    database: Path,
    port: int,
    timezone: str = "Europe/London",
    persons: str | None = None,
    mqtt_extra: str = "",
) -> str:
    """The TOML of a test config: one person "p1" with one watch unless `persons` is given."""
    person = persons if persons is not None else PERSON_TOML
    return f"""
[service]
database = "{database}"
timezone = "{timezone}"
log_level = "debug"

[mqtt]
host = "127.0.0.1"
port = {port}
client_id = "recovery-monitor-test"
keepalive = 5
{mqtt_extra}

{person}
"""


PERSON_TOML = """
[[person]]
id = "p1"
pain_type = "acute"
plan_start = 2026-11-23
waking_hours = "08:00-21:00"
checkpoints = ["12:00", "16:00", "19:00"]

[[person.device]]
id = "watch"
profile = "infinitime"
name = "InfiniTime"
"""


@pytest.fixture
def make_config(tmp_path: Path, broker: PrivateBroker) -> ConfigFactory:
    """Builds a config for the test's broker and a database in the test's folder."""

    def build(**kwargs: object) -> Config:
        text = config_toml(database=tmp_path / "monitor.db", port=broker.port, **kwargs)  # type: ignore[arg-type]
        return parse_config(text, base_dir=tmp_path)

    return build
