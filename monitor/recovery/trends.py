"""Pain and function over weeks, pure: no improvement after 8 weeks, function declining while pain
improves, and the trend in plain words.

Scores come in as one value per local day (`monitor.recovery.tracking.daily_scores`); days without a
score are simply absent. The judged day is an argument; nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from monitor.recovery.alerts import AlertDraft, EventType, Severity
from monitor.recovery.plan import plan_day

# recovery-domain.md: "not improved" = the 7-day mean pain has not fallen by the minimal
# clinically important difference, 2 points or 30%, from the first week's mean, after 8 weeks.
IMPROVEMENT_POINTS = 2.0
IMPROVEMENT_SHARE = 0.30
NO_IMPROVEMENT_AFTER_DAYS = 8 * 7
# Our choices: said again every 4 weeks while it stays true; a mean needs 3 scored days.
NO_IMPROVEMENT_REPEAT_WEEKS = 4
MIN_SCORED_DAYS = 3
# Function declining while pain improves (recovery-domain.md gives no number): over the last
# two weeks, the second week's mean function at least this far below the first's, while the
# mean pain fell at least as far.
TREND_POINTS = 1.0
TREND_WINDOW_DAYS = 14
# In the report's words, a change smaller than this is "steady".
STEADY_POINTS = 0.5


@dataclass(frozen=True, slots=True)
class Mean:
    """The mean of the scores over some days, and how many days had one."""

    value: float
    days: int


def mean_over(scores: Mapping[date, float], first: date, last: date) -> Mean | None:
    """The mean of the daily scores in [first, last], or None when no day there has one."""
    values = [score for day, score in scores.items() if first <= day <= last]
    if not values:
        return None
    return Mean(sum(values) / len(values), len(values))


def improved(first_week: float, latest_week: float) -> bool:
    """Whether pain fell by 2 points or by 30% (either is a meaningful change)."""
    drop = first_week - latest_week
    return drop >= min(IMPROVEMENT_POINTS, IMPROVEMENT_SHARE * first_week)


def no_improvement(pain: Mapping[date, float], plan_start: date, day: date) -> AlertDraft | None:
    """At the close of `day`: after 8 weeks, pain that has not meaningfully eased since week 1.

    Judged at the close of every day from day 56; said for weeks 8, 12, 16, ... (the key names
    the week), so a close missed after a restart is made up at the next.
    """
    number = plan_day(plan_start, day)
    if number is None or number < NO_IMPROVEMENT_AFTER_DAYS:
        return None
    baseline = mean_over(pain, plan_start, plan_start + timedelta(days=6))
    latest = mean_over(pain, day - timedelta(days=6), day)
    if baseline is None or latest is None:
        return None
    if min(baseline.days, latest.days) < MIN_SCORED_DAYS or improved(baseline.value, latest.value):
        return None
    weeks = number // 7
    said_for = 8 + (weeks - 8) // NO_IMPROVEMENT_REPEAT_WEEKS * NO_IMPROVEMENT_REPEAT_WEEKS
    return AlertDraft(
        event_type=EventType.NO_IMPROVEMENT,
        severity=Severity.WARNING,
        priority=4,
        title=f"Pain has not eased much after {weeks} weeks",
        message=(
            f"Your average pain this past week was {latest.value:.1f}, against "
            f"{baseline.value:.1f} in the plan's first week: less than the 2-point (or 30%) "
            f"change that counts as a real improvement. After {weeks} weeks of the plan it is "
            "worth asking your doctor about seeing a spine specialist."
        ),
        key=f"no_improvement:week{said_for}",
        data={
            "day": day.isoformat(),
            "plan_day": number,
            "first_week_mean": round(baseline.value, 2),
            "last_7_days_mean": round(latest.value, 2),
            "escalate": True,
        },
    )


def function_declining(
    pain: Mapping[date, float], function: Mapping[date, float], plan_start: date, day: date
) -> AlertDraft | None:
    """At the close of `day`: over the last two weeks, function down while pain went down too.

    Said at most once per plan week (the key names the week).
    """
    number = plan_day(plan_start, day)
    if number is None or number < TREND_WINDOW_DAYS:
        return None
    early = (day - timedelta(days=13), day - timedelta(days=7))
    late = (day - timedelta(days=6), day)
    found = [mean_over(s, *w) for s in (pain, function) for w in (early, late)]
    means = [m for m in found if m is not None and m.days >= MIN_SCORED_DAYS]
    if len(means) < len(found):
        return None
    pain_early, pain_late, function_early, function_late = means
    pain_change = pain_late.value - pain_early.value
    function_change = function_late.value - function_early.value
    if not (function_change <= -TREND_POINTS and pain_change <= -TREND_POINTS):
        return None
    return AlertDraft(
        event_type=EventType.FUNCTION_DECLINING,
        severity=Severity.WARNING,
        priority=4,
        title="Pain is easing but everyday activities are getting harder",
        message=(
            f"Over the last two weeks your average pain went from {pain_early.value:.1f} to "
            f"{pain_late.value:.1f}, but your function score went down too, from "
            f"{function_early.value:.1f} to {function_late.value:.1f}. Pain relief without "
            "getting back to everyday activities is the known weak spot of passive treatment: "
            "please talk with your clinician about more active exercise."
        ),
        key=f"function_declining:week{number // 7}",
        data={
            "day": day.isoformat(),
            "plan_day": number,
            "pain_before": round(pain_early.value, 2),
            "pain_after": round(pain_late.value, 2),
            "function_before": round(function_early.value, 2),
            "function_after": round(function_late.value, 2),
            "escalate": True,
        },
    )


@dataclass(frozen=True, slots=True)
class Change:
    """A score's mean early and late in a span of days."""

    early: Mean
    late: Mean


def change_over(scores: Mapping[date, float], first: date, last: date) -> Change | None:
    """Early against late: first and last 7 days of the span, or its halves if shorter than 14."""
    days = (last - first).days + 1
    part = 7 if days >= TREND_WINDOW_DAYS else days // 2
    if part < 1:
        return None
    early = mean_over(scores, first, first + timedelta(days=part - 1))
    late = mean_over(scores, last - timedelta(days=part - 1), last)
    if early is None or late is None or early.days < 2 or late.days < 2:
        return None
    return Change(early, late)


def describe_trend(
    pain: Mapping[date, float], function: Mapping[date, float], first: date, last: date
) -> str:
    """The trend over [first, last] in plain words, e.g. "pain down from 6.1 to 3.4 over 4 weeks;
    function improving"."""
    days = (last - first).days + 1
    span = f"{days // 7} weeks" if days % 7 == 0 and days >= 14 else f"{days} days"
    words: list[str] = []
    pain_change = change_over(pain, first, last)
    if pain_change is None:
        words.append("not enough pain scores yet to show a trend")
    else:
        early, late = pain_change.early.value, pain_change.late.value
        if abs(late - early) < STEADY_POINTS:
            words.append(f"pain steady at about {late:.1f} over {span}")
        else:
            direction = "down" if late < early else "up"
            words.append(f"pain {direction} from {early:.1f} to {late:.1f} over {span}")
    function_change = change_over(function, first, last)
    if function_change is None:
        words.append("not enough function scores yet")
    else:
        delta = function_change.late.value - function_change.early.value
        if delta >= STEADY_POINTS:
            words.append("function improving")
        elif delta <= -STEADY_POINTS:
            words.append("function declining")
        else:
            words.append("function steady")
    return "; ".join(words)
