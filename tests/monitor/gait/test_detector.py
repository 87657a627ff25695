"""The detector on whole recordings: walking counted, everything else rejected, minutes right."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.gait import MOVING_ENMO_MG, WALKING_MIN_CADENCE_SPM, analyze_gait
from simulators.motion import (
    NON_WALKING,
    Activity,
    Placement,
    Recording,
    Sampling,
    Segment,
    simulate,
)


def error_pct(steps: int, recording: Recording) -> float:
    return 100.0 * (steps - recording.steps) / recording.steps


def walk(
    placement: Placement, cadence: float, *, seconds: float = 60.0, seed: int = 0, **sampling: float
) -> Recording:
    return simulate(
        [
            Segment(Activity.STILL, 10.0),
            Segment(Activity.WALKING, seconds, cadence),
            Segment(Activity.STILL, 10.0),
        ],
        placement,
        seed=seed,
        sampling=Sampling(**sampling),
    )


@pytest.mark.parametrize("activity", NON_WALKING)
@pytest.mark.parametrize("placement", list(Placement))
def test_everyday_movement_gives_under_one_false_step_a_minute(
    activity: Activity, placement: Placement
) -> None:
    minutes = 4.0
    recording = simulate([Segment(activity, 60.0 * minutes)], placement, seed=7)
    result = analyze_gait(recording.t, recording.xyz)
    assert result.steps / minutes < 1.0
    assert result.walking_minutes == 0.0


@pytest.mark.parametrize("placement", list(Placement))
@pytest.mark.parametrize("cadence", [60.0, 72.0, 85.0, 105.0, 130.0])
def test_walking_is_counted_at_every_placement(placement: Placement, cadence: float) -> None:
    recording = walk(placement, cadence, seed=int(cadence))
    result = analyze_gait(recording.t, recording.xyz)
    assert abs(error_pct(result.steps, recording)) <= 3.0
    (bout,) = result.bouts
    assert bout.cadence_spm == pytest.approx(cadence, rel=0.05)
    assert bout.start == pytest.approx(10.0, abs=1.5)
    assert bout.end == pytest.approx(70.0, abs=1.5)


@pytest.mark.parametrize("cadence", [62.0, 70.0, 78.0, 85.0])
def test_slow_walkers_earn_walking_minutes(cadence: float) -> None:
    recording = simulate(
        [Segment(Activity.WALKING, 150.0, cadence)], Placement.LOWER_BACK, seed=3, start_s=0.0
    )
    result = analyze_gait(recording.t, recording.xyz)
    assert cadence >= WALKING_MIN_CADENCE_SPM
    assert result.walking_minutes == pytest.approx(2.5, abs=0.1)
    assert abs(error_pct(result.steps, recording)) <= 3.0


@pytest.mark.parametrize("rate_hz", [10.0, 12.5, 25.0, 100.0, 400.0])
def test_any_rate_with_jitter(rate_hz: float) -> None:
    recording = walk(Placement.HIP, 95.0, seed=5, rate_hz=rate_hz, jitter=0.3)
    result = analyze_gait(recording.t, recording.xyz)
    assert abs(error_pct(result.steps, recording)) <= 3.0


def test_a_mixture_of_activities_counts_only_the_walks(day_mixture: Recording) -> None:
    result = analyze_gait(day_mixture.t, day_mixture.xyz)
    assert abs(error_pct(result.steps, day_mixture)) <= 5.0
    for bout in result.bouts:
        assert any(a - 2.0 <= bout.start and bout.end <= b + 2.0 for a, b, _ in day_mixture.walks)
    walked_s = sum(b - a for a, b, _ in day_mixture.walks)
    assert result.walking_minutes * 60.0 == pytest.approx(walked_s, rel=0.1)


def test_a_gap_is_not_walking() -> None:
    recording = walk(Placement.WRIST, 100.0, seconds=90.0, seed=2)
    hole = (recording.t > 40.0) & (recording.t < 45.0)
    t, xyz = recording.t[~hole], recording.xyz[~hole]
    result = analyze_gait(t, xyz)
    assert not np.any((result.step_times > 40.0) & (result.step_times < 45.0))
    assert all(b.end <= 40.1 or b.start >= 44.9 for b in result.bouts)
    steps_left = int(np.sum((recording.step_times < 40.0) | (recording.step_times > 45.0)))
    assert abs(result.steps - steps_left) <= 0.05 * steps_left


def test_minutes_follow_the_absolute_time_axis(day_mixture: Recording) -> None:
    result = analyze_gait(day_mixture.t, day_mixture.xyz)
    t = day_mixture.t
    minutes = np.floor(t / 60.0).astype(np.int64)
    assert [m.minute for m in result.minutes] == sorted(set(minutes.tolist()))
    assert [m.samples for m in result.minutes] == np.bincount(minutes - minutes[0]).tolist()
    steps = np.floor(result.step_times / 60.0).astype(np.int64)
    assert [m.steps for m in result.minutes] == [
        int(np.sum(steps == m.minute)) for m in result.minutes
    ]
    assert sum(m.steps for m in result.minutes) == result.steps
    assert all(0.0 <= m.walking_s <= 60.0 for m in result.minutes)


def test_enmo_is_the_mean_norm_above_one_g_in_milli_g() -> None:
    t = np.arange(0.0, 180.0, 0.02)
    level = np.select([t < 60.0, t < 120.0], [0.0, 0.9 * MOVING_ENMO_MG], 1.1 * MOVING_ENMO_MG)
    xyz = np.zeros((t.size, 3))
    xyz[:, 2] = 1.0 + 2.0 * level / 1000.0
    xyz[::2, 2] = 0.5  # half the samples below 1 g: they count as zero, not as negative
    result = analyze_gait(t, xyz)
    assert [m.enmo_mg for m in result.minutes] == pytest.approx(
        [0.0, 0.9 * MOVING_ENMO_MG, 1.1 * MOVING_ENMO_MG], abs=0.01
    )
    assert [m.moving for m in result.minutes] == [False, False, True]
    assert result.steps == 0


def test_walking_at_a_usual_pace_is_moving() -> None:
    recording = simulate([Segment(Activity.WALKING, 120.0, 100.0)], Placement.HIP, seed=4)
    result = analyze_gait(recording.t, recording.xyz)
    full = [m for m in result.minutes if m.samples > 1000]
    assert len(full) == 2
    assert all(m.moving for m in full)


def test_steps_come_out_in_time_order_inside_their_bouts(day_mixture: Recording) -> None:
    result = analyze_gait(day_mixture.t, day_mixture.xyz)
    assert np.all(np.diff(result.step_times) > 0)
    for bout in result.bouts:
        inside = (result.step_times >= bout.start) & (result.step_times < bout.end)
        assert int(inside.sum()) == bout.steps
    assert sum(b.steps for b in result.bouts) == result.steps


def test_an_empty_recording_has_nothing() -> None:
    result = analyze_gait(np.empty(0), np.empty((0, 3)))
    assert (result.steps, result.bouts, result.minutes, result.cadence_spm) == (0, (), (), None)


@pytest.mark.parametrize(
    ("t", "xyz", "message"),
    [
        (np.arange(3.0), np.zeros((3, 2)), "N x 3"),
        (np.arange(3.0), np.zeros((4, 3)), "N x 3"),
        (np.array([0.0, np.nan, 1.0]), np.zeros((3, 3)), "finite"),
        (np.arange(3.0), np.array([[0, 0, 1], [0, np.inf, 1], [0, 0, 1]]), "finite"),
        (np.array([0.0, 2.0, 1.0]), np.zeros((3, 3)), "backwards at sample 2"),
    ],
)
def test_bad_input_is_refused(t: np.ndarray, xyz: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        analyze_gait(t, xyz)


def test_repeated_timestamps_are_accepted() -> None:
    recording = walk(Placement.POCKET, 100.0, seed=9)
    t = recording.t.copy()
    t[1::7] = t[0:-1:7]  # some samples share their predecessor's time
    result = analyze_gait(t, recording.xyz)
    assert abs(error_pct(result.steps, recording)) <= 3.0
