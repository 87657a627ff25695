"""The [person.alerts] config: defaults from the plan, and every problem named by its key."""

from __future__ import annotations

from datetime import time

import pytest

from monitor.config import AlertSettings, parse_config
from monitor.errors import ConfigError

PERSON = """
[[person]]
id = "p1"
pain_type = "chronic"
plan_start = 2026-11-23

[person.alerts]
{alerts}
"""


def settings(alerts: str) -> AlertSettings:
    return parse_config(PERSON.format(alerts=alerts)).persons[0].alerts


def problems(alerts: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as refused:
        parse_config(PERSON.format(alerts=alerts))
    return {p.key: p.reason for p in refused.value.problems}


def test_defaults_come_from_the_plan() -> None:
    found = settings("")
    assert found == AlertSettings()
    assert (found.long_sitting_minutes, found.missed_days, found.quiet_hours) == (120, 3, None)
    assert found.escalation_topic is None


def test_every_setting_can_be_given() -> None:
    found = settings(
        """
quiet_hours = "22:30-07:00"
nudge_cooldown_minutes = 90
long_sitting_minutes = 45
offline_minutes = 30
battery_low_percent = 20
missed_days = 2
missed_days_escalate = 4
escalation_topic = "clinic/ward-3/alerts"
"""
    )
    assert found == AlertSettings(
        (time(22, 30), time(7)), 90, 45, 30, 20, 2, 4, "clinic/ward-3/alerts"
    )


@pytest.mark.parametrize(
    ("alerts", "key", "reason"),
    [
        ('quiet_hours = "late"', "quiet_hours", "is not a range"),
        ('quiet_hours = "22:00-22:00"', "quiet_hours", "same time"),
        ('quiet_hours = "25:00-07:00"', "quiet_hours", "HH:MM"),
        ("long_sitting_minutes = 5", "long_sitting_minutes", "between 15 and 720"),
        ("offline_minutes = true", "offline_minutes", "whole number"),
        ("missed_days = 4\nmissed_days_escalate = 3", "missed_days_escalate", "must not be below"),
        ('escalation_topic = "clinic/#"', "escalation_topic", "without wildcards"),
        ('escalation_topic = "$SYS/x"', "escalation_topic", "'$'"),
        ("snooze = 3", "snooze", "unknown key"),
    ],
)
def test_problems_name_the_key(alerts: str, key: str, reason: str) -> None:
    found = problems(alerts)
    assert reason in found[f"person[0].alerts.{key}"]
