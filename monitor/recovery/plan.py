"""The recovery plan, pure: plan days, phases, the walking progression, and what each week asks.

Walking (recovery-domain.md): day 1 is `start_minutes`; each following day adds
`daily_increase_minutes` up to `cap_minutes`, but a day that follows a missed target or a
reported warning symptom holds the target where it was, until it is met.

Massage cadence, self-care exercises, daily tracking and the notes on pain type and precautions
also come from recovery-domain.md; the wording is ours.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum

from monitor.config import SURGERY_WAIT, PainType, WalkingPlan


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


def target_met(walked_minutes: float, target_minutes: float) -> bool:
    """Whether a day's walking met its target: walked at least the target's minutes.

    The one place this is decided: the plan's next target, the day's verdict, the missed-days
    streak, the stored day result and the report all ask here (recovery-domain.md).
    """
    return walked_minutes >= target_minutes


def walking_targets(plan: WalkingPlan, outcomes: Sequence[DayOutcome]) -> list[int]:
    """Targets for plan days 1..len(outcomes)+1, given how days 1..len(outcomes) went.

    A day with no record at all is a missed day: pass it as `DayOutcome(0.0)`.
    """
    targets = [min(plan.start_minutes, plan.cap_minutes)]
    for outcome in outcomes:
        target = targets[-1]
        met = target_met(outcome.walked_minutes, target)
        if met and not outcome.warning_reported:
            target = min(target + plan.daily_increase_minutes, plan.cap_minutes)
        targets.append(target)
    return targets


# -- what each phase asks, beyond walking -------------------------------------------------------

# recovery-domain.md: massage sessions that help last 30-60 minutes and are given by hand.
SESSION_MIN_MINUTES = 30
SESSION_MAX_MINUTES = 60


@dataclass(frozen=True, slots=True)
class MassagePlan:
    """How often the phase asks for a massage session; None per week means "as needed"."""

    sessions_per_week: float | None
    wording: str


_MASSAGE = {
    Phase.PAIN_RELIEF: MassagePlan(2.0, "2 massage sessions a week"),
    Phase.ACTIVE: MassagePlan(1.0, "1 massage session a week"),
    Phase.MAINTENANCE: MassagePlan(None, "a massage session every 2-4 weeks, as needed"),
}


def massage_plan(phase: Phase) -> MassagePlan:
    """The massage cadence of a phase."""
    return _MASSAGE[phase]


def session_note(kind: str, minutes: int) -> str | None:
    """Why a reported massage session may help less than it could, or None if it is a good one."""
    if kind == "device":
        return "massage chairs and devices show little benefit; a person's hands work better"
    if minutes < SESSION_MIN_MINUTES:
        return f"sessions under {SESSION_MIN_MINUTES} minutes show weaker results"
    return None


@dataclass(frozen=True, slots=True)
class Exercise:
    """A self-care exercise and how many times a day the plan asks for it."""

    kind: str  # as in report/exercise: cat_cow, pelvic_tilt, bird_dog, dead_bug
    per_day: int
    wording: str


CAT_COW = Exercise("cat_cow", 3, "cat-cow stretches, 5 minutes, 3 times a day")
PELVIC_TILT = Exercise("pelvic_tilt", 1, "pelvic tilts lying down, 2 sets of 10, daily")
BIRD_DOG = Exercise("bird_dog", 1, "bird-dog, daily (core stabilisation)")
DEAD_BUG = Exercise("dead_bug", 1, "dead bug, daily (core stabilisation)")


def exercises(phase: Phase) -> tuple[Exercise, ...]:
    """The self-reported exercises a phase asks for each day."""
    if phase is Phase.PAIN_RELIEF:
        return (CAT_COW, PELVIC_TILT)
    return (CAT_COW, PELVIC_TILT, BIRD_DOG, DEAD_BUG)


def tracked_scores(phase: Phase) -> tuple[str, ...]:
    """The scores the plan asks the person to report daily in a phase."""
    return ("pain",) if phase is Phase.PAIN_RELIEF else ("pain", "function")


def phase_focus(day_number: int) -> str:
    """What the phase is about on a plan day, in plain words (the balance shifts by week)."""
    week = week_of(day_number)
    if week <= 2:
        return "pain relief: gentle walking and cat-cow stretches"
    if week <= 4:
        return "pain relief, with gentle movement entering the massage sessions"
    if week <= 8:
        return (
            "active recovery: about 70% active movement, 30% massage; add core stabilisation "
            "and practise everyday movements"
        )
    return (
        "maintenance: a daily movement routine of 20 minutes or more and self-massage "
        "(foam roller or ball)"
    )


_PAIN_TYPE_NOTES = {
    PainType.ACUTE: (
        "Pain of under 4 weeks: massage brings quick relief but not function by itself; "
        "starting early matters most, in the first 72 hours."
    ),
    PainType.SUBACUTE: (
        "Pain of 4 to 12 weeks: massage helps, and active movement matters more week by week."
    ),
    PainType.CHRONIC: (
        "Pain of 12 weeks or more: weekly massage for 4-8 weeks helps pain and function, "
        "but the gains fade without active work."
    ),
}


def pain_type_note(pain_type: PainType) -> str:
    """What the evidence says for a pain type, in plain words."""
    return _PAIN_TYPE_NOTES[pain_type]


_PRECAUTION_NOTES = {
    "disc_herniation_leg_symptoms": "disc herniation with leg symptoms: cleared by a physician",
    "severe_osteoporosis": "severe osteoporosis: gentle massage techniques only",
    "unexplained_weight_loss_or_fever": "weight loss or fever: cleared by a physician",
}


def precaution_notes(precautions: Sequence[str]) -> list[str]:
    """What each listed precaution means for the plan (they need clearance to be listed at all)."""
    return [_PRECAUTION_NOTES.get(p, p) for p in precautions]


def earliest_start(surgery_date: date | None) -> date | None:
    """The first day a plan may start after back surgery (6 weeks on), or None without surgery."""
    return surgery_date + SURGERY_WAIT if surgery_date is not None else None


@dataclass(frozen=True, slots=True)
class WeekPlan:
    """What the plan asks in the week a plan day falls in, beyond the day's walking target."""

    week: int
    phase: Phase
    focus: str
    massage: MassagePlan
    exercises: tuple[Exercise, ...]
    movement_minutes: int | None
    scores: tuple[str, ...]


def week_plan(day_number: int) -> WeekPlan:
    """The plan for the week a plan day falls in."""
    phase = phase_of(day_number)
    return WeekPlan(
        week=week_of(day_number),
        phase=phase,
        focus=phase_focus(day_number),
        massage=massage_plan(phase),
        exercises=exercises(phase),
        movement_minutes=movement_target(day_number),
        scores=tracked_scores(phase),
    )


def expected_sessions(
    plan_start: date, first: date, last: date, *, paused: Container[date] = ()
) -> float:
    """Massage sessions the plan asks for over the days [first, last] (phases "as needed": 0),
    none on `paused` days (treatment stopped for a warning symptom)."""
    total = 0.0
    day = first
    while day <= last:
        number = plan_day(plan_start, day)
        if number is not None and day not in paused:
            per_week = massage_plan(phase_of(number)).sessions_per_week
            total += (per_week or 0.0) / 7.0
        day += timedelta(days=1)
    return total
