"""The report: its numbers are the store's numbers, its words are plain, its PNG is a picture."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.cli.main import main
from monitor.cli.report import gather, render_png, render_text
from monitor.config import Config, parse_config
from monitor.days import at_local, minute_of
from monitor.ingest.activity import DeviceMinute
from monitor.store.alerts import StoredAlert
from monitor.store.database import Store
from monitor.store.days import DayResult

START = date(2026, 11, 23)
TODAY = START + timedelta(days=6)
CONFIG = """
[service]
database = "{database}"
timezone = "Europe/London"

[[person]]
id = "p1"
pain_type = "acute"
plan_start = {start}
precautions = ["severe_osteoporosis"]
clearance = true

[[person.device]]
id = "watch"
profile = "infinitime"
name = "InfiniTime"
"""
# (target, walked, steps, movement) of plan days 1-6; day 4 missed.
DAYS = [(5, 6.5, 900, 40), (7, 7.2, 1000, 38), (9, 9.0, 1200, 50), (11, 2.0, 400, 20),
        (11, 12.5, 1600, 55), (13, 14.1, 1800, 61)]  # fmt: skip
PAIN = [6, 6, 5.5, 5, 5, 4.5, 4]
FUNCTION = [4, 4, 4.5, 5, 5, 6, 6]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), CONFIG_TZ)


CONFIG_TZ = parse_config(CONFIG.format(database="/tmp/x.db", start=START)).service.timezone


async def _fill(store: Store) -> None:
    """A week as the service would have stored it."""
    for number, (target, walked, steps, movement) in enumerate(DAYS):
        day = START + timedelta(days=number)
        await store.save_day_result(
            DayResult("p1", day, target, walked, steps, movement, walked >= target)
        )
    for number, (pain, function) in enumerate(zip(PAIN, FUNCTION, strict=True)):
        day = START + timedelta(days=number)
        await _report(store, "pain", local(day, 9), {"score": pain + 1})  # superseded
        await _report(store, "pain", local(day, 20), {"score": pain})
        await _report(store, "function", local(day, 20, 1), {"score": function})
        for hour in (8, 13, 19):
            await _report(store, "exercise", local(day, hour), {"kind": "cat_cow"})
    await _report(store, "exercise", local(START, 10), {"kind": "pelvic_tilt"})
    await _report(store, "session", local(START, 15), {"kind": "manual", "minutes": 45})
    await _report(
        store, "session", local(START + timedelta(days=3), 15), {"kind": "device", "minutes": 20}
    )
    # Today, so far: 3 minutes of walking at 100 steps a minute, from 10:00.
    first = minute_of(local(TODAY, 10))
    await store.apply_activity(
        [DeviceMinute("p1", "watch", first + i, steps=100) for i in range(3)], {}, 1
    )
    await _alert(store, "target_met", START, "info")
    await _alert(store, "target_missed", START + timedelta(days=3), "info")
    await _alert(store, "warning_symptom", START + timedelta(days=4), "critical")
    await _alert(store, "behind_schedule", START + timedelta(days=3), "info", held="acknowledged")


async def _report(store: Store, kind: str, at: datetime, payload: dict[str, Any]) -> None:
    await store.add_report("p1", kind, at, at, payload, f"{kind}:{at.isoformat()}", None)


async def _alert(
    store: Store, event: str, day: date, severity: str, held: str | None = None
) -> None:
    at = local(day, 21)
    body = {"title": f"The {event} title", "event_type": event}
    alert = StoredAlert(f"{event}-{day}", "p1", f"{event}:{day}", event, severity, at,
                        json.dumps(body), None, held)  # fmt: skip
    await store.add_alert(alert, "recovery/p1/alert", json.dumps(body).encode())


@pytest.fixture
async def config(tmp_path: Path) -> Config:
    text = CONFIG.format(database=tmp_path / "m.db", start=START)
    (tmp_path / "config.toml").write_text(text)
    config = parse_config(text)
    async with Store.open(config.service.database) as store:
        await _fill(store)
    return config


async def test_the_reports_numbers_are_the_stores(config: Config) -> None:
    person = config.persons[0]
    async with Store.open(config.service.database) as store:
        data = await gather(store, config, person, TODAY, 7, local(TODAY, 15))
        results = {r.day: r for r in await store.day_results("p1")}
    assert [r.day for r in data.rows] == [START + timedelta(days=n) for n in range(7)]
    for row in data.rows[:6]:
        result = results[row.day]
        assert (row.target, row.walked, row.steps, row.movement) == (
            result.target_minutes,
            result.walked_minutes,
            result.steps,
            result.movement_minutes,
        )
        assert row.complete
    today = data.rows[6]
    assert (today.target, today.walked, today.steps, today.complete) == (15, 3.0, 300, False)
    assert [r.pain for r in data.rows] == PAIN  # the day's last score counts
    assert [r.function for r in data.rows] == FUNCTION
    assert data.rows[3].alerts == ("target_missed",)
    assert data.rows[4].alerts == ("warning_symptom",)
    assert [a.event_type for a in data.held_back] == ["behind_schedule"]
    parts = {p.name: (p.done, p.asked) for p in data.adherence}
    assert parts["walking"] == (5.0, 6.0)
    assert parts["exercises"] == (19.0, 24.0)  # cat-cow 3 a day, one pelvic tilt, of 4 a day
    assert parts["massage"] == (2.0, 2.0)  # 2 a week in phase 1, over 6 complete days
    assert data.adherence_percent == pytest.approx((500 / 6 + 1900 / 24 + 100) / 3)
    assert data.trend == "pain down from 5.8 to 4.5 over 7 days; function improving"


async def test_the_report_reads_as_plain_words(config: Config) -> None:
    async with Store.open(config.service.database) as store:
        data = await gather(store, config, config.persons[0], TODAY, 7, local(TODAY, 15))
    text = render_text(data, config.service.timezone)
    assert text.startswith("Recovery report for p1: Mon 23 Nov to Sun 29 Nov 2026 (7 days)")
    assert "phase 1: pain relief" in text
    assert "2 massage sessions a week (30-60 minutes, by a person's hands)" in text
    assert "severe osteoporosis: gentle massage techniques only" in text
    assert "Thu 26 Nov     4      11     2.0    400     20     5         5  target_missed" in text
    assert "Sun 29 Nov     7      15    3.0*" in text
    assert "* so far today" in text
    assert (
        "Adherence: 88% (walking target met on 5 of 6 days (83%); exercises 19 of 24 (79%)" in text
    )
    assert "device session of 20 minutes: massage chairs and devices show little benefit" in text
    assert "Trend: pain down from 5.8 to 4.5 over 7 days; function improving." in text
    assert "Alerts: 3 sent (1 critical); 1 reminder(s) held back by the alert policy" in text
    assert "Fri 27 Nov 21:00  critical  The warning_symptom title" in text


async def test_the_png_is_a_readable_picture(config: Config, tmp_path: Path) -> None:
    async with Store.open(config.service.database) as store:
        data = await gather(store, config, config.persons[0], TODAY, 7, local(TODAY, 15))
    png = tmp_path / "report.png"
    render_png(data, png)
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert width >= 700
    assert height >= 400


async def test_the_report_command(config: Config, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "config.toml"
    png = tmp_path / "plot.png"
    code = await asyncio.to_thread(
        main,
        ["report", "--config", str(path), "--until", str(TODAY), "--days", "3", "--png", str(png)],
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Recovery report for p1: Fri 27 Nov to Sun 29 Nov 2026 (3 days)" in out
    assert f"Plot written to {png}" in out
    assert png.stat().st_size > 10_000
    assert await asyncio.to_thread(main, ["report", "--config", str(path), "--person", "x"]) == 2
    assert await asyncio.to_thread(main, ["report", "--config", str(path), "--days", "0"]) == 2
    missing = tmp_path / "missing.toml"
    missing.write_text(CONFIG.format(database=tmp_path / "none.db", start=START))
    assert await asyncio.to_thread(main, ["report", "--config", str(missing)]) == 1
    assert "no database" in capsys.readouterr().err


async def test_days_told_to_stop_treatment_ask_no_massage_or_exercises(config: Config) -> None:
    # Numbness reported at 20:00 on the plan's fourth day: "stop treatment" for 72 hours, so
    # its day and the next three (the last of them today, incomplete) ask nothing of the person.
    person = config.persons[0]
    symptom_at = local(START + timedelta(days=3), 20)
    async with Store.open(config.service.database) as store:
        await _report(store, "symptom", symptom_at, {"symptom": "leg_numbness_tingling"})
        data = await gather(store, config, person, TODAY, 7, local(TODAY, 15))
    parts = {p.name: (p.done, p.asked) for p in data.adherence}
    assert parts["walking"] == (5.0, 6.0)  # walking is always asked
    assert parts["exercises"] == (10.0, 12.0)  # days 1-3 only: 3 cat-cow a day, one tilt, of 4
    assert parts["massage"] == (1.0, 1.0)  # the session on day 4 fell in the pause
