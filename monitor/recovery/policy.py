"""The alert policy, pure: which drafts go out now, which are held back, and to which topics.

* Symptom and red-flag alerts (`ALWAYS_SENT`) bypass all of it: always sent, at once.
* Nudges (reminders to act now: behind schedule, long sitting, wearable offline, battery low)
  are held back in quiet hours, within the cooldown after another nudge of the same family,
  and for the rest of a day on which the person acknowledged a nudge of the same family.
  Wearable nudges count per wearable: two wearables out of touch are two things to fix.
* Everything else (the day's verdict, missed days, no improvement, function declining) is sent.
* Each occasion (draft key) is raised at most once, held back or not; the alerter enforces that
  with the store, so a held-back nudge is not sent later either, also across restarts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from monitor.config import AlertSettings, WakingWindow
from monitor.recovery.alerts import ALWAYS_SENT, AlertDraft, EventType


class Family(StrEnum):
    """Nudges that say the same kind of thing, and so share a cooldown and a snooze."""

    MOVEMENT = "movement"
    WEARABLE = "wearable"


NUDGES: dict[EventType, Family] = {
    EventType.BEHIND_SCHEDULE: Family.MOVEMENT,
    EventType.LONG_SITTING: Family.MOVEMENT,
    EventType.DEVICE_OFFLINE: Family.WEARABLE,
    EventType.BATTERY_LOW: Family.WEARABLE,
}


class HeldBack(StrEnum):
    """Why a nudge was not sent."""

    QUIET_HOURS = "quiet_hours"
    COOLDOWN = "cooldown"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class PastAlert:
    """What the policy needs to know of an alert raised before."""

    event_type: str
    created_at: datetime
    acked_at: datetime | None
    held_back: bool
    device: str | None = None  # the wearable a wearable nudge was about


@dataclass(frozen=True, slots=True)
class Decision:
    """Send, or hold back for a reason."""

    send: bool
    reason: HeldBack | None = None


SEND = Decision(send=True)


def quiet_hours(settings: AlertSettings, waking: WakingWindow) -> tuple[time, time]:
    """The quiet hours as (start, end) local times: configured, or outside the waking window."""
    return settings.quiet_hours or (waking.end, waking.start)


def is_quiet(moment: time, window: tuple[time, time]) -> bool:
    """Whether a local clock time falls in quiet hours [start, end), which may cross midnight."""
    start, end = window
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def history_since(at: datetime, settings: AlertSettings, tz: ZoneInfo) -> datetime:
    """How far back the policy looks: the local day of `at`, or the cooldown if that is longer."""
    local = at.astimezone(tz)
    midnight = datetime.combine(local.date(), time(0), tzinfo=tz)
    return min(midnight, at - timedelta(minutes=settings.nudge_cooldown_minutes))


def decide(
    draft: AlertDraft,
    at: datetime,
    *,
    settings: AlertSettings,
    waking: WakingWindow,
    tz: ZoneInfo,
    history: Iterable[PastAlert],
) -> Decision:
    """Whether a draft raised for the moment `at` goes out, given the person's earlier alerts."""
    if draft.event_type in ALWAYS_SENT:
        return SEND
    family = NUDGES.get(draft.event_type)
    if family is None:
        return SEND
    local = at.astimezone(tz)
    if is_quiet(local.time(), quiet_hours(settings, waking)):
        return Decision(False, HeldBack.QUIET_HOURS)
    device = draft.data.get("device") if family is Family.WEARABLE else None
    kin = [
        p
        for p in history
        if _family_of(p.event_type) is family and not p.held_back and p.device == device
    ]
    today = local.date()
    if any(p.acked_at is not None and p.created_at.astimezone(tz).date() == today for p in kin):
        return Decision(False, HeldBack.ACKNOWLEDGED)
    cooldown = timedelta(minutes=settings.nudge_cooldown_minutes)
    if any(p.created_at > at - cooldown for p in kin):
        return Decision(False, HeldBack.COOLDOWN)
    return SEND


def destinations(draft: AlertDraft, own_topic: str, settings: AlertSettings) -> list[str]:
    """The topics an alert goes to: the person's own, and the escalation topic if it escalates."""
    topics = [own_topic]
    escalation = settings.escalation_topic
    if escalation and draft.data.get("escalate") is True and escalation != own_topic:
        topics.append(escalation)
    return topics


def _family_of(event_type: str) -> Family | None:
    try:
        return NUDGES.get(EventType(event_type))
    except ValueError:
        return None
