"""Local days as UTC instants: DST days have 23 or 25 hours, and no minute is lost or doubled."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from monitor.days import at_local, day_bounds, local_date, minute_of, minute_start

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 11, 24), 24)],
)
def test_a_local_day_lasts_as_long_as_the_clocks_say(day: date, hours: int) -> None:
    start, end = day_bounds(day, LONDON)
    assert (end - start).total_seconds() == hours * 3600
    assert local_date(start, LONDON) == day
    assert local_date(end, LONDON) > day


def test_consecutive_days_tile_time_without_gaps_or_overlaps() -> None:
    day = date(2026, 3, 27)
    for _ in range(240):
        _, end = day_bounds(day, LONDON)
        next_start, _ = day_bounds(date.fromordinal(day.toordinal() + 1), LONDON)
        assert end == next_start
        day = date.fromordinal(day.toordinal() + 1)


def test_a_skipped_local_time_maps_to_where_the_clocks_jumped() -> None:
    # 01:30 does not exist in London on 2026-03-29 (01:00 GMT -> 02:00 BST).
    assert at_local(date(2026, 3, 29), time(1, 30), LONDON) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )


def test_a_repeated_local_time_maps_to_its_first_occurrence() -> None:
    # 01:30 happens twice in London on 2026-10-25: first in BST (00:30 UTC).
    assert at_local(date(2026, 10, 25), time(1, 30), LONDON) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_a_zone_that_skips_midnight_starts_its_day_at_the_jump() -> None:
    santiago = ZoneInfo("America/Santiago")
    start, _ = day_bounds(date(2026, 9, 6), santiago)
    assert start.astimezone(santiago).time() == time(1, 0)


def test_minutes_round_trip() -> None:
    moment = datetime(2026, 11, 24, 10, 7, 59, tzinfo=UTC)
    assert minute_start(minute_of(moment)) == datetime(2026, 11, 24, 10, 7, tzinfo=UTC)
