"""The weekly summary, sent by the running service at the close of the plan's seventh day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from simulators.broker import PrivateBroker
from simulators.scenarios import SCENARIOS
from tests.integration.scenario_run import run_scenario

MONDAY = date(2026, 11, 23)


async def test_the_week_scenario_ends_with_its_summary_on_the_alert_topic(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    run = await run_scenario(
        SCENARIOS["week"], MONDAY, database=tmp_path / "m.db", port=broker.port
    )
    sunday = MONDAY + timedelta(days=6)
    # Raised at the day's close, beside that day's verdict (their order is not defined).
    assert "weekly_summary" in run.on(sunday)
    assert all("weekly_summary" not in run.on(MONDAY + timedelta(days=d)) for d in range(6))
    (summary,) = run.payloads("weekly_summary")
    assert summary["severity"] == "info"
    assert summary["title"] == "Week 1 of the plan"
    # The scenario's week (test_scenarios.py): targets 5, 7, 9, 11, 11, 11, 13; day 4 missed.
    assert summary["data"]["days_met"] == 6
    assert summary["data"]["days_judged"] == 7
    assert summary["data"]["target_minutes"] == 67
    assert summary["message"].startswith("You walked ")
    assert "met the target on 6 of 7 days (86%)" in summary["message"]
    assert "pain" in summary["message"].lower()
    assert summary["id"] in {m.json()["id"] for m in run.messages}
