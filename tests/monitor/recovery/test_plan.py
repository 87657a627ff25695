"""The plan: phases by week, walking progression with cap and hold, what each phase asks, and the
precautions that refuse a plan at setup."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import PainType, WalkingPlan, parse_config
from monitor.errors import ConfigError
from monitor.recovery.plan import (
    DayOutcome,
    Phase,
    earliest_start,
    exercises,
    expected_sessions,
    massage_plan,
    movement_target,
    pain_type_note,
    phase_focus,
    phase_of,
    plan_day,
    precaution_notes,
    session_note,
    tracked_scores,
    walking_targets,
    week_of,
    week_plan,
)

START = date(2026, 11, 23)
PLAN = WalkingPlan()


def test_plan_days_count_from_the_start_and_nothing_before() -> None:
    assert plan_day(START, START) == 1
    assert plan_day(START, START + timedelta(days=55)) == 56
    assert plan_day(START, START - timedelta(days=1)) is None


@pytest.mark.parametrize(
    ("day", "week", "phase"),
    [
        (1, 1, Phase.PAIN_RELIEF),
        (28, 4, Phase.PAIN_RELIEF),
        (29, 5, Phase.ACTIVE),
        (56, 8, Phase.ACTIVE),
        (57, 9, Phase.MAINTENANCE),
        (400, 58, Phase.MAINTENANCE),
    ],
)
def test_phases_follow_the_weeks(day: int, week: int, phase: Phase) -> None:
    assert week_of(day) == week
    assert phase_of(day) is phase


def test_walking_starts_at_5_adds_2_a_day_and_stops_at_the_cap() -> None:
    outcomes = [DayOutcome(60.0)] * 20
    targets = walking_targets(PLAN, outcomes)
    assert targets[:4] == [5, 7, 9, 11]
    assert targets[12] == 29
    assert targets[13:] == [30] * 8  # the cap reached on day 14, and held there


def test_a_missed_day_holds_the_target_until_it_is_met() -> None:
    outcomes = [DayOutcome(5.0), DayOutcome(3.0), DayOutcome(6.0), DayOutcome(7.0)]
    assert walking_targets(PLAN, outcomes) == [5, 7, 7, 7, 9]


def test_a_warning_symptom_holds_the_target_even_when_walked() -> None:
    outcomes = [DayOutcome(5.0), DayOutcome(9.0, warning_reported=True), DayOutcome(9.0)]
    assert walking_targets(PLAN, outcomes) == [5, 7, 7, 9]


def test_a_day_with_no_data_is_a_missed_day() -> None:
    assert walking_targets(PLAN, [DayOutcome(0.0)]) == [5, 5]


@given(
    st.lists(st.tuples(st.floats(0, 60), st.booleans()), max_size=60),
    st.integers(1, 20),
    st.integers(0, 5),
    st.integers(20, 60),
)
def test_targets_never_fall_never_pass_the_cap_and_rise_only_after_a_clean_met_day(
    days: list[tuple[float, bool]], start: int, increase: int, cap: int
) -> None:
    plan = WalkingPlan(start, increase, cap)
    outcomes = [DayOutcome(walked, warned) for walked, warned in days]
    targets = walking_targets(plan, outcomes)
    assert targets[0] == start
    for before, after, outcome in zip(targets, targets[1:], outcomes, strict=False):
        assert before <= after <= cap
        if after > before:
            assert outcome.walked_minutes >= before
            assert not outcome.warning_reported


def test_daily_movement_target_only_in_maintenance() -> None:
    assert movement_target(56) is None
    assert movement_target(57) == 20


def test_massage_cadence_by_phase() -> None:
    assert massage_plan(Phase.PAIN_RELIEF).sessions_per_week == 2
    assert massage_plan(Phase.ACTIVE).sessions_per_week == 1
    assert massage_plan(Phase.MAINTENANCE).sessions_per_week is None
    assert "every 2-4 weeks" in massage_plan(Phase.MAINTENANCE).wording
    # Week 4 (2 a week) then week 5 (1 a week); maintenance asks nothing fixed.
    assert expected_sessions(START, START + timedelta(days=21), START + timedelta(days=34)) == (
        pytest.approx(3.0)
    )
    assert expected_sessions(START, START + timedelta(days=60), START + timedelta(days=80)) == 0


@pytest.mark.parametrize(
    ("kind", "minutes", "weaker"),
    [("manual", 30, False), ("manual", 60, False), ("manual", 29, True), ("device", 45, True)],
)
def test_short_or_device_sessions_are_noted_as_weaker(
    kind: str, minutes: int, weaker: bool
) -> None:
    assert (session_note(kind, minutes) is not None) is weaker


def test_self_care_exercises_and_tracking_by_phase() -> None:
    assert [(e.kind, e.per_day) for e in exercises(Phase.PAIN_RELIEF)] == [
        ("cat_cow", 3),
        ("pelvic_tilt", 1),
    ]
    assert {e.kind for e in exercises(Phase.ACTIVE)} >= {"bird_dog", "dead_bug"}
    assert tracked_scores(Phase.PAIN_RELIEF) == ("pain",)
    assert tracked_scores(Phase.ACTIVE) == ("pain", "function")
    assert "5 minutes, 3 times a day" in exercises(Phase.PAIN_RELIEF)[0].wording
    assert "2 sets of 10" in exercises(Phase.PAIN_RELIEF)[1].wording


def test_the_balance_shifts_within_the_first_8_weeks() -> None:
    assert phase_focus(14).startswith("pain relief:")
    assert "gentle movement" in phase_focus(15)
    assert "70% active" in phase_focus(29)
    assert "20 minutes or more" in phase_focus(57)
    week = week_plan(57)
    assert (week.week, week.phase, week.movement_minutes) == (9, Phase.MAINTENANCE, 20)


def test_pain_type_and_precaution_notes() -> None:
    assert "72 hours" in pain_type_note(PainType.ACUTE)
    assert "fade without active work" in pain_type_note(PainType.CHRONIC)
    assert precaution_notes(["severe_osteoporosis"]) == [
        "severe osteoporosis: gentle massage techniques only"
    ]


PERSON = """
[[person]]
id = "p1"
pain_type = "acute"
plan_start = {start}
{extra}
"""


def _person(start: date, extra: str = "") -> str:
    return PERSON.format(start=start.isoformat(), extra=extra)


def test_a_plan_within_6_weeks_of_surgery_is_refused_naming_the_earliest_start() -> None:
    surgery = date(2026, 10, 26)
    assert earliest_start(surgery) == date(2026, 12, 7)
    with pytest.raises(ConfigError) as refused:
        parse_config(_person(date(2026, 12, 6), f"surgery_date = {surgery}"))
    (problem,) = refused.value.problems
    assert problem.key == "person[0].plan_start"
    assert "2026-12-07 at the earliest" in problem.reason
    accepted = parse_config(_person(date(2026, 12, 7), f"surgery_date = {surgery}"))
    assert accepted.persons[0].surgery_date == surgery


def test_precautions_need_a_physicians_clearance() -> None:
    extra = 'precautions = ["disc_herniation_leg_symptoms"]'
    with pytest.raises(ConfigError) as refused:
        parse_config(_person(START, extra))
    assert refused.value.problems[0].key == "person[0].precautions"
    assert "clearance" in refused.value.problems[0].reason
    cleared = parse_config(_person(START, extra + "\nclearance = true"))
    assert cleared.persons[0].precautions == ("disc_herniation_leg_symptoms",)
