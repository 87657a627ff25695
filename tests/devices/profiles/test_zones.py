"""Every IANA zone on a watch: Local Time Information and Current Time, at every transition.

Issue 13: tzdata models Europe/Dublin's winter (and Africa/Casablanca in Ramadan) as negative
DST, which the old code could not write (ValueError in link setup, for ever). The property runs
over every zone in `zoneinfo.available_timezones()` and each of its 2025-2027 transitions.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.profiles import current_time, infinitime

_ZONES = sorted(available_timezones())
_FIRST, _LAST = datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


@functools.cache
def transitions(name: str) -> tuple[datetime, ...]:
    """The instants in 2025-2027 at which the zone's UTC offset changes (found by halving)."""
    zone = ZoneInfo(name)
    found = []
    day = _FIRST
    before = _offset(day, zone)
    while day < _LAST:
        nxt = day + timedelta(days=1)
        after = _offset(nxt, zone)
        if after != before:
            low, high = day, nxt
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(middle, zone) == before else (low, middle)
            found.append(high.replace(microsecond=0))
        day, before = nxt, after
    return tuple(found)


def written(moment: datetime, zone: ZoneInfo) -> tuple[bytes, bytes]:
    """The Local Time Information and Current Time bytes the link writes to a watch."""
    info = current_time.local_time_info(moment, zone)
    return (
        current_time.build_local_time_information(info),
        current_time.build_current_time(moment, info),
    )


def assert_watch_shows_local_time(moment: datetime, zone: ZoneInfo) -> None:
    lti, cts = written(moment, zone)
    info = current_time.parse_local_time_information(lti)
    local = current_time.parse_current_time(cts)
    assert local == moment.astimezone(zone).replace(tzinfo=None), (zone, moment)
    assert current_time.utc_of(local, info) == moment


@pytest.mark.parametrize(
    ("zone", "moment", "lti"),
    [
        # Negative DST in tzdata: Irish winter is "DST -1 h" from IST (+1); written as +0.
        ("Europe/Dublin", datetime(2026, 1, 15, 12, tzinfo=UTC), bytes([0, 0])),
        ("Europe/Dublin", datetime(2026, 7, 15, 12, tzinfo=UTC), bytes([4, 0])),
        # Morocco is +1 all year except Ramadan (2026: mid-February to mid-March), +0.
        ("Africa/Casablanca", datetime(2026, 3, 1, 12, tzinfo=UTC), bytes([0, 0])),
        ("Africa/Casablanca", datetime(2026, 6, 1, 12, tzinfo=UTC), bytes([4, 0])),
        # A 30-minute DST: +10:30 standard, +0:30 DST (code 2).
        ("Australia/Lord_Howe", datetime(2026, 1, 15, 12, tzinfo=UTC), bytes([42, 2])),
        ("Australia/Lord_Howe", datetime(2026, 7, 15, 12, tzinfo=UTC), bytes([42, 0])),
        ("Asia/Kathmandu", datetime(2026, 7, 15, 12, tzinfo=UTC), bytes([23, 0])),
        ("Pacific/Kiritimati", datetime(2026, 7, 15, 12, tzinfo=UTC), bytes([56, 0])),
        ("Pacific/Tongatapu", datetime(2026, 7, 15, 12, tzinfo=UTC), bytes([52, 0])),
        ("Pacific/Chatham", datetime(2026, 1, 15, 12, tzinfo=UTC), bytes([51, 4])),
        ("Pacific/Pago_Pago", datetime(2026, 7, 15, 12, tzinfo=UTC), bytes([(-44) & 0xFF, 0])),
        # A 2-hour DST (code 8).
        ("Antarctica/Troll", datetime(2026, 7, 15, 12, tzinfo=UTC), bytes([0, 8])),
        # DST that changes at local midnight (24:00 -> 01:00 in September).
        ("America/Santiago", datetime(2026, 1, 15, 12, tzinfo=UTC), bytes([(-16) & 0xFF, 4])),
    ],
)
def test_zones_that_old_code_could_not_write(zone: str, moment: datetime, lti: bytes) -> None:
    assert written(moment, ZoneInfo(zone))[0] == lti
    assert_watch_shows_local_time(moment, ZoneInfo(zone))


def test_dublin_builds_the_watch_clock_the_link_writes() -> None:
    # Was: ValueError("DST offset -1 day, 23:00:00 has no Local Time Information code").
    dublin = ZoneInfo("Europe/Dublin")
    lti, cts = (
        w.build(None) for w in infinitime._set_clock(datetime(2026, 1, 5, tzinfo=UTC), dublin)
    )
    assert lti == bytes([0, 0])
    assert current_time.parse_current_time(cts) == datetime(2026, 1, 5, 0, 0, 1)  # noqa: DTZ001


@pytest.mark.parametrize("name", _ZONES)
def test_every_zone_round_trips_at_each_transition(name: str) -> None:
    zone = ZoneInfo(name)
    moments = [_FIRST, datetime(2026, 6, 30, 12, tzinfo=UTC)]
    for change in transitions(name):
        moments += [change + timedelta(seconds=s) for s in (-3600, -1, 0, 1, 3600)]
        # The link finds the change to rewrite the watch's zone then, to the second.
        found = current_time.next_zone_change(change - timedelta(hours=5), zone, timedelta(hours=6))
        assert found == change, (name, change)
    for moment in moments:
        assert_watch_shows_local_time(moment, zone)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(_ZONES),
    moment=st.datetimes(
        min_value=datetime(1800, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_any_zone_on_any_date_gives_the_watch_the_right_utc(name: str, moment: datetime) -> None:
    """Writable for every zone and date; exact local time unless the offset is local mean time.

    (Before 1867 Alaska kept Russian time, +15:13: beyond what the characteristic can carry.)
    """
    zone = ZoneInfo(name)
    moment = moment.replace(microsecond=0)
    lti, cts = written(moment, zone)
    info = current_time.parse_local_time_information(lti)
    local = current_time.parse_current_time(cts)
    assert current_time.utc_of(local, info) == moment
    true_local = moment.astimezone(zone).replace(tzinfo=None)
    offset = _offset(moment, zone)
    if timedelta(hours=-12) <= offset <= timedelta(hours=14):  # what the characteristic holds
        assert abs(local - true_local) <= timedelta(minutes=7, seconds=30)
    holds = timedelta(hours=-12) <= offset <= timedelta(hours=14)
    if holds and offset % timedelta(minutes=15) == timedelta(0):
        assert local == true_local
