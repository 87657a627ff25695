"""`report --days N` on a year-old plan, in a store filled as the service fills it. Prints JSON.

The store holds a year of one person's plan: each day's result as the scheduler records it at
the day's close, a band's minutes all day long (1,440 rows a day) and a watch's walks, pain and
function scores every evening, three exercises a day, two massage sessions a week, a warning
symptom every three weeks and three alerts a day. Measured: the report's own work in this
process (`gather` and `render_text`, best of 3) for 14, 90 and 365 days, the store reads it
made, and `recovery-monitor report --days 365` as a command (interpreter start-up included).
Target (issue 15): 365 days within 1 s and linear in the days (the per-day cost of 365 days at
most twice that of 14).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.cli.report import gather, render_text
from monitor.config import load_config
from monitor.days import at_local, day_start, minute_of
from monitor.ingest.activity import DeviceMinute
from monitor.store.alerts import StoredAlert
from monitor.store.database import Store
from monitor.store.days import DayResult

ROOT = Path(__file__).resolve().parents[1]
DAYS = 365
TARGET_S = 1.0
TZ = ZoneInfo("Europe/London")
TODAY = date(2026, 11, 30)
CONFIG = """
[service]
database = "{database}"
timezone = "Europe/London"

[mqtt]
host = "127.0.0.1"

[[person]]
id = "p1"
pain_type = "acute"
plan_start = {start}

[[person.device]]
id = "watch"
profile = "infinitime"
name = "InfiniTime"

[[person.device]]
id = "band"
profile = "polar_pmd"
name = "Polar"
"""


class CountedStore(Store):
    """The store, counting its reads."""

    reads = 0

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        CountedStore.reads += 1
        return await super()._all(sql, params)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """The UTC instant of a local time on a day."""
    return at_local(day, clock_time(hour, minute), TZ)


async def fill(store: Store, start: date, today: date) -> None:
    """A year as the service would have stored it (see the module's docstring)."""
    day, number = start, 0
    while day <= today:
        first = minute_of(day_start(day, TZ))
        walked = 10.0 if number % 7 else 2.0  # one day a week missed
        minutes = [
            DeviceMinute("p1", "band", first + i, enmo_sum_mg=30.0 * 600, enmo_samples=600,
                         moving=480 <= i % 1440 < 1320)
            for i in range(1440)
        ]  # fmt: skip
        minutes += [
            DeviceMinute("p1", "watch", first + 600 + i, steps=100) for i in range(int(walked))
        ]
        await store.apply_activity(minutes, {}, 1)
        if day < today:
            target = min(5.0 + number, 60.0)
            await store.save_day_result(
                DayResult("p1", day, target, walked, int(walked * 100), 840, walked >= target)
            )
        for kind, hour, payload in (
            ("pain", 20, {"score": 6 - number % 5}),
            ("function", 20, {"score": 4 + number % 5}),
            ("exercise", 8, {"kind": "cat_cow"}),
            ("exercise", 13, {"kind": "pelvic_tilt"}),
            ("exercise", 19, {"kind": "cat_cow"}),
        ):
            moment = at(day, hour, 1 if kind == "function" else 0)
            await store.add_report("p1", kind, moment, moment, payload, f"{kind}:{moment}", None)
        if number % 7 in (1, 4):
            moment = at(day, 15)
            body = {"kind": "manual", "minutes": 45}
            await store.add_report("p1", "session", moment, moment, body, f"s:{moment}", None)
        if number % 21 == 5:
            moment = at(day, 11)
            body = {"symptom": "leg_numbness_tingling"}
            await store.add_report("p1", "symptom", moment, moment, body, f"y:{moment}", None)
        for event, hour in (("behind_schedule", 12), ("behind_schedule", 16), ("target_met", 21)):
            moment = at(day, hour)
            text = json.dumps({"title": event, "event_type": event})
            alert = StoredAlert(f"{event}-{day}-{hour}", "p1", f"{event}:{day}:{hour}", event,
                                "info", moment, text, None)  # fmt: skip
            await store.add_alert(alert, "recovery/p1/alert", text.encode())
        day += timedelta(days=1)
        number += 1


async def report_seconds(
    config_file: Path, days: int, today: date, now: datetime
) -> tuple[float, int, int]:
    """Best of 3: seconds for `gather` and `render_text` of `days`, the reads, the text's lines."""
    config = load_config(config_file)
    person = config.persons[0]
    best, reads, lines = float("inf"), 0, 0
    for _ in range(3):
        async with CountedStore.open(config.service.database) as store:
            CountedStore.reads = 0
            began = time.perf_counter()
            data = await gather(store, config, person, today, days, now)
            text = render_text(data, config.service.timezone)
            best = min(best, time.perf_counter() - began)
            reads, lines = CountedStore.reads, text.count("\n")
    return best, reads, lines


def command_seconds(config_file: Path, days: int, today: date) -> float:
    """Best of 3: `python -m monitor report --days N` as a person runs it."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "monitor", "report", "--config", str(config_file),
             "--days", str(days), "--until", today.isoformat()],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
            capture_output=True,
        )  # fmt: skip
        best = min(best, time.perf_counter() - began)
    return best


async def main() -> None:
    """Fill a store, measure, print."""
    start = TODAY - timedelta(days=DAYS)
    now = at(TODAY, 18)
    with tempfile.TemporaryDirectory(prefix="rm-report-") as folder:
        config_file = Path(folder) / "config.toml"
        config_file.write_text(CONFIG.format(database=Path(folder) / "monitor.db", start=start))
        began = time.perf_counter()
        async with Store.open(Path(folder) / "monitor.db") as store:
            await fill(store, start, TODAY)
        filled = time.perf_counter() - began
        by_days = {}
        for days in (14, 90, DAYS):
            seconds, reads, lines = await report_seconds(config_file, days, TODAY, now)
            by_days[days] = {"seconds": round(seconds, 3), "store_reads": reads, "lines": lines}
        command = command_seconds(config_file, DAYS, TODAY)
        size_mb = (Path(folder) / "monitor.db").stat().st_size / 1e6
    per_day_14 = by_days[14]["seconds"] / 14
    per_day_365 = by_days[DAYS]["seconds"] / DAYS
    print(
        json.dumps(
            {
                "benchmark": "report",
                "what": f"report of a {DAYS}-day-old plan (band minutes all day), in process",
                "store_mb": round(size_mb, 1),
                "fill_s": round(filled, 1),
                "by_days": by_days,
                "command_365_days_s": round(command, 3),
                "per_day_ratio_365_to_14": round(per_day_365 / per_day_14, 2),
                "target_s": TARGET_S,
                "met": by_days[DAYS]["seconds"] <= TARGET_S
                and command <= TARGET_S
                and per_day_365 <= 2 * per_day_14,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
