"""The synthetic motion generator: what it measures is plausible, and its truth is right."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.motion import (
    NON_WALKING,
    Activity,
    Placement,
    Sampling,
    Segment,
    Walker,
    simulate,
)


@pytest.mark.parametrize("placement", list(Placement))
@pytest.mark.parametrize("cadence", [60.0, 100.0, 140.0])
def test_a_walk_has_its_cadence_in_steps(placement: Placement, cadence: float) -> None:
    recording = simulate([Segment(Activity.WALKING, 60.0, cadence)], placement, seed=1)
    assert recording.steps == pytest.approx(cadence, rel=0.06)
    intervals = np.diff(recording.step_times)
    assert np.median(intervals) == pytest.approx(60.0 / cadence, rel=0.06)
    assert recording.walks == ((0.0, 60.0, cadence),)


def test_gait_varies_from_stride_to_stride() -> None:
    walker = Walker(stride_cv=0.04, step_asymmetry=0.0)
    recording = simulate(
        [Segment(Activity.WALKING, 120.0, 100.0)], Placement.HIP, seed=2, walker=walker
    )
    strides = np.diff(recording.step_times[::2])
    assert 0.02 < np.std(strides) / np.mean(strides) < 0.06


@pytest.mark.parametrize("activity", [Activity.STILL, *NON_WALKING])
@pytest.mark.parametrize("placement", list(Placement))
def test_other_activities_have_no_steps_and_about_one_g(
    activity: Activity, placement: Placement
) -> None:
    recording = simulate([Segment(activity, 60.0)], placement, seed=3)
    assert recording.steps == 0
    # Gravity dominates; hard toothbrush strokes (up to about 1 g sideways) lift the norm a little.
    norm = np.linalg.norm(recording.xyz, axis=1)
    assert np.median(norm) == pytest.approx(1.0, abs=0.1)


def test_still_is_still_and_walking_moves() -> None:
    still = simulate([Segment(Activity.STILL, 30.0)], Placement.LOWER_BACK, seed=4)
    walking = simulate([Segment(Activity.WALKING, 30.0, 100.0)], Placement.LOWER_BACK, seed=4)
    assert np.std(np.linalg.norm(still.xyz, axis=1)) < 0.01
    assert np.std(np.linalg.norm(walking.xyz, axis=1)) > 0.1


def test_a_mixture_keeps_the_truth_of_each_walk() -> None:
    recording = simulate(
        [
            Segment(Activity.TYPING, 30.0),
            Segment(Activity.WALKING, 40.0, 80.0),
            Segment(Activity.BRUSHING_TEETH, 30.0),
            Segment(Activity.WALKING, 20.0, 120.0),
        ],
        Placement.WRIST,
        seed=5,
        start_s=1000.0,
    )
    assert recording.walks == ((1030.0, 1070.0, 80.0), (1100.0, 1120.0, 120.0))
    first = (recording.step_times >= 1030.0) & (recording.step_times < 1070.0)
    second = (recording.step_times >= 1100.0) & (recording.step_times < 1120.0)
    assert first.sum() + second.sum() == recording.steps
    assert first.sum() == pytest.approx(40.0 * 80.0 / 60.0, rel=0.1)


def test_sampling_rate_jitter_and_dropouts() -> None:
    sampling = Sampling(rate_hz=25.0, jitter=0.2, dropouts_per_min=6.0, dropout_s=0.5)
    recording = simulate([Segment(Activity.STILL, 120.0)], Placement.HIP, seed=6, sampling=sampling)
    dt = np.diff(recording.t)
    assert np.all(dt > 0)
    assert np.median(dt) == pytest.approx(0.04, rel=0.05)
    assert np.std(dt[dt < 0.06]) > 0.002  # jittered
    assert dt.max() > 0.3  # packets were lost
    assert recording.t.size < 120 * 25
    assert recording.xyz.shape == (recording.t.size, 3)


def test_the_same_seed_gives_the_same_recording() -> None:
    segments = [Segment(Activity.VEHICLE, 20.0), Segment(Activity.WALKING, 20.0, 90.0)]
    a = simulate(segments, Placement.POCKET, seed=8)
    b = simulate(segments, Placement.POCKET, seed=8)
    c = simulate(segments, Placement.POCKET, seed=9)
    assert np.array_equal(a.xyz, b.xyz)
    assert np.array_equal(a.step_times, b.step_times)
    assert not np.array_equal(a.xyz, c.xyz)
