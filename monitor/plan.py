"""The recovery plan, pure: plan days, phases, and the walking progression from past days.

Walking (recovery-domain.md): day 1 is `start_minutes`; each following day adds
`daily_increase_minutes` up to `cap_minutes`, but a day that follows a missed target or a
reported warning symptom holds the target where it was, until it is met.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import IntEnum

from monitor.config import WalkingPlan


class Phase(IntEnum):
    """The plan's three phases, by week of the plan."""

    PAIN_RELIEF = 1  # weeks 1-4
    ACTIVE = 2  # weeks 5-8
    MAINTENANCE = 3  # week 9 on

    @property
    def label(self) -> str:
        """The phase's name as shown to people and Home Assistant."""
        return _LABELS[self]


_LABELS = {
    Phase.PAIN_RELIEF: "pain_relief",
    Phase.ACTIVE: "active",
    Phase.MAINTENANCE: "maintenance",
}

# recovery-domain.md: 20+ minutes of movement a day in the maintenance phase.
MAINTENANCE_MOVEMENT_MINUTES = 20


@dataclass(frozen=True, slots=True)
class DayOutcome:
    """What decides the next day's target: minutes walked, and whether a warning was reported."""

    walked_minutes: float
    warning_reported: bool = False


def plan_day(plan_start: date, day: date) -> int | None:
    """The 1-based day of the plan a date falls on; None before the plan starts."""
    number = (day - plan_start).days + 1
    return number if number >= 1 else None


def week_of(day_number: int) -> int:
    """The 1-based week of the plan a plan day falls in."""
    return (day_number - 1) // 7 + 1


def phase_of(day_number: int) -> Phase:
    """The plan phase of a plan day."""
    week = week_of(day_number)
    if week <= 4:
        return Phase.PAIN_RELIEF
    if week <= 8:
        return Phase.ACTIVE
    return Phase.MAINTENANCE


def movement_target(day_number: int) -> int | None:
    """The daily movement target in minutes, which only the maintenance phase sets."""
    if phase_of(day_number) is Phase.MAINTENANCE:
        return MAINTENANCE_MOVEMENT_MINUTES
    return None


def walking_targets(plan: WalkingPlan, outcomes: Sequence[DayOutcome]) -> list[int]:
    """Targets for plan days 1..len(outcomes)+1, given how days 1..len(outcomes) went.

    A day with no record at all is a missed day: pass it as `DayOutcome(0.0)`.
    """
    targets = [min(plan.start_minutes, plan.cap_minutes)]
    for outcome in outcomes:
        target = targets[-1]
        met = outcome.walked_minutes >= target
        if met and not outcome.warning_reported:
            target = min(target + plan.daily_increase_minutes, plan.cap_minutes)
        targets.append(target)
    return targets
