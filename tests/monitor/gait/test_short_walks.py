"""Issue 17: the walks real recordings hold and the detector used to miss.

Short walks with U-turns, walks of four or five steps, slow shuffles, the arm's swing at the
stride rate on a slow walker's wrist, devices that sample without an anti-alias filter, and the
walking minutes of a walk split by a turn or a pause.
"""

from __future__ import annotations

import pytest

from monitor.gait import analyze_gait
from simulators.motion import Activity, Placement, Recording, Sampling, Segment, Walker, simulate


def error_pct(steps: int, recording: Recording) -> float:
    return 100.0 * (steps - recording.steps) / recording.steps


def still_around(*walk: Segment) -> list[Segment]:
    return [Segment(Activity.STILL, 10.0), *walk, Segment(Activity.STILL, 10.0)]


@pytest.mark.parametrize("placement", list(Placement))
@pytest.mark.parametrize(("rate_hz", "cadence"), [(12.5, 80.0), (25.0, 100.0), (100.0, 115.0)])
def test_short_walks_with_a_u_turn_are_counted(
    placement: Placement, rate_hz: float, cadence: float
) -> None:
    # Two 8 s legs with a U-turn between (the IPOL lower-back trials), then a 6 s walk.
    recording = simulate(
        still_around(
            Segment(Activity.WALKING, 16.0, cadence, turns_at_s=(8.0,)),
            Segment(Activity.STILL, 8.0),
            Segment(Activity.WALKING, 6.0, cadence),
        ),
        placement,
        seed=int(cadence),
        sampling=Sampling(rate_hz=rate_hz),
    )
    result = analyze_gait(recording.t, recording.xyz)
    # About 30 steps: an edge may gain or lose a step (the arm still swings after the last one).
    assert abs(result.steps - recording.steps) <= 2
    # The turn does not end the walk: one bout spans both legs.
    first_walk = [b for b in result.bouts if b.start < 26.0 and b.end > 10.0]
    assert len(first_walk) == 1
    assert first_walk[0].start == pytest.approx(10.0, abs=1.0)
    assert first_walk[0].end == pytest.approx(26.0, abs=1.0)


@pytest.mark.parametrize(("steps", "cadence"), [(4, 80.0), (5, 90.0)])
def test_most_walks_of_four_or_five_steps_count(steps: int, cadence: float) -> None:
    # The shortest walk counted is 4 steps (issue 17; Mobilise-D's micro-bouts start at two
    # strides). Alone, 4-5 steps are also what a repeated gesture can look like, so not every
    # such walk is found: over placements, rates and walkers at least three in four are, and
    # none gives more than one step too many.
    found = 0
    trials = 0
    for placement in Placement:
        for seed in range(10):
            recording = simulate(
                still_around(Segment(Activity.WALKING, steps * 60.0 / cadence, cadence)),
                placement,
                seed=seed,
                sampling=Sampling(rate_hz=(12.5, 25.0, 50.0, 100.0)[seed % 4]),
            )
            truth = recording.steps  # where the first step falls decides between n and n + 1
            assert steps <= truth <= steps + 1
            counted = analyze_gait(recording.t, recording.xyz).steps
            assert counted <= truth + 1
            found += abs(counted - truth) <= 1
            trials += 1
    assert found >= 0.75 * trials


@pytest.mark.parametrize("cadence", [60.0, 66.0, 72.0, 78.0, 85.0])
def test_the_arms_swing_at_the_stride_rate_counts_as_steps_at_twice_it(cadence: float) -> None:
    # A slow walker's watch at 12.5 Hz: the norm's strongest rhythm is the stride (checked in
    # tests/simulators/test_motion.py), at 0.5-0.7 Hz.
    recording = simulate(
        still_around(Segment(Activity.WALKING, 60.0, cadence)),
        Placement.WRIST,
        seed=int(cadence),
        walker=Walker.arm_swinger(),
        sampling=Sampling(rate_hz=12.5),
    )
    result = analyze_gait(recording.t, recording.xyz)
    assert abs(error_pct(result.steps, recording)) <= 5.0
    assert result.cadence_spm == pytest.approx(cadence, rel=0.05)


@pytest.mark.parametrize("placement", list(Placement))
@pytest.mark.parametrize("cadence", [62.0, 72.0])
def test_a_slow_shuffle_is_counted(placement: Placement, cadence: float) -> None:
    recording = simulate(
        still_around(Segment(Activity.WALKING, 60.0, cadence)),
        placement,
        seed=int(cadence),
        walker=Walker.shuffler(),
        sampling=Sampling(rate_hz=25.0),
    )
    result = analyze_gait(recording.t, recording.xyz)
    assert abs(error_pct(result.steps, recording)) <= 5.0


# Known failure, kept visible: with jolts that vary from step to step and ring unlocked from
# it, as real ones do (tests/simulators/test_motion.py), a trouser pocket at 75 steps/min sampled
# without an anti-alias filter loses about a fifth of its steps (before the floor removal of
# periodicity.py: the same; the faster cadences and other placements pass).
_SLOW_ALIASED_POCKET = pytest.mark.xfail(
    strict=True, reason="aliased pocket at 75 steps/min: about -20% (docs/gait.md, Limitations)"
)


@pytest.mark.parametrize("placement", list(Placement))
@pytest.mark.parametrize("cadence", [75.0, 100.0, 120.0])
def test_a_device_without_anti_aliasing_at_12_5_hz(
    placement: Placement, cadence: float, request: pytest.FixtureRequest
) -> None:
    if placement is Placement.POCKET and cadence == 75.0:
        request.applymarker(_SLOW_ALIASED_POCKET)
    recording = simulate(
        still_around(Segment(Activity.WALKING, 60.0, cadence)),
        placement,
        seed=int(cadence) + 1,
        sampling=Sampling(rate_hz=12.5, lowpass=0.0),
    )
    result = analyze_gait(recording.t, recording.xyz)
    assert abs(error_pct(result.steps, recording)) <= 5.0


@pytest.mark.parametrize("placement", list(Placement))
@pytest.mark.parametrize("split", ["u-turn", "pause"])
def test_a_walk_split_by_a_turn_or_a_pause_keeps_its_walking_minutes(
    placement: Placement, split: str
) -> None:
    # recovery-domain.md: walking minutes add up the walking inside each minute; a 2.5 min walk
    # with a U-turn, or a 5 s stop, in its middle must give its 2.5 min (less the stop).
    if split == "u-turn":
        walk = [Segment(Activity.WALKING, 150.0, 90.0, turns_at_s=(75.0,))]
        walked_s = 150.0
    else:
        walk = [
            Segment(Activity.WALKING, 75.0, 90.0),
            Segment(Activity.STILL, 5.0),
            Segment(Activity.WALKING, 75.0, 90.0),
        ]
        walked_s = 150.0
    recording = simulate(walk, placement, seed=17, start_s=0.0)
    result = analyze_gait(recording.t, recording.xyz)
    assert result.walking_minutes * 60.0 == pytest.approx(walked_s, abs=4.0)
    assert abs(error_pct(result.steps, recording)) <= 3.0
    if split == "u-turn":
        assert len(result.bouts) == 1
