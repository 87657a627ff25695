"""The demo's scenarios: each lays out and configures as the service expects; one is refused."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.cli.demo import SCENARIO_NAMES
from monitor.cli.demo_run import START_DAY, scenario_person
from monitor.cli.main import main
from monitor.config import WalkingPlan, bundled_config, load_config
from monitor.errors import ConfigError
from simulators.scenarios import SCENARIOS, build_scenario

LONDON = ZoneInfo("Europe/London")
RUNNABLE = sorted(name for name in SCENARIOS if name != "surgery-too-recent")


@pytest.mark.parametrize("name", RUNNABLE)
def test_each_scenario_configures_and_lays_out(name: str) -> None:
    base = load_config(bundled_config("demo.toml"))
    person = scenario_person(base, name)
    spec = SCENARIOS[name]
    assert [d.id for d in person.devices] == list(spec.devices)
    scenario = build_scenario(name, START_DAY, spec.days, LONDON, person.walking)
    assert len(scenario.notes) == len(scenario.targets) == spec.days
    assert [r.at for r in scenario.reports] == sorted(r.at for r in scenario.reports)


def test_the_required_scenarios_are_there() -> None:
    assert {
        "week",
        "persisting-symptom",
        "no-improvement-8-weeks",
        "function-declining",
        "surgery-too-recent",
    } <= set(SCENARIOS)


def test_surgery_too_recent_is_refused_by_the_config_check() -> None:
    base = load_config(bundled_config("demo.toml"))
    with pytest.raises(ConfigError) as refused:
        scenario_person(base, "surgery-too-recent")
    assert [p.key for p in refused.value.problems] == ["person[0].plan_start"]


def test_the_demo_shows_the_refusal(capsys: Any) -> None:
    assert main(["demo", "--scenario", "surgery-too-recent"]) == 0
    out = capsys.readouterr().out
    assert "surgery_date = 2026-10-26" in out
    assert "the plan can start on 2026-12-07 at the earliest" in out


def test_no_improvement_pain_eases_less_than_the_minimal_difference() -> None:
    scenario = build_scenario("no-improvement-8-weeks", START_DAY, 56, LONDON, WalkingPlan())
    pain = [r.payload["score"] for r in scenario.reports if r.kind == "pain"]
    first, last = sum(pain[:7]) / 7, sum(pain[-7:]) / 7
    assert 0 < first - last < min(2.0, 0.3 * first)


def test_the_parser_names_every_scenario_without_importing_the_simulators() -> None:
    assert sorted(SCENARIO_NAMES) == sorted(SCENARIOS)
