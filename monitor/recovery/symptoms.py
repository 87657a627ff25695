"""Warning symptoms and red flags (recovery-domain.md): what each means and the alerts they raise.

Pure: every report is alerted at once; a warning symptom still reported more than 72 hours
after it first appeared, and severe stiffness reported across more than 48 hours, escalate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.days import local_date
from monitor.recovery.alerts import AlertDraft, EventType, Severity

# recovery-domain.md: a warning symptom still reported more than 72 hours after it first
# appeared means "consult a physician"; severe stiffness lasting more than 48 hours, "stop".
PERSISTING_AFTER = timedelta(hours=72)
STIFFNESS_LASTING_AFTER = timedelta(hours=48)
# Reports of one symptom with no longer gap than this between them belong to one episode; after
# a longer quiet spell the symptom counts as appearing anew (our choice: the domain says such
# reactions usually settle in 1-2 days, so a week without a report means it had settled).
EPISODE_GAP = timedelta(days=7)


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


LABELS: dict[SymptomKind, str] = {
    SymptomKind.SHARP_PAIN_DURING_SESSION: "sharp pain during a session",
    SymptomKind.LEG_NUMBNESS_TINGLING: "numbness or tingling in the legs",
    SymptomKind.SEVERE_STIFFNESS: "severe stiffness",
    SymptomKind.NIGHT_PAIN: "night pain",
    SymptomKind.LEG_WEAKNESS: "leg weakness",
    SymptomKind.WEIGHT_LOSS_OR_FEVER: "weight loss or fever",
}


def is_red_flag(kind: SymptomKind) -> bool:
    """Whether a symptom is a red flag (see a doctor) rather than a warning symptom (stop)."""
    return GUIDANCE[kind].red_flag


def symptom_alert(kind: SymptomKind, report_id: int, day: str) -> AlertDraft:
    """The immediate, critical alert for a reported warning symptom or red flag.

    Red flags also go to the escalation topic, when one is configured.
    """
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
        data={
            "symptom": kind.value,
            "day": day,
            "report": report_id,
            "escalate": guidance.red_flag,
        },
    )


class Reported(Protocol):
    """A symptom report: which report, what, when (monitor.recovery.tracking.SymptomReport)."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> SymptomKind: ...

    @property
    def at(self) -> datetime: ...


def episode(report: Reported, reports: Sequence[Reported]) -> list[Reported]:
    """The reports of the same symptom that form one episode with `report`, oldest first."""
    same = sorted(
        [r for r in reports if r.kind == report.kind and r.id != report.id] + [report],
        key=lambda r: (r.at, r.id),
    )
    index = next(i for i, r in enumerate(same) if r.id == report.id)
    first = last = index
    while first > 0 and same[first].at - same[first - 1].at <= EPISODE_GAP:
        first -= 1
    while last + 1 < len(same) and same[last + 1].at - same[last].at <= EPISODE_GAP:
        last += 1
    return same[first : last + 1]


def persistence_alerts(
    report: Reported, reports: Sequence[Reported], tz: ZoneInfo
) -> list[AlertDraft]:
    """Escalations a new symptom report brings, given every report of the person so far.

    Each is keyed by the episode's first report, so it is said once per episode.
    """
    if is_red_flag(report.kind):
        return []  # a red flag already says "see a doctor", at every report
    chain = episode(report, reports)
    return episode_alerts(report.kind, chain[0], chain[-1], tz)


def episode_alerts(
    kind: SymptomKind, first: Reported, latest: Reported, tz: ZoneInfo
) -> list[AlertDraft]:
    """Escalations for an episode of one symptom that runs from `first` to `latest`."""
    if is_red_flag(kind):
        return []
    lasted = latest.at - first.at
    since = first.at.astimezone(tz).strftime("%a %d %b %H:%M")
    label = LABELS[kind]
    data = {
        "symptom": kind.value,
        "first_report": first.id,
        "first_reported_at": first.at.isoformat(),
        "latest_report": latest.id,
        "hours": round(lasted.total_seconds() / 3600, 1),
    }
    drafts: list[AlertDraft] = []
    if kind is SymptomKind.SEVERE_STIFFNESS and lasted > STIFFNESS_LASTING_AFTER:
        drafts.append(
            AlertDraft(
                event_type=EventType.SYMPTOM_PERSISTING,
                severity=Severity.CRITICAL,
                priority=5,
                title="Stiffness for more than two days: stop treatment",
                message=(
                    f"You have reported severe stiffness since {since}, more than 48 hours. "
                    "Please stop the massage and exercises for now and let your clinician know "
                    "before you start again."
                ),
                key=f"stiffness_lasting:{first.id}",
                requires_ack=True,
                data={**data, "rule": "stiffness_48h", "escalate": False},
            )
        )
    if lasted > PERSISTING_AFTER:
        drafts.append(
            AlertDraft(
                event_type=EventType.SYMPTOM_PERSISTING,
                severity=Severity.CRITICAL,
                priority=5,
                title="Still there after 3 days: please see a doctor",
                message=(
                    f"You first reported {label} on {since} and are still reporting it more "
                    "than 72 hours later. Reactions like this usually settle within a day or "
                    "two, so please consult a physician about it."
                ),
                key=f"symptom_persisting:{first.id}",
                requires_ack=True,
                data={**data, "rule": "persisting_72h", "escalate": True},
            )
        )
    return drafts


# The warning symptoms whose guidance is "stop treatment" (recovery-domain.md; a sharp pain stops
# only the session it came in). Massage and exercises are not asked of the person while one of
# them is active: reported within the last WARNING_ACTIVE.
STOPS_TREATMENT = frozenset({SymptomKind.LEG_NUMBNESS_TINGLING, SymptomKind.SEVERE_STIFFNESS})
# A warning symptom counts as active for this long after it was last reported (recovery-domain.md:
# such reactions usually settle in 1-2 days; still reported after 72 hours, it escalates).
WARNING_ACTIVE = timedelta(hours=72)


def treatment_paused_days(reports: Iterable[Reported], tz: ZoneInfo) -> set[date]:
    """The local days on which a stop-treatment symptom was active (its report's day and the
    days up to WARNING_ACTIVE after it): the plan asks no massage or exercises of them."""
    paused: set[date] = set()
    for report in reports:
        if report.kind in STOPS_TREATMENT:
            day, until = local_date(report.at, tz), local_date(report.at + WARNING_ACTIVE, tz)
            while day <= until:
                paused.add(day)
                day += timedelta(days=1)
    return paused
