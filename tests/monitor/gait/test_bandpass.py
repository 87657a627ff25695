"""The scipy-free band-pass is scipy's filter: same design, same output, any block sizes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from monitor.gait.bandpass import SOS, ZI_UNIT, BandPass
from monitor.gait.engine import BAND_HZ
from monitor.gait.resample import GRID_HZ


def test_the_coefficients_are_scipys_butterworth_design() -> None:
    designed = signal.butter(2, BAND_HZ, btype="bandpass", fs=GRID_HZ, output="sos")
    np.testing.assert_allclose(np.array(SOS), designed, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(np.array(ZI_UNIT), signal.sosfilt_zi(designed).ravel(), rtol=1e-12)


def test_the_output_is_scipys_sosfilt_from_a_steady_start() -> None:
    rng = np.random.default_rng(3)
    x = 1.0 + 0.2 * np.sin(np.arange(5000) * 0.55) + rng.normal(0, 0.05, 5000)
    expected, _ = signal.sosfilt(np.array(SOS), x, zi=signal.sosfilt_zi(np.array(SOS)) * x[0])
    band = BandPass()
    band.restart(float(x[0]))
    np.testing.assert_allclose(band.filter(x), expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, 700), max_size=12), save_at=st.integers(0, 12))
def test_any_blocks_and_any_save_give_exactly_the_whole_signal_result(
    cuts: list[int], save_at: int
) -> None:
    x = 1.0 + np.sin(np.arange(700) * 0.3) * np.linspace(0, 1, 700)
    whole = BandPass()
    whole.restart(1.0)
    expected = whole.filter(x)
    parts = BandPass()
    parts.restart(1.0)
    out = []
    for index, (a, b) in enumerate(zip([0, *sorted(cuts)], [*sorted(cuts), 700], strict=True)):
        if index == save_at:
            parts = BandPass.from_state(parts.state())
        out.append(parts.filter(x[a:b]))
    assert np.array_equal(np.concatenate(out), expected)
