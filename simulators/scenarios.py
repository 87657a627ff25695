"""Scripted people for the demo and tests: what they walk each day, and what they report.

A scenario knows the plan's rules (it uses the same pure progression as the service) so that
"on track" really means meeting that day's target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config import WalkingPlan
from monitor.days import at_local
from monitor.plan import DayOutcome, walking_targets
from simulators.direct_link import Absence
from simulators.person import SimulatedPerson, Walk

# Scripted walks are this cadence (steps/minute): a comfortable pace.
CADENCE_SPM = 100.0


@dataclass(frozen=True, slots=True)
class PhoneReport:
    """A report the person sends from their phone at a given moment."""

    at: datetime
    kind: str  # report kind: symptom, pain, function, session, exercise
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DayScript:
    """One day of a scenario, with a word on what it shows."""

    note: str
    walks: list[tuple[time, float]] = field(default_factory=list)  # (start, minutes)
    outdoors: bool = False  # walks happen out of the wearable's range
    reports: list[tuple[time, str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole script, laid out in time."""

    name: str
    person: SimulatedPerson
    reports: tuple[PhoneReport, ...]
    absences: tuple[Absence, ...]
    notes: tuple[str, ...]
    targets: tuple[int, ...]


DayPlanner = Callable[[int, int], DayScript]
"""Given the plan day (1-based) and its walking target, that day's script."""


def _week(day: int, target: int) -> DayScript:
    if day in (1, 2):
        return DayScript("on track", [(time(10, 0), target + 2)])
    if day == 3:
        return DayScript(
            "falls behind, catches up after a nudge",
            [(time(11, 30), 2), (time(17, 0), target)],
        )
    if day == 4:
        return DayScript("a missed day", [(time(18, 0), 3)])
    if day == 5:
        return DayScript(
            "reports a warning symptom; the target holds",
            [(time(10, 0), target + 2)],
            reports=[
                (time(9, 30), "symptom", {"symptom": "severe_stiffness"}),
                (time(9, 31), "pain", {"score": 6}),
            ],
        )
    return DayScript(
        "recovering, walking outdoors (out of the wearable's range)",
        [(time(10, 30), target + 2)],
        outdoors=True,
        reports=[(time(20, 0), "pain", {"score": 4})],
    )


PLANNERS: dict[str, tuple[str, DayPlanner]] = {
    "week": (
        "on track, falling behind, a missed day, a warning symptom, recovery",
        _week,
    ),
}


def build_scenario(name: str, start: date, days: int, tz: ZoneInfo, plan: WalkingPlan) -> Scenario:
    """Lay a named scenario out over `days` days from `start` (plan day 1)."""
    if name not in PLANNERS:
        raise KeyError(name)
    _, planner = PLANNERS[name]
    person = SimulatedPerson()
    reports: list[PhoneReport] = []
    absences: list[Absence] = []
    notes: list[str] = []
    outcomes: list[DayOutcome] = []
    for index in range(days):
        day = start + timedelta(days=index)
        target = walking_targets(plan, outcomes)[-1]
        script = planner(index + 1, target)
        notes.append(script.note)
        walked = 0.0
        for moment, minutes in script.walks:
            walk = Walk(at_local(day, moment, tz), minutes, CADENCE_SPM)
            person.add(walk)
            walked += minutes
            if script.outdoors:
                # Out of range from a few minutes before to a few minutes after the walk.
                absences.append(
                    Absence(walk.start - timedelta(minutes=3), walk.end + timedelta(minutes=4))
                )
        for moment, kind, payload in script.reports:
            reports.append(PhoneReport(at_local(day, moment, tz), kind, payload))
        warned = any(kind == "symptom" for _, kind, _ in script.reports)
        outcomes.append(DayOutcome(walked, warning_reported=warned))
    targets = walking_targets(plan, outcomes)[:days]
    return Scenario(name, person, tuple(reports), tuple(absences), tuple(notes), tuple(targets))
