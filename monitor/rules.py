"""The rules, pure: what the plan and the day's activity say, as alert drafts (or nothing).

Every function takes the moments it judges as arguments; none reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time

from monitor.alerts import AlertDraft, EventType, Severity

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


def day_verdict(day: date, target_minutes: float, walked_minutes: float) -> AlertDraft:
    """The day's result at the end of the waking day: target met, or missed."""
    walked = math.floor(walked_minutes)
    if walked_minutes >= target_minutes:
        return AlertDraft(
            event_type=EventType.TARGET_MET,
            severity=Severity.INFO,
            priority=1,
            title="Walking target met",
            message=(
                f"You walked {walked} minutes today against a target of "
                f"{_minutes(target_minutes)}. Well done."
            ),
            key=f"target_met:{day.isoformat()}",
            data=_verdict_data(day, target_minutes, walked_minutes),
        )
    return AlertDraft(
        event_type=EventType.TARGET_MISSED,
        severity=Severity.INFO,
        priority=2,
        title="Walking target missed today",
        message=(
            f"You walked {walked} of {_minutes(target_minutes)} today. Tomorrow's target stays "
            "the same; a short walk early in the day makes it easier."
        ),
        key=f"target_missed:{day.isoformat()}",
        data=_verdict_data(day, target_minutes, walked_minutes),
    )


def _verdict_data(day: date, target_minutes: float, walked_minutes: float) -> dict[str, object]:
    return {
        "day": day.isoformat(),
        "walked_minutes": round(walked_minutes, 1),
        "target_minutes": target_minutes,
    }


def _a(number: int) -> str:
    """The indefinite article before a number read aloud ("an 8", "an 11", "a 7")."""
    spoken = str(number)
    return "an" if spoken.startswith("8") or spoken in ("11", "18") else "a"


def _minutes(value: float) -> str:
    number = int(value) if float(value).is_integer() else round(value, 1)
    return f"{number} minute{'s' if number != 1 else ''}"
