"""What the benchmarks share: a private broker, a config, the service as a process, MQTT clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from monitor.config import Config, MqttConfig, load_config
from monitor.mqtt.client import Incoming, MqttClient
from simulators.broker import PrivateBroker

ROOT = Path(__file__).resolve().parents[1]

PERSON = """
[[person]]
id = "{pid}"
pain_type = "acute"
plan_start = 2026-11-23
"""


def write_config(
    folder: Path, port: int, persons: Sequence[str] = ("p1",), *, log_level: str = "warning"
) -> Path:
    """A config file for the service under measurement, its database in `folder`."""
    text = f"""
[service]
database = "{folder / "monitor.db"}"
timezone = "Europe/London"
log_level = "{log_level}"

[mqtt]
host = "127.0.0.1"
port = {port}
""" + "".join(PERSON.format(pid=pid) for pid in persons)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def private_broker(
    folder: Path, *, nodelay: bool = True, persistence: bool = False
) -> AsyncIterator[PrivateBroker]:
    """A Mosquitto of the benchmark's own, by default as docs/install.md recommends.

    That is `set_tcp_nodelay true` (a stock mosquitto.conf leaves it off) and persistence on
    the default schedule; the tests' brokers save on every change instead, so that even
    SIGKILL keeps their sessions.
    """
    broker = PrivateBroker(folder / "broker", persistence=persistence, nodelay=nodelay)
    async with broker:
        yield broker


async def start_service(config_file: Path) -> asyncio.subprocess.Process:
    """`recovery-monitor run --config FILE` as a process of its own."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        "run",
        "--config",
        str(config_file),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=asyncio.subprocess.DEVNULL,
    )


async def stop_service(process: asyncio.subprocess.Process) -> int:
    """SIGTERM, and the exit code."""
    if process.returncode is None:
        process.terminate()
    return await process.wait()


def client(
    config_file: Path,
    client_id: str,
    *,
    topics: Sequence[str] = (),
    on_message: Callable[[Incoming], None] | None = None,
) -> MqttClient:
    """An MQTT client of the benchmark (a phone, a dashboard) on the service's broker."""
    mqtt: MqttConfig = load_config(config_file).mqtt
    return MqttClient(
        mqtt,
        client_id=client_id,
        subscriptions=topics,
        on_message=on_message,
        persistent=False,
        manual_ack=False,
    )


def config_of(config_file: Path) -> Config:
    """The config the service runs with."""
    return load_config(config_file)


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` percentile (0-1) of values, by the nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]
