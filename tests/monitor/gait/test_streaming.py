"""The streaming detector: the same minutes as the batch, fed any way, across restarts."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.gait import GaitStateError, MinuteActivity, StreamingGait, analyze_gait
from simulators.motion import Activity, Placement, Recording, Sampling, Segment, simulate


def stream(
    recording: Recording, blocks: list[int], restarts: set[int] | None = None
) -> list[MinuteActivity]:
    """Feed the recording in blocks of the given sizes (cycled); restart where asked."""
    restarts = restarts or set()
    detector = StreamingGait()
    minutes: list[MinuteActivity] = []
    i = n = 0
    while i < recording.t.size:
        size = blocks[n % len(blocks)]
        minutes += detector.feed(recording.t[i : i + size], recording.xyz[i : i + size])
        if n in restarts:
            detector = StreamingGait.from_state(detector.to_state())
        i += size
        n += 1
    return minutes + detector.flush()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    blocks=st.lists(st.integers(1, 50), min_size=1, max_size=30),
    restarts=st.sets(st.integers(0, 400), max_size=6),
)
def test_streaming_in_any_blocks_equals_the_batch(
    day_mixture: Recording, blocks: list[int], restarts: set[int]
) -> None:
    batch = analyze_gait(day_mixture.t, day_mixture.xyz)
    assert stream(day_mixture, blocks, restarts) == list(batch.minutes)


def test_minutes_come_out_soon_after_they_end(day_mixture: Recording) -> None:
    detector = StreamingGait()
    t, xyz = day_mixture.t, day_mixture.xyz
    out_at: dict[int, float] = {}
    for i in range(0, t.size, 10):
        for m in detector.feed(t[i : i + 10], xyz[i : i + 10]):
            out_at[m.minute] = float(t[min(i + 9, t.size - 1)])
    closed = [m for m in out_at if 60.0 * (m + 1) < t[-1] - 30.0]
    assert closed
    # Final within the window, the bout rules and the processing batch: well under 20 s.
    assert all(out_at[m] - 60.0 * (m + 1) < 20.0 for m in closed)


def test_state_stays_small_through_a_long_stream() -> None:
    recording = simulate(
        [
            Segment(Activity.WALKING, 300.0, 90.0),
            Segment(Activity.TYPING, 120.0),
            Segment(Activity.WALKING, 200.0, 65.0),
        ],
        Placement.POCKET,
        seed=21,
        sampling=Sampling(rate_hz=100.0),
    )
    detector = StreamingGait()
    sizes = []
    for i in range(0, recording.t.size, 50):
        detector.feed(recording.t[i : i + 50], recording.xyz[i : i + 50])
        if i % 5000 == 0:
            sizes.append(len(detector.to_state()))
    assert max(sizes) < 4096


def test_a_state_from_elsewhere_is_refused() -> None:
    detector = StreamingGait()
    detector.feed(np.arange(0.0, 30.0, 0.02), np.tile([0.0, 0.0, 1.0], (1500, 1)))
    state = detector.to_state()
    with pytest.raises(GaitStateError, match="not a gait state"):
        StreamingGait.from_state(b"JUNK" + state[4:])
    with pytest.raises(GaitStateError, match="version"):
        StreamingGait.from_state(state[:4] + struct.pack("<q", 99) + state[12:])
    with pytest.raises(GaitStateError, match="truncated"):
        StreamingGait.from_state(state[:-5])
    with pytest.raises(GaitStateError, match="trailing"):
        StreamingGait.from_state(state + b"\0")


def test_late_and_broken_samples_are_dropped_and_counted() -> None:
    t = np.arange(0.0, 130.0, 0.02)
    xyz = np.tile([0.0, 0.0, 1.0], (t.size, 1))
    clean = StreamingGait()
    expected = clean.feed(t, xyz) + clean.flush()

    detector = StreamingGait()
    out = detector.feed(t[:3000], xyz[:3000])
    out += detector.feed(t[2990:2999], xyz[2990:2999])  # nine samples older than the newest
    bad = xyz[3000:3020].copy()
    bad[3] = np.nan
    out += detector.feed(t[3000:3020], bad)
    out += detector.feed(t[3020:], xyz[3020:]) + detector.flush()
    assert detector.dropped == 10
    assert [m.minute for m in out] == [m.minute for m in expected]
    assert [m.samples for m in out] == [m.samples - (m.minute == 1) for m in expected]


def test_after_a_flush_no_minute_comes_twice() -> None:
    t = np.arange(0.0, 100.0, 0.05)
    xyz = np.tile([0.0, 0.0, 1.0], (t.size, 1))
    detector = StreamingGait()
    first = detector.feed(t[:1000], xyz[:1000]) + detector.flush()
    assert [m.minute for m in first] == [0]
    second = detector.feed(t[1000:], xyz[1000:]) + detector.flush()
    assert [m.minute for m in second] == [1]
    assert second[0].samples == int(np.sum(t >= 60.0))


def test_feed_checks_shapes() -> None:
    detector = StreamingGait()
    with pytest.raises(ValueError, match="N x 3"):
        detector.feed([0.0, 0.1], [[0.0, 0.0, 1.0]])
    assert detector.feed([], np.empty((0, 3))) == []


@pytest.fixture(scope="module")
def short_walks() -> Recording:
    """Issue 17's walks at 12.5 Hz: a U-turn inside a walk, a pause, a walk of five steps."""
    return simulate(
        [
            Segment(Activity.STILL, 8.0),
            Segment(Activity.WALKING, 16.0, 95.0, turns_at_s=(8.0,)),
            Segment(Activity.STILL, 5.0),
            Segment(Activity.WALKING, 12.0, 95.0),
            Segment(Activity.STILL, 8.0),
            Segment(Activity.WALKING, 3.3, 90.0),
            Segment(Activity.STILL, 8.0),
        ],
        Placement.LOWER_BACK,
        seed=12,
        sampling=Sampling(rate_hz=12.5, jitter=0.2, dropouts_per_min=2.0),
        start_s=1_764_000_041.7,
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    blocks=st.lists(st.integers(1, 40), min_size=1, max_size=20),
    restarts=st.sets(st.integers(0, 120), max_size=4),
)
def test_streaming_short_walks_equals_the_batch(
    short_walks: Recording, blocks: list[int], restarts: set[int]
) -> None:
    batch = analyze_gait(short_walks.t, short_walks.xyz)
    assert batch.bouts  # the walks are found, so the bout rules are exercised
    assert stream(short_walks, blocks, restarts) == list(batch.minutes)
