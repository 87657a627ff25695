"""Warning symptoms and red flags (recovery-domain.md): what each means and the alert it raises."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from monitor.alerts import AlertDraft, EventType, Severity


class SymptomKind(StrEnum):
    """Every symptom a person can report (the `symptom` field of report/symptom)."""

    SHARP_PAIN_DURING_SESSION = "sharp_pain_during_session"
    LEG_NUMBNESS_TINGLING = "leg_numbness_tingling"
    SEVERE_STIFFNESS = "severe_stiffness"
    NIGHT_PAIN = "night_pain"
    LEG_WEAKNESS = "leg_weakness"
    WEIGHT_LOSS_OR_FEVER = "weight_loss_or_fever"


@dataclass(frozen=True, slots=True)
class Guidance:
    """What to tell a person who reports a symptom."""

    red_flag: bool
    title: str
    message: str


GUIDANCE: dict[SymptomKind, Guidance] = {
    SymptomKind.SHARP_PAIN_DURING_SESSION: Guidance(
        False,
        "Sharp pain reported: stop the session",
        "Sharp, shooting pain during a session can mean an irritated nerve. Stop the session "
        "now. Such reactions usually settle in a day or two; if it is still there, tell your "
        "clinician.",
    ),
    SymptomKind.LEG_NUMBNESS_TINGLING: Guidance(
        False,
        "Numbness or tingling in the legs: stop treatment",
        "Numbness or tingling in the legs during or after treatment can mean a nerve is "
        "involved. Stop the treatment and tell a clinician.",
    ),
    SymptomKind.SEVERE_STIFFNESS: Guidance(
        False,
        "Severe stiffness reported: stop treatment",
        "Severe stiffness that lasts more than two days can mean tissue damage. Stop the "
        "treatment; if the stiffness does not ease, tell your clinician.",
    ),
    SymptomKind.NIGHT_PAIN: Guidance(
        True,
        "Night pain: please see a doctor",
        "Back pain that keeps you from sleeping needs a medical evaluation to rule out a "
        "serious cause. Please make an appointment with your doctor.",
    ),
    SymptomKind.LEG_WEAKNESS: Guidance(
        True,
        "Leg weakness: get a medical evaluation today",
        "Weakness in the legs that is getting worse needs urgent medical evaluation. Contact "
        "your doctor or an urgent care service today.",
    ),
    SymptomKind.WEIGHT_LOSS_OR_FEVER: Guidance(
        True,
        "Weight loss or fever: please see a doctor",
        "Unexplained weight loss or fever together with back pain needs a medical evaluation. "
        "Please make an appointment with your doctor.",
    ),
}


def symptom_alert(kind: SymptomKind, report_id: int, day: str) -> AlertDraft:
    """The immediate, critical alert for a reported warning symptom or red flag."""
    guidance = GUIDANCE[kind]
    event = EventType.RED_FLAG if guidance.red_flag else EventType.WARNING_SYMPTOM
    return AlertDraft(
        event_type=event,
        severity=Severity.CRITICAL,
        priority=5,
        title=guidance.title,
        message=guidance.message,
        key=f"{event.value}:{report_id}",
        requires_ack=True,
        data={"symptom": kind.value, "day": day, "report": report_id},
    )
