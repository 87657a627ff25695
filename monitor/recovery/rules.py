"""The rules, pure: what the plan, the day's activity and the wearables say, as alert drafts.

Every function takes the moments it judges as arguments; none reads a clock. Each draft's key
names its occasion (a checkpoint, a day, a streak, a still stretch), so it is said once.
Symptom rules live in monitor.recovery.symptoms, pain and function trends in
monitor.recovery.trends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config import AlertSettings
from monitor.days import minute_start
from monitor.ingest.activity import DeviceStatus, PersonMinute
from monitor.recovery.alerts import AlertDraft, EventType, Severity

# "Clearly behind" (recovery-domain.md): short of the share of the target expected by the
# checkpoint by more than this share of it, and by at least this many minutes.
BEHIND_SHARE = 0.2
BEHIND_MIN_MINUTES = 1.0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A moment of the day at which progress is judged."""

    day: date
    clock_time: time
    at: datetime  # the checkpoint's instant
    waking_start: datetime
    waking_end: datetime

    @property
    def expected_share(self) -> float:
        """The share of the day's walking expected by this checkpoint: waking time elapsed."""
        span = (self.waking_end - self.waking_start).total_seconds()
        done = (self.at - self.waking_start).total_seconds()
        return min(max(done / span, 0.0), 1.0) if span > 0 else 1.0


def expected_by(checkpoint: Checkpoint, target_minutes: float) -> float:
    """Minutes of walking expected to be done by a checkpoint."""
    return target_minutes * checkpoint.expected_share


def is_behind(checkpoint: Checkpoint, target_minutes: float, walked_minutes: float) -> bool:
    """Whether the walking done is clearly behind what the checkpoint expects."""
    expected = expected_by(checkpoint, target_minutes)
    shortfall = expected - walked_minutes
    return walked_minutes < target_minutes and shortfall > max(
        BEHIND_MIN_MINUTES, BEHIND_SHARE * expected
    )


def behind_schedule(
    checkpoint: Checkpoint, target_minutes: float, walked_minutes: float
) -> AlertDraft | None:
    """A friendly nudge when clearly behind at a checkpoint, saying what a walk now would do."""
    if not is_behind(checkpoint, target_minutes, walked_minutes):
        return None
    walked = math.floor(walked_minutes)
    left = math.ceil(target_minutes - walked_minutes)
    stamp = checkpoint.clock_time.strftime("%H:%M")
    return AlertDraft(
        event_type=EventType.BEHIND_SCHEDULE,
        severity=Severity.INFO,
        priority=2,
        title="A short walk would help",
        message=(
            f"{walked} of {_minutes(target_minutes)} walked so far today; "
            f"{_a(left)} {left}-minute walk now keeps the plan on track."
        ),
        key=f"behind_schedule:{checkpoint.day.isoformat()}:{stamp}",
        data={
            "day": checkpoint.day.isoformat(),
            "checkpoint": stamp,
            "walked_minutes": round(walked_minutes, 1),
            "target_minutes": target_minutes,
            "expected_minutes": round(expected_by(checkpoint, target_minutes), 1),
            "remaining_minutes": left,
        },
    )


def day_verdict(
    day: date,
    target_minutes: float,
    walked_minutes: float,
    *,
    movement_minutes: int | None = None,
    movement_target: int | None = None,
) -> AlertDraft:
    """The day's result at the end of the waking day: target met, or missed.

    In the maintenance phase (a movement target) the message also says how the day's movement
    compares with it; the walking target alone decides met or missed, as it drives tomorrow's.
    """
    walked = math.floor(walked_minutes)
    data = _verdict_data(day, target_minutes, walked_minutes, movement_minutes, movement_target)
    movement = _movement_words(movement_minutes, movement_target)
    if walked_minutes >= target_minutes:
        return AlertDraft(
            event_type=EventType.TARGET_MET,
            severity=Severity.INFO,
            priority=1,
            title="Walking target met",
            message=(
                f"You walked {walked} minutes today against a target of "
                f"{_minutes(target_minutes)}.{movement} Well done."
            ),
            key=f"target_met:{day.isoformat()}",
            data=data,
        )
    return AlertDraft(
        event_type=EventType.TARGET_MISSED,
        severity=Severity.INFO,
        priority=2,
        title="Walking target missed today",
        message=(
            f"You walked {walked} of {_minutes(target_minutes)} today.{movement} Tomorrow's "
            "target stays the same; a short walk early in the day makes it easier."
        ),
        key=f"target_missed:{day.isoformat()}",
        data=data,
    )


def _movement_words(movement_minutes: int | None, movement_target: int | None) -> str:
    if movement_minutes is None or movement_target is None:
        return ""
    if movement_minutes >= movement_target:
        return f" You were on the move for {_minutes(movement_minutes)} (goal: {movement_target}+)."
    return (
        f" You were on the move for {_minutes(movement_minutes)}; the goal in this phase is "
        f"{movement_target} or more."
    )


def _verdict_data(
    day: date,
    target_minutes: float,
    walked_minutes: float,
    movement_minutes: int | None,
    movement_target: int | None,
) -> dict[str, object]:
    data: dict[str, object] = {
        "day": day.isoformat(),
        "walked_minutes": round(walked_minutes, 1),
        "target_minutes": target_minutes,
    }
    if movement_target is not None:
        data["movement_minutes"] = movement_minutes
        data["movement_target_minutes"] = movement_target
    return data


# -- several missed days in a row ------------------------------------------------------------

# Once escalated, a streak that goes on is said again (escalated) every this many days.
MISSED_DAYS_REPEAT = 7


def missed_streak(days: Sequence[tuple[date, bool]]) -> list[date]:
    """The run of missed days that ends the sequence of (day, met), oldest first."""
    streak: list[date] = []
    for day, met in reversed(days):
        if met:
            break
        streak.append(day)
    return streak[::-1]


def missed_days(
    streak: Sequence[date], settings: AlertSettings, *, escalation_configured: bool = False
) -> AlertDraft | None:
    """Several missed days in a row: said at `missed_days`, escalated at `missed_days_escalate`.

    Judged at every day close: the key names the streak's first day and the level reached, so
    each level is said once per streak even when a day's close was handled silently.
    """
    count = len(streak)
    if count < settings.missed_days:
        return None
    first, last = streak[0], streak[-1]
    escalate = count >= settings.missed_days_escalate
    if escalate:
        extra = count - settings.missed_days_escalate
        level = settings.missed_days_escalate + extra // MISSED_DAYS_REPEAT * MISSED_DAYS_REPEAT
    else:
        level = settings.missed_days
    told = (
        " Your carer or clinician has been told as well, so they can help."
        if escalate and escalation_configured
        else ""
    )
    return AlertDraft(
        event_type=EventType.MISSED_DAYS,
        severity=Severity.WARNING,
        priority=4 if escalate else 3,
        title=f"{count} days in a row below the walking target",
        message=(
            f"The walking target has not been met for {count} days in a row, since "
            f"{first:%a %d %b}. That happens; the target stays where it is until you meet it. "
            f"A short walk at a time of day that suits you is a good way back in.{told}"
        ),
        key=f"missed_days:{first.isoformat()}:{level}",
        data={
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "days": count,
            "level": level,
            "escalate": escalate,
        },
    )


# -- the wearable's watch, every few minutes in the waking window -------------------------------


def long_sitting(
    minutes: Sequence[PersonMinute],
    at: datetime,
    waking: tuple[datetime, datetime],
    worn_since: datetime | None,
    threshold_minutes: int,
    tz: ZoneInfo,
) -> AlertDraft | None:
    """A gentle reminder after `threshold_minutes` without movement in the waking window.

    `minutes` are the person's minutes of the local day so far; `worn_since` is since when a
    wearable has been connected without a break (None: none is). The still stretch starts at the
    last movement, the waking window's start or `worn_since`, whichever is latest; a day with no
    movement at all yet does not count: the wearable is probably not being worn.
    """
    waking_start, waking_end = waking
    if worn_since is None or not waking_start <= at < waking_end:
        return None
    moved = [m.minute for m in minutes if m.moving and minute_start(m.minute) < at]
    if not moved:
        return None
    start = max(minute_start(max(moved) + 1), waking_start, worn_since)
    still = at - start
    if still < timedelta(minutes=threshold_minutes):
        return None
    local = start.astimezone(tz)
    return AlertDraft(
        event_type=EventType.LONG_SITTING,
        severity=Severity.INFO,
        priority=2,
        title="Time to get up and move",
        message=(
            f"You have been still since {local:%H:%M}, {_duration(still)}. A few minutes on "
            "your feet, a short walk or some cat-cow stretches, is kind to your back."
        ),
        key=f"long_sitting:{local.date().isoformat()}:{local:%H:%M}",
        data={
            "day": local.date().isoformat(),
            "still_since": start.isoformat(),
            "still_minutes": int(still.total_seconds() // 60),
        },
    )


def device_offline(
    device: str,
    status: DeviceStatus,
    at: datetime,
    waking: tuple[datetime, datetime],
    unseen_since: datetime,
    threshold_minutes: int,
    tz: ZoneInfo,
    *,
    others_connected: bool = False,
) -> AlertDraft | None:
    """A wearable out of touch for longer than `threshold_minutes` of the waking window.

    Offline since it disconnected, or since it was last seen, or (never seen) `unseen_since`;
    only time inside today's waking window counts. Said at most once a day per wearable.
    """
    waking_start, waking_end = waking
    if status.connected or not waking_start <= at < waking_end:
        return None
    since = status.changed_at or status.last_seen or unseen_since
    counted = at - max(since, waking_start)
    if counted <= timedelta(minutes=threshold_minutes):
        return None
    day = at.astimezone(tz).date()
    still = " Your other wearable is still counting." if others_connected else ""
    return AlertDraft(
        event_type=EventType.DEVICE_OFFLINE,
        severity=Severity.INFO,
        priority=2,
        title=f"Wearable '{device}' is out of touch",
        message=(
            f"'{device}' has not been connected for {_duration(at - since)}, so walking may go "
            f"uncounted.{still} Check that it is charged, worn, and near the home hub."
        ),
        key=f"device_offline:{device}:{day.isoformat()}",
        data={"device": device, "day": day.isoformat(), "offline_since": since.isoformat()},
    )


def battery_low(
    device: str, status: DeviceStatus, at: datetime, threshold_percent: int, tz: ZoneInfo
) -> AlertDraft | None:
    """A connected wearable's battery at or below `threshold_percent`; once a day per wearable.

    A wearable out of touch is left to `device_offline`: its last battery level may be stale.
    """
    if not status.connected or status.battery is None or status.battery > threshold_percent:
        return None
    day = at.astimezone(tz).date()
    return AlertDraft(
        event_type=EventType.BATTERY_LOW,
        severity=Severity.INFO,
        priority=2,
        title=f"Charge '{device}' soon",
        message=(
            f"The battery of '{device}' is at {status.battery}%. Charge it when it suits you, "
            "so that your walking keeps being counted."
        ),
        key=f"battery_low:{device}:{day.isoformat()}",
        data={"device": device, "day": day.isoformat(), "battery": status.battery},
    )


def _duration(span: timedelta) -> str:
    total = int(span.total_seconds() // 60)
    hours, minutes = divmod(total, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return _minutes(minutes)


def _a(number: int) -> str:
    """The indefinite article before a number read aloud ("an 8", "an 11", "a 7")."""
    spoken = str(number)
    return "an" if spoken.startswith("8") or spoken in ("11", "18") else "a"


def _minutes(value: float) -> str:
    number = int(value) if float(value).is_integer() else round(value, 1)
    return f"{number} minute{'s' if number != 1 else ''}"
