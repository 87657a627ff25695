"""The activity and wearable rules, pure: each at its boundaries, with its key and its words."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import AlertSettings
from monitor.days import at_local, minute_of
from monitor.ingest.activity import DeviceStatus, PersonMinute
from monitor.recovery.alerts import EventType, Severity
from monitor.recovery.rules import (
    Checkpoint,
    battery_low,
    behind_schedule,
    day_verdict,
    device_offline,
    long_sitting,
    missed_days,
    missed_streak,
)

LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 11, 23)
SETTINGS = AlertSettings()


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return at_local(day, time(hour, minute), LONDON)


WAKING = (local(8), local(21))


def checkpoint(hour: int) -> Checkpoint:
    return Checkpoint(DAY, time(hour), local(hour), *WAKING)


# -- behind schedule, verdicts ----------------------------------------------------------------


def test_behind_at_a_checkpoint_says_what_is_left_and_what_a_walk_now_does() -> None:
    draft = behind_schedule(checkpoint(16), 13, 6.0)
    assert draft is not None
    assert draft.event_type is EventType.BEHIND_SCHEDULE
    assert draft.key == "behind_schedule:2026-11-23:16:00"
    assert "6 of 13 minutes walked" in draft.message
    assert "a 7-minute walk now keeps the plan on track" in draft.message


def test_day_one_on_track_at_noon_is_not_behind() -> None:
    # Day 1: 5 minutes; by 12:00 4/13 of it (1.5 minutes) is expected.
    assert behind_schedule(checkpoint(12), 5, 1.5) is None
    assert behind_schedule(checkpoint(12), 5, 0.0) is not None
    assert behind_schedule(checkpoint(19), 5, 5.0) is None  # done is done


def test_the_day_verdict_met_and_missed() -> None:
    met = day_verdict(DAY, 5, 5.0)
    assert (met.event_type, met.key) == (EventType.TARGET_MET, "target_met:2026-11-23")
    missed = day_verdict(DAY, 5, 4.9)
    assert (missed.event_type, missed.key) == (EventType.TARGET_MISSED, "target_missed:2026-11-23")
    assert "4 of 5 minutes" in missed.message


def test_the_verdict_in_maintenance_speaks_of_the_movement_goal() -> None:
    short = day_verdict(DAY, 30, 31.0, movement_minutes=18, movement_target=20)
    assert "the goal in this phase is 20 or more" in short.message
    assert short.data["movement_target_minutes"] == 20
    enough = day_verdict(DAY, 30, 31.0, movement_minutes=45, movement_target=20)
    assert "45 minutes (goal: 20+)" in enough.message
    assert "movement_minutes" not in day_verdict(DAY, 5, 6.0).data


# -- several missed days in a row ----------------------------------------------------------------


def _days(pattern: str) -> list[tuple[date, bool]]:
    return [(DAY + timedelta(days=i), c == "+") for i, c in enumerate(pattern)]


def test_the_missed_streak_is_the_run_at_the_end() -> None:
    assert missed_streak(_days("+--+---")) == [DAY + timedelta(days=d) for d in (4, 5, 6)]
    assert missed_streak(_days("---+")) == []


@pytest.mark.parametrize(
    ("pattern", "level", "escalate"),
    [
        ("+--", None, False),
        ("+---", 3, False),
        ("+----", 3, False),
        ("+-----", 5, True),
        ("+-----------", 5, True),
        ("+------------", 12, True),  # escalated again a week on
    ],
)
def test_missed_days_at_three_escalated_at_five(
    pattern: str, level: int | None, escalate: bool
) -> None:
    draft = missed_days(missed_streak(_days(pattern)), SETTINGS, escalation_configured=True)
    if level is None:
        assert draft is None
        return
    assert draft is not None
    assert draft.key == f"missed_days:2026-11-24:{level}"
    assert draft.data["escalate"] is escalate
    assert draft.severity is Severity.WARNING
    assert ("carer or clinician has been told" in draft.message) is escalate


def test_missed_days_thresholds_come_from_the_config() -> None:
    settings = AlertSettings(missed_days=2, missed_days_escalate=2)
    draft = missed_days(missed_streak(_days("+--")), settings)
    assert draft is not None
    assert draft.data["escalate"] is True
    assert "has been told" not in draft.message  # no escalation topic configured


# -- long sitting --------------------------------------------------------------------------------


def _moved(*moments: datetime) -> list[PersonMinute]:
    return [PersonMinute(minute_of(m), 30, 30, 0.0, True) for m in moments]


def test_long_sitting_after_exactly_two_hours_still() -> None:
    minutes = _moved(local(9, 59))
    assert long_sitting(minutes, local(11, 59), WAKING, local(7), 120, LONDON) is None
    draft = long_sitting(minutes, local(12), WAKING, local(7), 120, LONDON)
    assert draft is not None
    assert draft.key == "long_sitting:2026-11-23:10:00"
    assert draft.data["still_minutes"] == 120
    assert "still since 10:00, 2 hours" in draft.message


def test_long_sitting_counts_only_the_waking_window_and_a_worn_wearable() -> None:
    early = _moved(local(6, 30))
    draft = long_sitting(early, local(10), WAKING, local(6), 120, LONDON)
    assert draft is not None
    assert draft.key.endswith(":08:00")
    assert long_sitting(early, local(21, 30), WAKING, local(6), 120, LONDON) is None
    assert long_sitting(early, local(10), WAKING, None, 120, LONDON) is None  # none connected
    # Reconnected at 09:00: stillness is only vouched for from then.
    assert long_sitting(early, local(10, 30), WAKING, local(9), 120, LONDON) is None


def test_no_movement_at_all_today_is_not_long_sitting() -> None:
    assert long_sitting([], local(14), WAKING, local(7), 120, LONDON) is None


# -- wearables ------------------------------------------------------------------------------------


def test_a_wearable_offline_for_longer_than_the_limit_in_the_waking_window() -> None:
    gone = DeviceStatus(connected=False, changed_at=local(10))
    args = (WAKING, local(7), 60, LONDON)
    assert device_offline("watch", gone, local(11), *args) is None  # exactly 60: not longer
    draft = device_offline("watch", gone, local(11, 1), *args)
    assert draft is not None
    assert draft.key == "device_offline:watch:2026-11-23"
    assert "'watch' has not been connected for 1 h 1 min" in draft.message
    assert device_offline("watch", DeviceStatus(connected=True), local(11, 1), *args) is None


def test_offline_overnight_counts_from_the_waking_start() -> None:
    night = DeviceStatus(connected=False, changed_at=local(23, 0, DAY - timedelta(days=1)))
    assert device_offline("watch", night, local(9), WAKING, local(7), 60, LONDON) is None
    draft = device_offline("watch", night, local(9, 5), WAKING, local(7), 60, LONDON)
    assert draft is not None
    assert device_offline("watch", night, local(22), WAKING, local(7), 60, LONDON) is None


def test_a_wearable_never_seen_counts_from_when_the_service_started() -> None:
    never = DeviceStatus()
    assert device_offline("clip", never, local(10), WAKING, local(9, 30), 60, LONDON) is None
    draft = device_offline(
        "clip", never, local(10, 35), WAKING, local(9, 30), 60, LONDON, others_connected=True
    )
    assert draft is not None
    assert "other wearable is still counting" in draft.message


def test_battery_low_at_or_below_the_threshold_once_a_day() -> None:
    def status(battery: int | None, connected: bool = True) -> DeviceStatus:
        return DeviceStatus(connected=connected, battery=battery)

    assert battery_low("watch", status(16), local(10), 15, LONDON) is None
    assert battery_low("watch", status(None), local(10), 15, LONDON) is None
    assert battery_low("watch", status(10, connected=False), local(10), 15, LONDON) is None
    draft = battery_low("watch", status(15), local(10), 15, LONDON)
    assert draft is not None
    assert draft.key == "battery_low:watch:2026-11-23"
    assert draft.event_type is EventType.BATTERY_LOW
    assert "15%" in draft.message
