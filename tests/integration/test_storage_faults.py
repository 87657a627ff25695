"""Storage faults (a full disk, a database another program locks): said, survived, nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.clock import SimulatedClock
from monitor.days import at_local, day_bounds, minute_of
from monitor.ingest.activity import combine, totals
from monitor.store.database import Store
from simulators.broker import PrivateBroker
from simulators.direct_link import DirectLinkFactory
from simulators.person import SimulatedPerson, Walk
from tests.conftest import ConfigFactory, config_toml
from tests.probe import MqttProbe, running

ROOT = Path(__file__).parents[2]
LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)
SEVEN = at_local(MONDAY, time(7), LONDON)


async def day_steps_and_last_count(database: Path) -> tuple[int, int]:
    """The day's credited steps, and the last count the watch reported, from a database file."""
    async with Store.open(database) as store:
        start, end = day_bounds(MONDAY, LONDON)
        minutes = combine(await store.device_minutes("p1", minute_of(start), minute_of(end)))
    with sqlite3.connect(database) as db:
        (payload,) = db.execute(
            "SELECT payload FROM raw_reading WHERE kind = 'step_count' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return totals(minutes, start, end).steps, json.loads(payload)["total"]


@contextlib.asynccontextmanager
async def lines_of(stream: asyncio.StreamReader) -> AsyncIterator[list[str]]:
    """Collect a process's output lines in the background while the block runs."""
    lines: list[str] = []

    async def collect() -> None:
        while line := await stream.readline():
            lines.append(line.decode(errors="replace"))

    task = asyncio.create_task(collect())
    try:
        yield lines
    finally:
        await asyncio.wait_for(task, timeout=10)


async def seen(lines: list[str], text: str, within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not any(text in line for line in lines):  # noqa: ASYNC110 - watching a log
            await asyncio.sleep(0.05)


async def test_a_full_disk_is_said_clearly_survived_and_loses_no_steps(
    tmp_path: Path, broker: PrivateBroker
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(database=small / "monitor.db", port=broker.port))
    copy = tmp_path / "after.db"
    # A private mount namespace: the service's folder becomes a 4 MB filesystem of its own.
    script = 'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"'
    child = await asyncio.create_subprocess_exec(
        "unshare", "-rm", "sh", "-c", script, str(small),
        sys.executable, "-m", "tests.integration.disk_full_child",
        str(config_file), SEVEN.isoformat(), "60", str(copy),
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stderr is not None
    async with lines_of(child.stderr) as log, lines_of(child.stdout) as out:
        await seen(log, "recovery-monitor running")
        await asyncio.sleep(1.0)  # a simulated minute of readings
        child.send_signal(signal.SIGUSR2)  # the disk fills up
        await seen(log, "the disk is full; free some space")
        await asyncio.sleep(1.5)
        child.send_signal(signal.SIGUSR1)  # space returns
        await asyncio.sleep(3.0)
        child.send_signal(signal.SIGTERM)
        assert await child.wait() == 0, "".join(log[-20:])
    assert out == ["integrity: ok\n"]
    steps, last_count = await day_steps_and_last_count(copy)
    assert last_count > 0
    assert steps == last_count, "every step the watch counted, once"
    full = [line for line in log if "disk is full" in line]
    assert all("Traceback" not in line for line in full)


async def test_a_database_locked_by_another_program_delays_but_loses_nothing(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    config = make_config()
    clock = SimulatedClock(SEVEN, speed=60)
    walker = SimulatedPerson([Walk(SEVEN, 600.0, 100.0)])
    links = DirectLinkFactory({"p1": walker}, LONDON, interval_s=5.0, absences={})
    topics = ["recovery/p1/alert", "recovery/p1/error"]
    async with MqttProbe(config.mqtt, topics) as phone, running(config, clock, links) as app:
        await asyncio.sleep(1.0)
        holder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
            "time.sleep(7); db.execute('ROLLBACK')\n",
            str(config.service.database),
            stdout=asyncio.subprocess.PIPE,
        )
        assert holder.stdout is not None
        assert await holder.stdout.readline() == b"locked\n"
        # A symptom reported while the database is locked: it waits, or is refused with a
        # reason; never silently lost.
        symptom = json.dumps({"symptom": "leg_weakness", "id": "while-locked"}).encode()
        assert app.mqtt is not None
        phone.client.publish("recovery/p1/report/symptom", symptom)
        assert await holder.wait() == 0
        await phone.wait_for(lambda m: bool(m), within=20)
        first = phone.messages[0].json()
        if phone.messages[0].topic.endswith("/error"):
            assert first["error"] == "storage_unavailable"
            phone.client.publish("recovery/p1/report/symptom", symptom)
            await phone.wait_for(lambda m: bool(phone.on("/alert")), within=20)
        assert phone.on("/alert")[0].json()["event_type"] == "red_flag"
        await asyncio.sleep(1.0)  # readings go on being stored
        assert app.ingest is not None
        await app.ingest.settle()
    steps, last_count = await day_steps_and_last_count(config.service.database)
    assert steps == last_count > 0
