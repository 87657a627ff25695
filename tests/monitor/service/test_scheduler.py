"""The timetable and the watch moments, in local time, across a change of the clocks."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config import PainType, PersonConfig
from monitor.days import at_local
from monitor.service.scheduler import WATCH_INTERVAL, EventKind, day_events, next_watch

LONDON = ZoneInfo("Europe/London")
PERSON = PersonConfig("p1", PainType.ACUTE, date(2027, 3, 20))
SPRING = date(2027, 3, 28)  # 23 hours long: 01:00 GMT becomes 02:00 BST


def test_checkpoints_and_the_close_follow_local_time_on_the_day_the_clocks_change() -> None:
    events = day_events(PERSON, SPRING, LONDON)
    assert [e.kind for e in events] == [EventKind.CHECKPOINT] * 3 + [EventKind.DAY_CLOSE]
    assert [e.at.strftime("%H:%M") for e in events] == ["11:00", "15:00", "18:00", "20:00"]  # UTC
    before = day_events(PERSON, SPRING - timedelta(days=1), LONDON)
    assert [e.at.strftime("%H:%M") for e in before] == ["12:00", "16:00", "19:00", "21:00"]


def test_the_watch_runs_every_5_minutes_of_the_waking_window_only() -> None:
    day = date(2027, 3, 22)
    first = next_watch(PERSON, LONDON, at_local(day, time(2), LONDON))
    assert first == at_local(day, time(8), LONDON)
    assert next_watch(PERSON, LONDON, first) == first + WATCH_INTERVAL
    assert next_watch(PERSON, LONDON, at_local(day, time(8, 7), LONDON)) == at_local(
        day, time(8, 10), LONDON
    )
    last = next_watch(PERSON, LONDON, at_local(day, time(20, 54), LONDON))
    assert last == at_local(day, time(20, 55), LONDON)
    assert next_watch(PERSON, LONDON, last) == at_local(day + timedelta(days=1), time(8), LONDON)


def test_a_waking_day_on_the_clock_change_has_the_usual_watch_moments() -> None:
    moment = at_local(SPRING, time(0), LONDON)
    seen = []
    while (moment := next_watch(PERSON, LONDON, moment)) < at_local(SPRING, time(23), LONDON):
        seen.append(moment)
    assert len(seen) == 13 * 12
    assert seen[0].astimezone(LONDON).time() == time(8)
