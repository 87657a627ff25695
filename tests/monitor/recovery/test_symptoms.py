"""Warning symptoms and red flags: each alerted at once, critical; persistence escalates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.recovery.alerts import ALWAYS_SENT, EventType, Severity
from monitor.recovery.symptoms import (
    SymptomKind,
    episode,
    persistence_alerts,
    symptom_alert,
    treatment_paused_days,
)
from monitor.recovery.tracking import SymptomReport

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
WARNINGS = [
    SymptomKind.SHARP_PAIN_DURING_SESSION,
    SymptomKind.LEG_NUMBNESS_TINGLING,
    SymptomKind.SEVERE_STIFFNESS,
]
RED_FLAGS = [SymptomKind.NIGHT_PAIN, SymptomKind.LEG_WEAKNESS, SymptomKind.WEIGHT_LOSS_OR_FEVER]


@pytest.mark.parametrize("kind", WARNINGS)
def test_each_warning_symptom_is_a_critical_alert_at_once(kind: SymptomKind) -> None:
    draft = symptom_alert(kind, 7, "2026-11-24")
    assert draft.event_type is EventType.WARNING_SYMPTOM
    assert draft.severity is Severity.CRITICAL
    assert draft.requires_ack
    assert draft.key == "warning_symptom:7"
    assert "stop" in draft.message.lower()
    assert draft.event_type in ALWAYS_SENT


@pytest.mark.parametrize("kind", RED_FLAGS)
def test_each_red_flag_is_a_critical_alert_to_see_a_doctor(kind: SymptomKind) -> None:
    draft = symptom_alert(kind, 8, "2026-11-24")
    assert draft.event_type is EventType.RED_FLAG
    assert draft.severity is Severity.CRITICAL
    assert draft.key == "red_flag:8"
    assert "medical evaluation" in draft.message
    assert draft.data["escalate"] is True
    assert draft.event_type in ALWAYS_SENT


def reports(kind: SymptomKind, *hours: float) -> list[SymptomReport]:
    return [SymptomReport(i + 1, kind, T0 + timedelta(hours=h)) for i, h in enumerate(hours)]


def _rules(kind: SymptomKind, *hours: float) -> list[str]:
    found = reports(kind, *hours)
    return [str(d.data["rule"]) for d in persistence_alerts(found[-1], found, LONDON)]


@pytest.mark.parametrize("kind", WARNINGS)
def test_a_warning_symptom_still_reported_after_more_than_72_hours(kind: SymptomKind) -> None:
    assert "persisting_72h" not in _rules(kind, 0, 30, 72)  # exactly 72 hours: not yet
    assert "persisting_72h" in _rules(kind, 0, 30, 72 + 1 / 3600)
    found = reports(kind, 0, 30, 80)
    drafts = persistence_alerts(found[-1], found, LONDON)
    (draft,) = [d for d in drafts if d.data["rule"] == "persisting_72h"]
    assert draft.key == "symptom_persisting:1"
    assert draft.event_type is EventType.SYMPTOM_PERSISTING
    assert draft.severity is Severity.CRITICAL
    assert "consult a physician" in draft.message
    assert draft.data["escalate"] is True


def test_severe_stiffness_reported_across_more_than_48_hours() -> None:
    kind = SymptomKind.SEVERE_STIFFNESS
    assert _rules(kind, 0, 48) == []
    assert _rules(kind, 0, 48.5) == ["stiffness_48h"]
    assert _rules(kind, 0, 73) == ["stiffness_48h", "persisting_72h"]
    found = reports(kind, 0, 49)
    (draft,) = persistence_alerts(found[-1], found, LONDON)
    assert draft.key == "stiffness_lasting:1"
    assert "stop the massage" in draft.message.lower()
    # Other warning symptoms have no 48-hour rule.
    assert _rules(SymptomKind.LEG_NUMBNESS_TINGLING, 0, 49) == []


def test_red_flags_do_not_escalate_further_they_already_say_see_a_doctor() -> None:
    assert _rules(SymptomKind.NIGHT_PAIN, 0, 100) == []


def test_an_episode_ends_after_a_week_without_a_report() -> None:
    kind = SymptomKind.SHARP_PAIN_DURING_SESSION
    found = reports(kind, 0, 24 * 8, 24 * 8 + 80)
    assert [r.id for r in episode(found[-1], found)] == [2, 3]
    (draft,) = persistence_alerts(found[-1], found, LONDON)
    assert draft.key == "symptom_persisting:2"
    assert _rules(kind, 0, 24 * 8) == []


def test_different_symptoms_do_not_add_up() -> None:
    stiff = SymptomReport(1, SymptomKind.SEVERE_STIFFNESS, T0)
    sharp = SymptomReport(2, SymptomKind.SHARP_PAIN_DURING_SESSION, T0 + timedelta(hours=80))
    assert persistence_alerts(sharp, [stiff, sharp], LONDON) == []


@dataclass(frozen=True)
class _Said:
    id: int
    kind: SymptomKind
    at: datetime


@pytest.mark.parametrize(
    ("kind", "at", "paused"),
    [
        # Stop treatment: the report's local day and the days up to 72 hours after it.
        (SymptomKind.LEG_NUMBNESS_TINGLING, "2026-11-24T20:00", ["24", "25", "26", "27"]),
        (SymptomKind.SEVERE_STIFFNESS, "2026-11-24T00:30", ["24", "25", "26", "27"]),
        # London's clocks go back on 2026-10-25: the 72 hours end at 22:30 on the 27th.
        (SymptomKind.SEVERE_STIFFNESS, "2026-10-24T23:30", ["24", "25", "26", "27"]),
        # A sharp pain stops only its session; red flags send to a doctor, not a pause.
        (SymptomKind.SHARP_PAIN_DURING_SESSION, "2026-11-24T20:00", []),
        (SymptomKind.LEG_WEAKNESS, "2026-11-24T20:00", []),
        (SymptomKind.NIGHT_PAIN, "2026-11-24T20:00", []),
    ],
)
def test_which_days_treatment_is_paused(kind: SymptomKind, at: str, paused: list[str]) -> None:
    london = ZoneInfo("Europe/London")
    moment = datetime.fromisoformat(at).replace(tzinfo=london)
    days = treatment_paused_days([_Said(1, kind, moment)], london)
    assert sorted(d.strftime("%d") for d in days) == paused
    assert all(d.month == moment.month for d in days)
