"""Cumulative counters into per-minute steps: ble-facts.md pitfalls, as tables and a property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.readings import CounterEpoch
from monitor.days import minute_of
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

DAY = CounterEpoch.LOCAL_DAY
POWER = CounterEpoch.POWER_ON
MIDNIGHT = datetime(2026, 11, 24, tzinfo=UTC)


def at(hhmm: str, day: int = 0) -> datetime:
    hours, minutes = hhmm.split(":")
    return MIDNIGHT + timedelta(days=day, hours=int(hours), minutes=int(minutes))


def credited(seen: Observation) -> int:
    return seen.span.steps if seen.span else 0


def test_first_reading_of_a_midnight_counter_credits_todays_steps_since_midnight() -> None:
    seen = observe(None, 3000, DAY, at("10:00"), MIDNIGHT)
    assert seen.outcome is Outcome.FIRST
    assert seen.span == StepSpan(MIDNIGHT, at("10:00"), 3000, inferred=True)


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
    st.tuples(st.just("walk"), st.integers(1, 600), st.floats(0.0, 1.0)),  # seconds, cadence share
    st.tuples(st.just("observe"), st.just(0), st.just(0.0)),
    st.tuples(st.just("vanish"), st.integers(1, 7200), st.just(0.0)),  # out of range, walking
    st.tuples(st.just("reboot"), st.just(0), st.just(0.0)),
    st.tuples(st.just("glitch"), st.just(0), st.just(0.0)),
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(_event, max_size=60), epoch=st.sampled_from([DAY, POWER]))
def test_credited_steps_equal_the_steps_the_device_counted(
    events: list[tuple[str, int, float]], epoch: CounterEpoch
) -> None:
    """A simulated device walks, is observed, vanishes, reboots and glitches, across midnights.

    Expected: every step the device counted and later reported is credited once; steps the
    device itself lost (counted after its last report, then wiped by a reset) are not.
    """
    now = at("20:00")
    counter = 0  # what the device holds
    reported = 0  # what the device had counted at its last report
    expected = 0
    credited_total = 0
    state: CounterState | None = None
    all_minutes: list[int] = []

    def midnight_of(moment: datetime) -> datetime:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def report() -> None:
        nonlocal state, credited_total, reported, expected
        seen = observe(state, counter, epoch, now, midnight_of(now))
        if state is not None or epoch is DAY:
            expected += counter - reported if counter >= reported and seen.state else 0
        state = seen.state
        if seen.span:
            credited_total += seen.span.steps
            shares = spread(seen.span)
            assert sum(s.steps for s in shares) == seen.span.steps
            assert all(s.steps >= 0 for s in shares)
            all_minutes.extend(s.minute for s in shares)
            assert max(s.minute for s in shares) <= minute_of(now)
        reported = counter

    def advance(seconds: float) -> None:
        nonlocal now, counter, reported
        before = now
        now += timedelta(seconds=seconds)
        if epoch is DAY and midnight_of(now) != midnight_of(before):
            counter = 0  # the watch resets at midnight; what it had not reported is lost
            reported = 0

    for kind, amount, share in events:
        if kind == "walk":
            counter += int(amount / 60 * 200 * share)  # up to 200 steps/minute
            advance(amount)
            report()
        elif kind == "observe":
            advance(1)
            report()
        elif kind == "vanish":
            state = link_changed(state, False, now)
            counter += int(amount / 60 * 100)
            advance(amount)
            state = link_changed(state, True, now)
            report()
        elif kind == "reboot":
            state = link_changed(state, False, now)
            counter, reported = 0, 0
            advance(5)
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
