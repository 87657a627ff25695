"""From per-second verdicts to bouts: confirmation, bridging, edges, and what is final when."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.gait.bouts import (
    EDGE_FULL_SHARE,
    EDGE_REACH_S,
    EDGE_SHARE,
    MAX_BRIDGE_S,
    MAX_HOLE_S,
    MAX_TURN_S,
    MICRO_BOUT_S,
    MIN_BOUT_S,
    TURN_SHARE,
    BoutTracker,
    Walked,
)
from monitor.gait.codec import StateReader, StateWriter
from monitor.gait.resample import GRID_HZ

NAN = math.nan
FIRST = 3  # the segment's first judged second; the segment itself starts at bin 0


@dataclass
class Outcome:
    intervals: list[tuple[int, int, float]] = field(default_factory=list)
    bouts: list[tuple[float, float, int]] = field(default_factory=list)

    def add(self, walked: Walked) -> None:
        self.intervals += list(zip(walked.starts, walked.ends, walked.periods, strict=True))
        self.bouts += [(a / GRID_HZ, b / GRID_HZ, n) for a, b, n in walked.bouts]

    @property
    def walking_s(self) -> float:
        return sum(b - a for a, b, _ in self.intervals) / GRID_HZ


def drive(
    periods: list[float],
    energies: list[float] | None = None,
    *,
    lead: float = 0.0,
    tail: float = 0.0,
) -> Outcome:
    """One segment: lead-in of FIRST seconds, one verdict per second, two seconds of tail."""
    energies = energies or [0.0 if math.isnan(p) else 1.0 for p in periods]
    tracker = BoutTracker()
    tracker.start_segment(0, FIRST)
    lead_pieces = [(GRID_HZ * s, GRID_HZ * (s + 1), lead) for s in range(FIRST)]
    tracker.push(periods, energies, lead_pieces)
    end = GRID_HZ * (FIRST + len(periods) + 2)
    after = GRID_HZ * (FIRST + len(periods))
    tracker.end_segment(end, [(after, after + GRID_HZ, tail), (after + GRID_HZ, end, tail)])
    tracker.finish()
    outcome = Outcome()
    outcome.add(tracker.take())
    return outcome


def test_a_run_shorter_than_the_minimum_is_not_a_bout() -> None:
    # Amid motion (a car's bounce, fidgeting) a short run of rhythm is chance.
    periods = [NAN] * 3 + [0.5] * (MIN_BOUT_S - 1) + [NAN] * 5
    outcome = drive(periods, [1.0] * len(periods))
    assert outcome.bouts == []
    assert outcome.intervals == []


def test_a_whole_micro_walk_from_still_to_still_is_a_bout() -> None:
    # Issue 17: four or five steps from standing to standing (kitchen to door) count.
    periods = [NAN] * 3 + [0.5] * MICRO_BOUT_S + [NAN] * 5
    energies = [0.0] * 3 + [1.0] * MICRO_BOUT_S + [0.0] * 5
    outcome = drive(periods, energies)
    start = FIRST + 3
    assert outcome.bouts == [(start, start + MICRO_BOUT_S, round(MICRO_BOUT_S / 0.5))]
    # Not when it is not still before it, nor when it is one second shorter.
    busy_before = drive(periods, [0.0, 0.0, 1.0, *energies[3:]])
    assert busy_before.bouts == []
    shorter = drive([NAN] * 4 + [0.5] * (MICRO_BOUT_S - 1) + [NAN] * 5)
    assert shorter.bouts == []


def test_a_run_of_the_minimum_length_is_a_bout_with_its_steps() -> None:
    outcome = drive([NAN] * 3 + [0.5] * MIN_BOUT_S + [NAN] * 5)
    start = FIRST + 3
    assert outcome.bouts == [(start, start + MIN_BOUT_S, round(MIN_BOUT_S / 0.5))]
    assert outcome.walking_s == MIN_BOUT_S


def test_a_short_break_in_the_rhythm_is_bridged() -> None:
    outcome = drive([0.5] * 6 + [NAN] * MAX_BRIDGE_S + [0.6] * 6, lead=0.0)
    assert len(outcome.bouts) == 1
    start, end, steps = outcome.bouts[0]
    assert end - start == 6 + MAX_BRIDGE_S + 6
    # The bridged seconds ease from one cadence to the other.
    bridged = [p for a, _, p in outcome.intervals if FIRST + 6 <= a / GRID_HZ < FIRST + 8]
    assert all(0.5 < p < 0.6 for p in bridged)
    assert steps == pytest.approx(6 / 0.5 + 6 / 0.6 + sum(1 / p for p in bridged), abs=1)


def test_a_longer_break_ends_the_bout() -> None:
    outcome = drive([0.5] * 6 + [NAN] * (MAX_BRIDGE_S + 1) + [0.5] * 6)
    assert len(outcome.bouts) == 2
    assert outcome.walking_s == 12


def test_a_second_read_at_the_wrong_octave_does_not_break_the_bout() -> None:
    outcome = drive([0.5] * 6 + [1.0] + [0.5] * 6)
    assert [(a, b) for a, b, _ in outcome.bouts] == [(FIRST, FIRST + 13)]
    assert outcome.bouts[0][2] == 26


def test_edges_reach_over_seconds_that_still_carry_walking_energy() -> None:
    full = EDGE_FULL_SHARE
    periods = [NAN] * 4 + [0.5] * 6 + [NAN] * 4
    energies = [0.0, 0.0, EDGE_SHARE / 2, full] + [1.0] * 6 + [full, full, 0.0, full]
    outcome = drive(periods, energies)
    # One second before the run (the one before it is too quiet), two after it (then silence).
    assert [(a, b) for a, b, _ in outcome.bouts] == [(FIRST + 3, FIRST + 12)]


def test_an_edge_second_walked_in_part_adds_that_part_and_ends_the_reach() -> None:
    # The short walks: whole seconds would misplace each edge by half a step's time.
    full = EDGE_FULL_SHARE
    periods = [NAN] * 4 + [0.5] * 6 + [NAN] * 4
    energies = [0.0, 0.0, full, full / 2] + [1.0] * 6 + [full / 4, full, full, 0.0]
    outcome = drive(periods, energies)
    assert [(a, b) for a, b, _ in outcome.bouts] == [(FIRST + 3.5, FIRST + 10.25)]
    assert outcome.walking_s == 6.75


@pytest.mark.parametrize(("gap_energy", "bouts"), [(TURN_SHARE * 2, 1), (TURN_SHARE / 2, 2)])
def test_a_turn_is_bridged_but_a_stop_is_not(gap_energy: float, bouts: int) -> None:
    gap = MAX_TURN_S
    periods = [0.5] * 6 + [NAN] * gap + [0.55] * 6
    energies = [1.0] * 6 + [gap_energy] * gap + [1.0] * 6
    outcome = drive(periods, energies)
    assert len(outcome.bouts) == bouts
    if bouts == 1:
        assert outcome.walking_s == 12 + gap
        assert outcome.bouts[0][2] == pytest.approx(6 / 0.5 + 6 / 0.55 + gap / 0.525, abs=1)


def test_a_turn_longer_than_a_window_ends_the_bout() -> None:
    gap = MAX_TURN_S + 1
    outcome = drive([0.5] * 6 + [NAN] * gap + [0.5] * 6, [1.0] * 6 + [0.5] * gap + [1.0] * 6)
    assert len(outcome.bouts) == 2


def test_a_run_keeps_one_odd_second_but_not_two() -> None:
    # A misread second inside the first seconds of a walk does not lose the walk, though it
    # costs it one more agreeing second ...
    short = drive([NAN] * 3 + [0.5, 0.5, 1.7, 0.5, 0.5] + [NAN] * 5)
    assert short.bouts == []
    one = drive([NAN] * 3 + [0.5, 0.5, 1.7, 0.5, 0.5, 0.5] + [NAN] * 5)
    assert len(one.bouts) == 1
    assert one.walking_s == 6
    # ... two in a row do: the run starts again.
    two = drive([NAN] * 3 + [0.5, 0.5, NAN, NAN, 0.5, 0.5] + [NAN] * 5)
    assert two.bouts == []


def test_a_misread_octave_inside_a_bout_walks_at_the_bouts_cadence() -> None:
    outcome = drive([0.5] * 6 + [1.0, 0.25] + [0.5] * 6)
    assert len(outcome.bouts) == 1
    assert {p for _, _, p in outcome.intervals} == {0.5}


def test_edges_reach_no_further_than_the_half_window() -> None:
    periods = [NAN] * 8 + [0.5] * 6 + [NAN] * 8
    outcome = drive(periods, [1.0] * len(periods))  # energetic all along, rhythmic only inside
    assert [(a, b) for a, b, _ in outcome.bouts] == [
        (FIRST + 8 - EDGE_REACH_S, FIRST + 14 + EDGE_REACH_S)
    ]


def test_a_walk_at_the_edges_of_the_signal_reaches_them() -> None:
    outcome = drive([0.5] * 8, lead=1.0, tail=1.0)
    assert [(a, b) for a, b, _ in outcome.bouts] == [(0, FIRST + 8 + 2)]
    assert outcome.bouts[0][2] == round((FIRST + 8 + 2) / 0.5)


def test_a_quiet_lead_in_is_not_walking() -> None:
    outcome = drive([0.5] * 8, lead=0.0, tail=0.0)
    assert [(a, b) for a, b, _ in outcome.bouts] == [(FIRST, FIRST + 8)]


def segment(tracker: BoutTracker, start: int, periods: list[float], energy: float = 1.0) -> int:
    """Feed one segment starting at second `start` (three lead-in seconds); returns its end bin."""
    first = start + FIRST
    tracker.start_segment(GRID_HZ * start, first)
    lead = [(GRID_HZ * s, GRID_HZ * (s + 1), energy) for s in range(start, first)]
    tracker.push(periods, [energy] * len(periods), lead)
    end = GRID_HZ * (first + len(periods))
    tracker.end_segment(end, [])
    return end


@pytest.mark.parametrize(("hole_s", "bouts"), [(MAX_HOLE_S, 1), (MAX_HOLE_S + 1, 2)])
def test_a_walk_goes_on_across_a_short_hole(hole_s: int, bouts: int) -> None:
    tracker = BoutTracker()
    end = segment(tracker, 0, [0.5] * 10)
    assert tracker.suspended
    assert tracker.horizon_bin() == end
    segment(tracker, end // GRID_HZ + hole_s, [0.5] * 10)
    tracker.finish()
    outcome = Outcome()
    outcome.add(tracker.take())
    assert len(outcome.bouts) == bouts
    hole = (end, end + GRID_HZ * hole_s)
    assert not any(a < hole[1] and b > hole[0] for a, b, _ in outcome.intervals)
    assert outcome.walking_s == 2 * (FIRST + 10)
    assert sum(n for _, _, n in outcome.bouts) == pytest.approx(4 * (FIRST + 10), abs=1)


def test_a_stretch_too_short_to_judge_between_holes_is_walked_through() -> None:
    tracker = BoutTracker()
    end = segment(tracker, 0, [0.5] * 10)
    second = end // GRID_HZ + 1
    tracker.start_segment(GRID_HZ * second, second + FIRST)
    short_end = GRID_HZ * (second + 2)
    tracker.end_segment(short_end, [(GRID_HZ * second, short_end, 1.0)])  # no verdict at all
    assert tracker.suspended
    segment(tracker, second + 3, [0.5] * 10)
    tracker.finish()
    outcome = Outcome()
    outcome.add(tracker.take())
    assert len(outcome.bouts) == 1
    assert outcome.walking_s == 2 * (FIRST + 10) + 2


def test_a_walk_that_stops_at_a_hole_ends_there() -> None:
    tracker = BoutTracker()
    end = segment(tracker, 0, [0.5] * 10)
    segment(tracker, end // GRID_HZ + 1, [NAN] * 10, energy=0.0)
    outcome = Outcome()
    outcome.add(tracker.take())
    assert [(a, b) for a, b, _ in outcome.bouts] == [(0, end / GRID_HZ)]
    assert not tracker.suspended


verdicts = st.lists(
    st.tuples(st.sampled_from([NAN, NAN, 0.45, 0.5, 0.55, 1.0]), st.floats(0.0, 1.0)),
    max_size=80,
)


@settings(max_examples=80, deadline=None)
@given(verdicts)
def test_nothing_is_decided_before_the_horizon_it_announced(
    seconds: list[tuple[float, float]],
) -> None:
    tracker = BoutTracker()
    tracker.start_segment(0, FIRST)
    tracker.push([], [], [(0, GRID_HZ * FIRST, 0.5)])
    horizon = tracker.horizon_bin()
    assert horizon is not None
    covered: list[tuple[int, int]] = []
    for p, e in seconds:
        tracker.push([p], [e])
        walked = tracker.take()
        assert all(a >= horizon for a in walked.starts)
        assert all(b >= horizon for _, b, _ in walked.bouts)
        covered += list(zip(walked.starts, walked.ends, strict=True))
        now = tracker.horizon_bin()
        assert now is not None
        assert now >= horizon
        horizon = now
    end = GRID_HZ * (FIRST + len(seconds))
    tracker.end_segment(end, [])
    tracker.finish()
    walked = tracker.take()
    assert all(a >= horizon for a in walked.starts)
    assert tracker.horizon_bin() is None
    covered += list(zip(walked.starts, walked.ends, strict=True))
    # Walking intervals never overlap and never leave the segment.
    covered.sort()
    assert all(b <= c for (_, b), (c, _) in itertools.pairwise(covered))
    assert all(0 <= a < b <= end for a, b in covered)


def test_rhythm_that_comes_and_goes_keeps_the_state_bounded() -> None:
    # Every other second rhythmic (a car's bounce): never a walk, and the run never grows.
    tracker = BoutTracker()
    tracker.start_segment(0, FIRST)
    tracker.push([0.5, NAN] * 200, [1.0] * 400, [(0, GRID_HZ * FIRST, 1.0)])
    assert tracker.take().bouts == []
    w = StateWriter()
    tracker.dump(w)
    restored = BoutTracker.load(StateReader(w.getvalue()))
    assert restored.next_second == tracker.next_second
