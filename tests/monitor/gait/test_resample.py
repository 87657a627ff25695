"""Raw samples onto the 20 Hz grid: bin means, short holes bridged, long ones cut."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from monitor.gait.engine import grid_bins
from monitor.gait.resample import FIXED_POINT_ONE_G, GRID_HZ, GridRun, Resampler


def fixed(values: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.rint(values * FIXED_POINT_ONE_G).astype(np.int64)


def segments(runs: list[GridRun]) -> list[tuple[int, NDArray[np.float64]]]:
    """Runs joined into the stretches of signal between long gaps: (first bin, values)."""
    out: list[tuple[int, NDArray[np.float64]]] = []
    for r in runs:
        if r.new_segment or not out:
            out.append((r.first_bin, r.values))
        else:
            first, values = out[-1]
            assert first + values.size == r.first_bin
            out[-1] = (first, np.concatenate((values, r.values)))
    return out


def run_all(
    t: NDArray[np.float64], g: NDArray[np.float64]
) -> list[tuple[int, NDArray[np.float64]]]:
    resampler = Resampler()
    return segments(resampler.push(grid_bins(t), fixed(g)) + resampler.finish())


def test_each_bin_is_the_mean_of_its_samples() -> None:
    t = np.arange(40) / 200.0  # 200 Hz: ten samples a bin
    g = 1.0 + np.arange(40) / 1000.0
    ((first, values),) = run_all(t, g)
    assert first == 0
    expected = [g[i : i + 10].mean() for i in range(0, 40, 10)]
    assert values == pytest.approx(expected, abs=1e-5)


def test_slow_rates_are_interpolated_between_samples() -> None:
    t = np.arange(5) / 10.0  # 10 Hz: every other bin is empty
    g = np.array([1.0, 1.2, 1.0, 0.8, 1.0])
    ((_, values),) = run_all(t, g)
    assert values == pytest.approx([1.0, 1.1, 1.2, 1.1, 1.0, 0.9, 0.8, 0.9, 1.0], abs=1e-5)


def test_a_short_hole_is_bridged_and_a_long_one_cuts() -> None:
    t = np.concatenate([np.arange(10) / 20.0, 0.45 + 0.4 + np.arange(10) / 20.0])
    runs = run_all(t, np.ones(t.size))
    assert len(runs) == 1  # 0.4 s without samples: bridged

    t = np.concatenate([np.arange(10) / 20.0, 0.45 + 0.7 + np.arange(10) / 20.0])
    runs = run_all(t, np.ones(t.size))
    assert [first for first, _ in runs] == [0, round((0.45 + 0.7) * GRID_HZ)]


def test_the_newest_bin_waits_for_a_later_sample() -> None:
    resampler = Resampler()
    assert resampler.push(np.array([0, 0]), fixed(np.ones(2))) == []
    (run,) = resampler.push(np.array([1]), fixed(np.ones(1)))
    assert (run.first_bin, run.values.size) == (0, 1)
    assert [r.first_bin for r in resampler.finish()] == [1]
    assert resampler.finish() == []


def test_a_long_hole_is_known_as_soon_as_a_sample_lands_beyond_it() -> None:
    resampler = Resampler()
    resampler.push(np.array([0, 1]), fixed(np.ones(2)))
    assert not resampler.gap_pending
    resampler.push(np.array([30]), fixed(np.ones(1)))
    assert resampler.gap_pending


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 0.7), min_size=1, max_size=120),
    st.lists(st.integers(1, 12), min_size=1, max_size=40),
    st.floats(-1e6, 1e9),
)
def test_blocks_do_not_change_the_grid(
    intervals: list[float], blocks: list[int], start: float
) -> None:
    t = start + np.cumsum(intervals)
    g = 1.0 + 0.3 * np.sin(np.arange(t.size))
    whole = run_all(t, g)
    resampler = Resampler()
    pieces: list[GridRun] = []
    i = 0
    for size in blocks * (t.size // sum(blocks) + 1):
        if i >= t.size:
            break
        pieces += resampler.push(grid_bins(t[i : i + size]), fixed(g[i : i + size]))
        i += size
    pieces += resampler.finish()
    streamed = segments(pieces)
    assert [first for first, _ in streamed] == [first for first, _ in whole]
    assert [v.tolist() for _, v in streamed] == [v.tolist() for _, v in whole]
