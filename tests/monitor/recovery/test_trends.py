"""Pain and function over weeks: no improvement after 8 weeks, function declining while pain
improves, and the trend in plain words."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from monitor.recovery.alerts import EventType
from monitor.recovery.trends import describe_trend, function_declining, improved, no_improvement

START = date(2026, 11, 23)


def day(number: int) -> date:
    return START + timedelta(days=number - 1)


def scores(first_week: float, later: float, until: int = 70) -> dict[date, float]:
    return {day(n): first_week if n <= 7 else later for n in range(1, until + 1)}


def test_no_improvement_is_judged_from_exactly_8_weeks() -> None:
    pain = scores(6.0, 5.0)
    assert no_improvement(pain, START, day(55)) is None
    draft = no_improvement(pain, START, day(56))
    assert draft is not None
    assert draft.event_type is EventType.NO_IMPROVEMENT
    assert draft.key == "no_improvement:week8"
    assert draft.data["first_week_mean"] == 6.0
    assert draft.data["last_7_days_mean"] == 5.0
    assert "spine specialist" in draft.message
    assert draft.data["escalate"] is True


@pytest.mark.parametrize(
    ("first", "later", "said"),
    [
        (6.0, 4.0, False),  # down 2 points
        (6.0, 4.1, False),  # down 1.9 points, but 31.7%
        (8.0, 6.1, True),  # down 1.9 points and 23.75%: neither
        (8.0, 6.0, False),  # down 2 points
        (5.0, 3.5, False),  # down 30%
        (5.0, 3.6, True),  # down 28%
        (6.0, 7.0, True),  # worse
    ],
)
def test_improvement_is_2_points_or_30_percent(first: float, later: float, said: bool) -> None:
    assert improved(first, later) is not said
    draft = no_improvement(scores(first, later), START, day(56))
    assert (draft is not None) is said


def test_no_improvement_needs_enough_scores_and_repeats_every_4_weeks() -> None:
    sparse = {d: s for d, s in scores(6.0, 6.0).items() if d.day % 4 == 0}
    assert no_improvement(sparse, START, day(56)) is None
    pain = scores(6.0, 6.0, until=120)
    keys = {d.key for n in range(56, 120) if (d := no_improvement(pain, START, day(n)))}
    assert keys == {"no_improvement:week8", "no_improvement:week12", "no_improvement:week16"}


def two_weeks(
    pain: tuple[float, float], function: tuple[float, float]
) -> tuple[dict[date, float], dict[date, float]]:
    p = {day(n): pain[0] if n <= 7 else pain[1] for n in range(1, 15)}
    f = {day(n): function[0] if n <= 7 else function[1] for n in range(1, 15)}
    return p, f


def test_function_declining_while_pain_improves_over_two_weeks() -> None:
    pain, function = two_weeks((6.0, 5.0), (6.0, 5.0))
    assert function_declining(pain, function, START, day(13)) is None  # not two weeks yet
    draft = function_declining(pain, function, START, day(14))
    assert draft is not None
    assert draft.event_type is EventType.FUNCTION_DECLINING
    assert draft.key == "function_declining:week2"
    assert draft.data["escalate"] is True
    assert "from 6.0 to 5.0" in draft.message


@pytest.mark.parametrize(
    ("pain", "function"),
    [
        ((6.0, 5.0), (6.0, 5.5)),  # function down only half a point
        ((6.0, 5.5), (6.0, 4.0)),  # pain barely better
        ((5.0, 6.0), (6.0, 4.0)),  # pain worse: not this rule
        ((6.0, 4.0), (5.0, 7.0)),  # function improving too
    ],
)
def test_no_function_alert_unless_both_trends_are_clear(
    pain: tuple[float, float], function: tuple[float, float]
) -> None:
    p, f = two_weeks(pain, function)
    assert function_declining(p, f, START, day(14)) is None


def test_function_declining_needs_three_scores_in_each_week() -> None:
    pain, function = two_weeks((6.0, 4.0), (6.0, 4.0))
    gaps = {day(n) for n in range(9, 14)}
    three = {d: s for d, s in function.items() if d not in gaps or d == day(13)}
    assert function_declining(pain, three, START, day(14)) is not None
    two = {d: s for d, s in function.items() if d not in gaps}
    assert function_declining(pain, two, START, day(14)) is None


def test_the_trend_in_plain_words() -> None:
    first, last = day(1), day(28)
    pain = {day(n): 6.1 if n <= 7 else (3.4 if n > 21 else 5.0) for n in range(1, 29)}
    function = {day(n): 4.0 if n <= 7 else 6.0 for n in range(1, 29)}
    assert describe_trend(pain, function, first, last) == (
        "pain down from 6.1 to 3.4 over 4 weeks; function improving"
    )
    flat = {day(n): 5.0 for n in range(1, 29)}
    assert describe_trend(flat, flat, first, last) == (
        "pain steady at about 5.0 over 4 weeks; function steady"
    )
    assert describe_trend({}, {}, first, last).startswith("not enough pain scores yet")
    short = {day(n): 4.0 + n for n in range(1, 7)}
    assert describe_trend(short, {}, day(1), day(6)) == (
        "pain up from 6.0 to 9.0 over 6 days; not enough function scores yet"
    )
