"""A service SIGKILLed again and again in a burst of symptom reports: each stored once, alerted.

From outside, as bad luck would: a real Mosquitto, the real service in a process of its own,
real signals. 300 reports (QoS 1, distinct ids) while the service is killed 5 times at random
moments and restarted within a second; three seeds. Before reports and their alerts were stored
in one transaction, a kill between the two left a report that never got its alert.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.days import at_local
from simulators.broker import PrivateBroker
from tests.conftest import ConfigFactory, config_toml
from tests.probe import MqttProbe, Received

REPORTS = 300
KILLS = 5
START = at_local(date(2026, 11, 23), time(10), ZoneInfo("Europe/London"))


async def _child(config_file: Path) -> asyncio.subprocess.Process:
    root = Path(__file__).parents[2]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.child_service",
        str(config_file),
        START.isoformat(),
        "1",
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stderr=asyncio.subprocess.DEVNULL,
    )


def _onlines(messages: list[Received]) -> int:
    return sum(1 for m in messages if m.topic == "recovery/status" and m.payload == b"online")


def _alerted_reports(messages: list[Received]) -> set[int]:
    return {
        int(m.json()["data"]["report"])
        for m in messages
        if m.topic.endswith("/alert") and m.json()["event_type"] == "warning_symptom"
    }


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_service_killed_five_times_in_a_burst_of_reports_loses_no_alert(
    seed: int, make_config: ConfigFactory, tmp_path: Path, broker: PrivateBroker
) -> None:
    rng = random.Random(seed)
    config = make_config()
    database = tmp_path / "monitor.db"
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(database=database, port=broker.port))
    topics = ["recovery/p1/alert", "recovery/status"]
    async with MqttProbe(config.mqtt, topics, client_id="phone", persistent=True) as phone:

        async def burst() -> None:
            for number in range(REPORTS):
                body = json.dumps({"symptom": "leg_numbness_tingling", "id": f"r-{number}"})
                phone.client.publish("recovery/p1/report/symptom", body.encode())
                await asyncio.sleep(0.02)  # about 6 s in all, across the kills

        service = await _child(config_file)
        # Its session (and so its subscriptions) exists from its first connection on.
        await phone.wait_for(lambda m: any(x.payload == b"online" for x in m), within=30)
        sender = asyncio.create_task(burst())
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.6, 1.8))  # a start-up takes about half a second
            service.send_signal(signal.SIGKILL)
            await service.wait()
            await asyncio.sleep(rng.uniform(0.0, 0.8))
            seen = len(phone.messages)
            service = await _child(config_file)
        await sender
        try:
            await phone.wait_for(lambda m: len(_alerted_reports(m)) >= REPORTS, within=90)
            # The last one is up (and so handles SIGTERM) once it said "online" itself.
            await phone.wait_for(lambda m: _onlines(m[seen:]) > 0, within=30)
        finally:
            service.send_signal(signal.SIGTERM)
            assert await service.wait() == 0
    with sqlite3.connect(database) as db:
        stored = db.execute(
            "SELECT dedup, count(*) FROM report WHERE kind = 'symptom' GROUP BY dedup"
        ).fetchall()
        unalerted = db.execute(
            "SELECT count(*) FROM report r WHERE NOT EXISTS "
            "(SELECT 1 FROM alert a WHERE a.key = 'warning_symptom:' || r.id)"
        ).fetchone()
        alerts = db.execute(
            "SELECT count(*), count(DISTINCT key) FROM alert WHERE event_type = 'warning_symptom'"
        ).fetchone()
        waiting = db.execute("SELECT count(*) FROM outbox").fetchone()
    assert sorted(stored) == sorted((f"id:r-{n}", 1) for n in range(REPORTS))
    assert unalerted == (0,)
    assert alerts == (REPORTS, REPORTS)
    assert waiting == (0,)
    assert len(_alerted_reports(phone.messages)) == REPORTS
