"""The weekly summary, pure: each plan week's walking against target, adherence, and the pain and
function trend, in plain words, as an alert-like message (event type `weekly_summary`, info).

recovery-domain.md: "the monitor's weekly summary says so in plain words". It is said at the
close of every seventh plan day (days 7, 14, ...) about that plan week, once per week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Protocol

from monitor.recovery.alerts import AlertDraft, EventType, Severity
from monitor.recovery.trends import describe_trend

WEEK_DAYS = 7


class DayOutcome(Protocol):
    """A judged day: its walking target and what was walked (minutes)."""

    @property
    def day(self) -> date:
        """The local day."""
        ...

    @property
    def target_minutes(self) -> float:
        """The day's walking target."""
        ...

    @property
    def walked_minutes(self) -> float:
        """Minutes walked that day."""
        ...


def is_week_end(plan_day: int | None) -> bool:
    """Whether a plan day (1 = the plan's first) closes a plan week."""
    return plan_day is not None and plan_day > 0 and plan_day % WEEK_DAYS == 0


def weekly_summary(
    last: date,
    plan_day: int,
    days: Sequence[DayOutcome],
    pain: Mapping[date, float],
    function: Mapping[date, float],
) -> AlertDraft:
    """The summary of the plan week ending on `last` (plan day `plan_day`, a multiple of 7).

    `days`: the judged days (any; those of the week are used); adherence is the share of the
    week's judged days on which the walking target was met. `pain`, `function`: daily scores
    (0-10); the trend is `describe_trend` over the week.
    """
    first = last - timedelta(days=WEEK_DAYS - 1)
    week = [d for d in days if first <= d.day <= last]
    walked = sum(d.walked_minutes for d in week)
    target = sum(d.target_minutes for d in week)
    met = sum(1 for d in week if d.walked_minutes >= d.target_minutes)
    number = plan_day // WEEK_DAYS
    if week:
        adherence = round(100 * met / len(week))
        walking = (
            f"You walked {walked:.0f} of {target:.0f} target minutes and met the target on "
            f"{met} of {len(week)} days ({adherence}%)."
        )
    else:
        adherence = None
        walking = "No walking day was recorded this week."
    trend = describe_trend(pain, function, first, last)
    return AlertDraft(
        event_type=EventType.WEEKLY_SUMMARY,
        severity=Severity.INFO,
        priority=2,
        title=f"Week {number} of the plan",
        message=f"{walking} {trend[0].upper()}{trend[1:]}.",
        key=f"weekly_summary:{last.isoformat()}",
        data={
            "week": number,
            "first": first.isoformat(),
            "last": last.isoformat(),
            "walked_minutes": round(walked, 1),
            "target_minutes": round(target, 1),
            "days_met": met,
            "days_judged": len(week),
            "adherence_percent": adherence,
        },
    )
