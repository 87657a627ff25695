"""Cumulative counters into per-minute steps: ble-facts.md pitfalls, as tables and a property."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from devices.readings import CounterEpoch
from monitor.days import day_start, local_date, minute_of, minute_start
from monitor.ingest.counters import (
    CounterState,
    Observation,
    Outcome,
    StepSpan,
    link_changed,
    max_plausible_steps,
    observe,
    spread,
)
from tests.devices.profiles.test_zones import transitions

DAY = CounterEpoch.LOCAL_DAY
POWER = CounterEpoch.POWER_ON
MIDNIGHT = datetime(2026, 11, 24, tzinfo=UTC)


def at(hhmm: str, day: int = 0) -> datetime:
    hours, minutes = hhmm.split(":")
    return MIDNIGHT + timedelta(days=day, hours=int(hours), minutes=int(minutes))


def credited(seen: Observation) -> int:
    return seen.span.steps if seen.span else 0


def test_first_reading_of_a_midnight_counter_is_credited_once_it_goes_on_counting() -> None:
    # Changed with issue 13: the first value may be yesterday's count not yet reset, so it is
    # held until the counter goes on counting from it the same day (then both are credited).
    seen = observe(None, 3000, DAY, at("10:00"), MIDNIGHT)
    assert seen.outcome is Outcome.FIRST
    assert seen.spans == ()
    again = observe(seen.state, 3000, DAY, at("10:02"), MIDNIGHT)
    assert again.spans == ()
    counting = observe(again.state, 3020, DAY, at("10:05"), MIDNIGHT)
    assert counting.outcome is Outcome.COUNTED
    assert counting.earlier == StepSpan(MIDNIGHT, at("10:02"), 3000, inferred=True)
    assert counting.span is not None
    assert counting.span.steps == 20
    assert [s.steps for s in counting.spans] == [3000, 20]


def test_first_reading_of_a_power_on_counter_is_only_a_baseline() -> None:
    seen = observe(None, 123_456, POWER, at("10:00"), MIDNIGHT)
    assert seen.outcome is Outcome.FIRST
    assert seen.span is None
    assert seen.state == CounterState(123_456, at("10:00"))


def test_a_reconnect_that_repeats_the_last_value_counts_nothing() -> None:
    state = CounterState(500, at("10:00"))
    state = link_changed(state, False, at("10:05"))
    state = link_changed(state, True, at("10:06"))
    seen = observe(state, 500, DAY, at("10:06"), MIDNIGHT)
    assert seen.outcome is Outcome.REPEAT
    assert seen.span is None
    assert seen.state == CounterState(500, at("10:06"))


def test_live_steps_are_placed_just_before_the_notification() -> None:
    seen = observe(CounterState(500, at("08:00")), 520, DAY, at("10:00"), MIDNIGHT)
    assert seen.outcome is Outcome.COUNTED
    assert seen.span == StepSpan(at("10:00") - timedelta(seconds=12), at("10:00"), 20, False)


def test_a_reboot_mid_day_counts_the_new_value_over_the_time_the_link_was_down() -> None:
    state = link_changed(CounterState(4000, at("11:00")), False, at("11:10"))
    state = link_changed(state, True, at("11:12"))
    seen = observe(state, 35, DAY, at("11:12"), MIDNIGHT)
    assert seen.outcome is Outcome.RESET
    assert seen.span == StepSpan(at("11:10"), at("11:12"), 35, inferred=True)


def test_the_midnight_reset_seen_live_counts_nothing_and_the_day_goes_on() -> None:
    state = CounterState(9000, at("23:58"))
    midnight = observe(state, 0, DAY, at("00:00", day=1), at("00:00", day=1))
    assert midnight.outcome is Outcome.RESET
    assert midnight.span is None
    after = observe(midnight.state, 40, DAY, at("00:10", day=1), at("00:00", day=1))
    assert credited(after) == 40
    assert after.span is not None
    assert not after.span.inferred


def test_a_gap_across_midnight_credits_only_what_the_counter_holds_since_midnight() -> None:
    # Down at 22:00 with 8000; back at 09:00 reading 9000: the watch reset at midnight, so
    # 9000 were walked today, not 1000.
    state = link_changed(CounterState(8000, at("22:00")), False, at("22:00"))
    state = link_changed(state, True, at("09:00", day=1))
    seen = observe(state, 9000, DAY, at("09:00", day=1), at("00:00", day=1))
    assert seen.outcome is Outcome.RESET
    assert seen.span == StepSpan(at("00:00", day=1), at("09:00", day=1), 9000, inferred=True)


def test_a_power_on_counter_does_not_reset_at_midnight() -> None:
    state = CounterState(8000, at("22:00"))
    seen = observe(state, 8100, POWER, at("00:30", day=1), at("00:00", day=1))
    assert seen.outcome is Outcome.COUNTED
    assert credited(seen) == 100


def test_steps_walked_out_of_range_are_spread_over_the_gap_with_inferred_walking() -> None:
    state = link_changed(CounterState(1000, at("10:00")), False, at("10:00"))
    state = link_changed(state, True, at("10:30"))
    seen = observe(state, 3000, DAY, at("10:30"), MIDNIGHT)
    assert seen.span == StepSpan(at("10:00"), at("10:30"), 2000, inferred=True)
    minutes = spread(seen.span)
    first, last = minute_of(at("10:00")), minute_of(at("10:30"))
    assert [m.minute for m in minutes] == list(range(first, last))
    assert sum(m.steps for m in minutes) == 2000
    # 2000 steps at a comfortable 100 steps/minute is 20 of the 30 minutes spent walking.
    assert sum(m.inferred_walking_s for m in minutes) == pytest.approx(20 * 60)


def test_an_implausible_jump_is_rejected_and_a_following_normal_value_counts() -> None:
    state = CounterState(1000, at("10:00"))
    glitch = observe(state, 4_000_000_000, DAY, at("10:01"), MIDNIGHT)
    assert glitch.outcome is Outcome.REJECTED
    assert glitch.span is None
    normal = observe(glitch.state, 1050, DAY, at("10:02"), MIDNIGHT)
    assert normal.outcome is Outcome.COUNTED
    assert credited(normal) == 50
    assert normal.state == CounterState(1050, at("10:02"))


def test_a_confirmed_jump_becomes_the_baseline_without_counting_the_jump() -> None:
    state = CounterState(1000, at("10:00"))
    first = observe(state, 50_000, POWER, at("10:01"), MIDNIGHT)
    second = observe(first.state, 50_010, POWER, at("10:02"), MIDNIGHT)
    third = observe(second.state, 50_030, POWER, at("10:03"), MIDNIGHT)
    assert [first.outcome, second.outcome, third.outcome] == [
        Outcome.REJECTED,
        Outcome.REJECTED,
        Outcome.REBASELINED,
    ]
    assert credited(third) == 30
    after = observe(third.state, 50_040, POWER, at("10:04"), MIDNIGHT)
    assert credited(after) == 10


def test_state_survives_a_round_trip_through_json() -> None:
    down = link_changed(CounterState(10, at("10:00")), False, at("10:01"))
    suspect = observe(down, 10**9, POWER, at("10:02"), MIDNIGHT).state
    assert suspect is not None
    assert suspect.suspect_value == 10**9
    assert CounterState.from_json(suspect.to_json()) == suspect


@pytest.mark.parametrize(
    ("start", "end", "steps"),
    [
        (at("10:00"), at("10:00"), 7),
        (at("10:00"), at("10:01"), 61),
        (at("10:00") + timedelta(seconds=59), at("10:01") + timedelta(seconds=1), 2),
        (at("09:13") + timedelta(seconds=7), at("17:45") + timedelta(seconds=31), 12_345),
    ],
)
def test_spread_keeps_every_step_inside_the_span(
    start: datetime, end: datetime, steps: int
) -> None:
    minutes = spread(StepSpan(start, end, steps, inferred=True))
    assert sum(m.steps for m in minutes) == steps
    assert all(minute_of(start) <= m.minute <= minute_of(end) for m in minutes)
    assert all(m.steps >= 0 for m in minutes)


# -- the property: whatever happens, the credited steps are exactly what the device counted --

_event = st.one_of(
    st.tuples(st.just("walk"), st.integers(1, 3000), st.floats(0.0, 1.0)),  # seconds, cadence
    st.tuples(st.just("observe"), st.just(0), st.just(0.0)),
    st.tuples(st.just("vanish"), st.integers(1, 7200), st.just(0.0)),  # out of range, walking
    st.tuples(st.just("reboot"), st.just(0), st.just(0.0)),
    st.tuples(st.just("glitch"), st.just(0), st.just(0.0)),
    st.tuples(st.just("sleep"), st.integers(600, 36_000), st.just(0.0)),  # still, link up
)


@settings(max_examples=300, deadline=None)
@example(events=[("walk", 1200, 0.1), ("walk", 3000, 0.1)], epoch=DAY, late_s=3600)
@given(
    events=st.lists(_event, max_size=60),
    epoch=st.sampled_from([DAY, POWER]),
    late_s=st.sampled_from([0, 1, 600, 3600, 4 * 3600]),
)
def test_credited_steps_equal_the_steps_the_device_counted(
    events: list[tuple[str, int, float]], epoch: CounterEpoch, late_s: int
) -> None:
    """A simulated device walks, is observed, vanishes, reboots and glitches, across midnights.

    A daily counter resets `late_s` after our midnight (a watch asleep or with its clock
    behind): until then it goes on from yesterday's count, and while the link is up it says so
    (repeats) and notifies its reset as it happens.

    Expected: every step the device counted and later reported is credited once; steps the
    device itself lost (counted after its last report, then wiped by a reset) are not; a first
    value is credited only if the counter goes on counting from it. Not generated: a count that
    rose while out of reach across our midnight but before the watch's (indistinguishable from
    a reset at midnight, see `_continues`): nothing is walked out of reach then.
    """
    now = at("23:30")  # midnights are where counters go wrong
    counter = 0  # what the device holds
    reported = 0  # what the device had counted at its last report
    expected = 0
    credited_total = 0
    state: CounterState | None = None
    pending_first: int | None = None  # a first value not yet credited
    reset_since_report = False
    late = timedelta(seconds=late_s if epoch is DAY else 0)

    def midnight_of(moment: datetime) -> datetime:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def watch_day(moment: datetime) -> datetime:
        return midnight_of(moment - late)

    def report() -> None:
        nonlocal state, credited_total, reported, expected, pending_first, reset_since_report
        first = state is None
        seen = observe(state, counter, epoch, now, midnight_of(now))
        if first:
            plausible = counter <= max_plausible_steps((now - midnight_of(now)).total_seconds())
            pending_first = counter if epoch is DAY and counter > 0 and plausible else None
        else:
            if reset_since_report:
                pending_first = None
                expected += counter
            elif counter > reported:
                expected += counter - reported + (pending_first or 0)
                pending_first = None
        assert seen.state is not None
        state = seen.state
        for span in seen.spans:
            credited_total += span.steps
            shares = spread(span)
            assert sum(s.steps for s in shares) == span.steps
            assert all(s.steps >= 0 for s in shares)
            assert max(s.minute for s in shares) <= minute_of(now)
        reported = counter
        reset_since_report = False

    def advance(seconds: float, *, live: bool) -> None:
        nonlocal now, counter, reported, reset_since_report
        end = now + timedelta(seconds=seconds)
        while epoch is DAY and watch_day(end) != watch_day(now):
            # The watch's midnight: it resets, and a live watch notifies the 0 at once.
            now = watch_day(now) + timedelta(days=1) + late
            counter, reported = 0, 0  # what it had not reported is lost
            reset_since_report = True
            if live and state is not None:
                report()
        now = end

    def out_of_reach_walking(seconds: int) -> int:
        end = now + timedelta(seconds=seconds)
        crosses_ours = midnight_of(end) != midnight_of(now)
        still_yesterday = watch_day(end) != midnight_of(end)
        return 0 if crosses_ours and still_yesterday else int(seconds / 60 * 100)

    for kind, amount, share in events:
        if kind == "walk":
            counter += int(amount / 60 * 200 * share)  # up to 200 steps/minute
            advance(amount, live=True)
            report()
        elif kind == "observe":
            advance(1, live=True)
            report()
        elif kind == "sleep":
            # Still, the link up: the watchdog reads the counter every 5 minutes.
            for _ in range(amount // 300):
                advance(300, live=True)
                report()
        elif kind == "vanish":
            state = link_changed(state, False, now)
            counter += out_of_reach_walking(amount)
            advance(amount, live=False)
            state = link_changed(state, True, now)
            report()
        elif kind == "reboot":
            state = link_changed(state, False, now)
            counter, reported, reset_since_report = 0, 0, True
            advance(5, live=False)
            state = link_changed(state, True, now)
            report()
        elif kind == "glitch" and state is not None:
            seen = observe(state, state.value + 10**9, epoch, now, midnight_of(now))
            assert seen.outcome is Outcome.REJECTED
            assert seen.span is None
            state = seen.state

    assert credited_total == expected
    assert max_plausible_steps(0) > 0


def test_a_watch_whose_midnight_comes_just_before_ours_is_not_counted_twice() -> None:
    # The watch (set 2 s ahead) resets at our 23:59:58, counts 5 steps before our midnight,
    # then 3 more after it: 8 in all, 5 of them on the old day.
    state = CounterState(9000, at("23:50"))
    reset = observe(state, 0, DAY, at("23:59") + timedelta(seconds=58), MIDNIGHT)
    assert reset.outcome is Outcome.RESET
    before = observe(reset.state, 5, DAY, at("23:59") + timedelta(seconds=59), MIDNIGHT)
    after = observe(
        before.state, 8, DAY, at("00:00", day=1) + timedelta(seconds=5), at("00:00", day=1)
    )
    assert credited(before) + credited(after) == 8
    assert credited(after) == 3


def test_a_reset_long_before_midnight_does_not_stand_for_the_next_day() -> None:
    reset = observe(CounterState(9000, at("18:00")), 10, DAY, at("18:05"), MIDNIGHT)  # a reboot
    morning = observe(reset.state, 400, DAY, at("08:00", day=1), at("00:00", day=1))
    assert morning.outcome is Outcome.RESET
    assert credited(morning) == 400


# -- issue 13: a daily counter that has not reset yet when our midnight passes ---------------


def _day_totals(readings: list[tuple[str, int, str]], state: CounterState | None) -> dict[int, int]:
    """Steps credited per UTC day to a watch read at (hh:mm, value, link) moments.

    `link` is "up" (the link stayed up since the last reading), "back" (the link was down since
    just after the last reading) or "first".
    """
    totals: dict[int, int] = {}
    last = MIDNIGHT
    for moment, value, link in readings:
        day, hhmm = int(moment[0]), moment[2:]
        now = at(hhmm, day=day)
        if link == "back" and state is not None:
            state = link_changed(state, False, last + timedelta(minutes=1))
            state = link_changed(state, True, now)
        seen = observe(state, value, DAY, now, at("00:00", day=day))
        assert seen.outcome is not Outcome.REJECTED, (moment, value)
        state = seen.state
        for span in seen.spans:
            for share in spread(span):
                index = (share.minute * 60 - int(MIDNIGHT.timestamp())) // 86_400
                totals[index] = totals.get(index, 0) + share.steps
        last = now
    return totals


def test_yesterdays_count_seen_after_midnight_is_not_credited_to_today() -> None:
    # InfiniTime: 13,660 at 23:30, link down overnight, still 13,660 at 06:30 (not reset yet),
    # 0 at 09:30 (the reset), 1,150 at 16:00. Today walked 1,150; the old code gave 14,810.
    totals = _day_totals(
        [
            ("0 23:30", 13_660, "first"),
            ("1 06:30", 13_660, "back"),
            ("1 09:30", 0, "back"),
            ("1 16:00", 1_150, "up"),
        ],
        CounterState(13_000, at("22:00")),
    )
    assert totals.get(1, 0) == 1_150
    assert totals[0] == 660


def test_yesterdays_count_as_the_very_first_reading_is_not_credited_to_today() -> None:
    totals = _day_totals(
        [("1 06:30", 13_660, "first"), ("1 09:30", 0, "back"), ("1 16:00", 1_150, "up")], None
    )
    assert totals == {1: 1_150}


def test_a_watch_connected_all_night_repeating_yesterdays_count_starts_the_day_at_its_reset() -> (
    None
):
    # Repeated every 5 minutes (watchdog reads) from 23:30 to 09:25: the plausibility limit
    # alone would have credited 13,660 to today from about 00:55.
    readings = [("0 23:30", 13_660, "up")]
    moment = at("23:35")
    while moment < at("09:30", day=1):
        day = (moment - MIDNIGHT).days
        readings.append((f"{day} {moment:%H:%M}", 13_660, "up"))
        moment += timedelta(minutes=5)
    readings += [("1 09:30", 0, "up"), ("1 16:00", 1_150, "up")]
    totals = _day_totals(readings, CounterState(13_000, at("22:00")))
    assert totals.get(1, 0) == 1_150
    assert totals[0] == 660


def test_a_watch_with_its_clock_behind_counts_past_our_midnight_then_resets() -> None:
    # The watch's midnight is ours + 2 h: steps walked by 00:45 go on from yesterday's count
    # (live link), then the watch resets at 02:00. Each side gets what was walked on it.
    totals = _day_totals(
        [
            ("0 23:50", 9_000, "up"),
            ("1 00:45", 9_300, "up"),
            ("1 02:00", 0, "up"),
            ("1 08:00", 500, "up"),
        ],
        CounterState(8_900, at("23:00")),
    )
    assert totals[1] == 300 + 500
    assert totals[0] == 100


def test_a_higher_count_after_a_night_out_of_reach_that_nobody_could_walk_is_a_continuation() -> (
    None
):
    # Back at 00:20 with 13,800: 13,800 steps in the 20 minutes since midnight is impossible,
    # so the watch has not reset yet and 140 were walked since 23:30.
    totals = _day_totals(
        [("0 23:30", 13_660, "up"), ("1 00:20", 13_800, "back"), ("1 07:00", 40, "back")],
        CounterState(13_600, at("23:00")),
    )
    assert sum(totals.values()) == 60 + 140 + 40
    assert totals[1] >= 40


def test_stale_state_survives_a_round_trip_through_json() -> None:
    stale = observe(CounterState(500, at("23:00")), 500, DAY, at("01:00", day=1), at("00:00", 1))
    assert stale.state is not None
    assert stale.state.stale
    first = observe(None, 20, DAY, at("10:00"), MIDNIGHT).state
    assert first is not None
    assert first.unconfirmed_since == MIDNIGHT
    for state in (stale.state, first):
        assert CounterState.from_json(state.to_json()) == state


# -- issue 13: day totals around every zone's transitions -------------------------------------


def _unique_transitions() -> list[tuple[str, datetime]]:
    """One zone per distinct (instant, offset before, offset after) in 2025-2027."""
    seen: dict[tuple[datetime, timedelta, timedelta], str] = {}
    for name in sorted(available_timezones()):
        zone = ZoneInfo(name)
        for change in transitions(name):
            before = (change - timedelta(seconds=1)).astimezone(zone).utcoffset()
            after = change.astimezone(zone).utcoffset()
            assert before is not None
            assert after is not None
            seen.setdefault((change, before, after), name)
    return sorted((name, change) for (change, _b, _a), name in seen.items())


@pytest.mark.parametrize(("name", "change"), _unique_transitions())
def test_day_totals_around_a_zone_transition_neither_lose_nor_double_steps(
    name: str, change: datetime
) -> None:
    """A watch resetting at each local midnight, 20 steps every 10 minutes, for three days."""
    zone = ZoneInfo(name)
    first_day = local_date(change, zone) - timedelta(days=1)
    start, end = day_start(first_day, zone), day_start(first_day + timedelta(days=3), zone)
    walked: dict[date, int] = {}
    credited: dict[date, int] = {}
    state: CounterState | None = None
    counter, counting_day = 0, first_day
    moment = start + timedelta(seconds=30)
    while moment < end:
        step_at = moment - timedelta(seconds=10)
        today = local_date(step_at, zone)
        if today != counting_day:
            counter, counting_day = 0, today  # the watch's midnight (its zone kept current)
        counter += 20
        walked[today] = walked.get(today, 0) + 20
        seen = observe(state, counter, DAY, moment, day_start(local_date(moment, zone), zone))
        state = seen.state
        for span in seen.spans:
            for share in spread(span):
                day = local_date(minute_start(share.minute), zone)
                credited[day] = credited.get(day, 0) + share.steps
        moment += timedelta(minutes=10)
    assert credited == walked


# -- cases from public bug reports (see docs/ble.md) -------------------------------------------


def test_infinitime_1270_a_notification_after_midnight_sends_yesterdays_count_first() -> None:
    # InfiniTimeOrg/InfiniTime#1270 (case 1): 1000 steps synced before midnight; in the morning
    # an incoming notification makes the watch send 1000 again, then it resets to 0.
    totals = _day_totals(
        [
            ("0 22:00", 1_000, "up"),
            ("1 07:00", 1_000, "up"),
            ("1 07:01", 0, "up"),
            ("1 09:00", 40, "up"),
        ],
        CounterState(900, at("21:00")),
    )
    assert totals == {0: 100, 1: 40}


def test_infinitime_1270_event_log_stale_morning_then_a_reboot_in_the_evening() -> None:
    # InfiniTimeOrg/InfiniTime#1270 (an event log every 30 min): 13,660 from 06:29 to 08:59,
    # 0 from 09:29, 1,150 from 16:00 to 17:30, then 271 at 18:00 (a reboot in between).
    readings = [("0 23:29", 13_660, "up")]
    readings += [(f"1 {h:02d}:29", 13_660, "back") for h in range(6, 9)]
    readings += [(f"1 {h:02d}:29", 0, "up") for h in range(9, 16)]
    readings += [(f"1 {t}", 1_150, "up") for t in ("16:00", "16:30", "17:00", "17:30")]
    readings += [("1 18:00", 271, "back")]
    totals = _day_totals(readings, CounterState(13_000, at("22:00")))
    assert totals[1] == 1_150 + 271


def test_infinitime_787_a_watch_asleep_after_midnight_counts_nothing_until_woken() -> None:
    # InfiniTimeOrg/InfiniTime#787 and #2274: with tap-to-wake only, the counter does not start
    # the new day until the watch is woken; it showed yesterday's count, then 0 at the wake.
    totals = _day_totals(
        [
            ("0 22:00", 5_000, "up"),
            ("1 07:30", 5_000, "up"),
            ("1 07:45", 0, "up"),
            ("1 08:00", 200, "up"),
        ],
        CounterState(4_000, at("20:00")),
    )
    assert totals == {0: 1_000, 1: 200}


def test_infinitime_928_a_corrupted_count_does_not_become_steps() -> None:
    # InfiniTimeOrg/InfiniTime#928: 536 million steps by midday (2**29 and a few), once.
    state = CounterState(5_000, at("11:50"))
    glitch = observe(state, 2**29 + 5_010, DAY, at("11:51"), MIDNIGHT)
    assert glitch.outcome is Outcome.REJECTED
    after = observe(glitch.state, 5_100, DAY, at("11:55"), MIDNIGHT)
    assert credited(after) == 100


def test_infinilink_154_a_crash_at_noon_keeps_the_mornings_steps() -> None:
    # InfiniTimeOrg/InfiniLink#154: 10,000 steps before noon, the watch crashed and rebooted
    # (the count went to 0), then counted on: the day keeps the morning's 10,000.
    totals = _day_totals(
        [
            ("0 11:50", 10_000, "first"),
            ("0 11:55", 10_050, "up"),
            ("0 12:02", 0, "back"),
            ("0 13:00", 800, "up"),
        ],
        None,
    )
    assert totals == {0: 10_050 + 800}
