"""Is a 5-second window of the acceleration norm walking, and if so at what step period?

Walking is the one everyday movement that repeats itself stride after stride, wherever the
sensor sits; so the test is the window's normalised autocorrelation. Its first strong peak is
the gait's period. That period is a step when the signal is the same for both feet (wrist,
lower back, chest) and a stride when the two feet differ (a trouser pocket rides on one
thigh): the correlation around half the period tells which, because two unlike steps still
resemble each other there while a single step is in anti-phase with itself.

Only the window's active span is correlated (from the first to the last second that moves
like the rest), so a window may hold the start or end of a walk, or a whole walk of four
steps (issue 17).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from monitor.gait.resample import GRID_HZ

# Two strides of the slowest gait counted (48 steps/min: a 2.5 s stride) fit in the window,
# so that the stride lag is compared over a whole stride.
WINDOW_S = 5.0
WINDOW_BINS = round(WINDOW_S * GRID_HZ)

# The cadence band: down to 48 steps/min so that slow walkers at 60-85 (common with back pain)
# are well inside it, up to 180 so brisk walking and a slow jog are too. Toothbrush strokes
# (3-5 Hz) and typing sit above it.
CADENCE_MIN_SPM = 48.0
CADENCE_MAX_SPM = 180.0
STEP_MIN_S = 60.0 / CADENCE_MAX_SPM
STEP_MAX_S = 60.0 / CADENCE_MIN_SPM

# Lags searched for the first strong peak: from 0.1 s (anything faster than a step is not gait,
# so a window whose strongest rhythm is that fast is rejected rather than read at a multiple)
# up to the longest stride, with one bin either side to locate a peak between bins.
_LAG_LO = 2
_LAG_HI = int(np.ceil(2 * STEP_MAX_S * GRID_HZ)) + 1
# >= window + largest lag (152), so the FFT's circular correlation equals the linear one; 160
# (2^5 x 5) costs about 40% less than 256.
_FFT_SIZE = 160

# Less than this band-passed RMS (over the window's active seconds) is a sensor lying still or
# worn at rest: 2.5 times the noise of a consumer MEMS accelerometer (0.004 g). Slow walking at
# the lower back is about 0.05 g, but the guarded shuffle of acute back pain seen at the wrist
# with the arms held still moves it by only 0.015-0.02 g, and must count.
MIN_RMS_G = 0.01

# How alike one stride (or step) must be to the next. Healthy gait scores 0.8-0.95 and most
# impaired gait 0.65-0.85; a device that samples slowly without an anti-alias filter catches
# heel strikes at random, which folds noise into the gait band and costs real walks 0.1-0.2
# (IPOL and Oxford walks picked down to 12.5 Hz). Road noise through a vehicle's suspension
# matches itself by chance over 5 s: in the simulator its windows that pass every other test
# score a median 0.64. The rules that a slow step must match better and that a short run
# must be a whole walk (bouts.py) keep those out at 0.6 (simulated rides: 0-0.3 false steps
# a minute).
MIN_REGULARITY = 0.6

_FULL_OVERLAP = WINDOW_BINS - STEP_MAX_S * GRID_HZ

# A rhythm slower than the slowest step (1.25 s) can only be a stride, and the window then holds
# at most four of them, compared over fewer than three: a resonance driven by noise (a car's
# suspension, 0.8-1.8 Hz, and its sway at two thirds of that) matches itself that far by chance
# at 0.65-0.8 (simulated rides). Such a stride must match better, as real strides do (the
# slow gait of the simulator scores above 0.9; healthy gait 0.8-0.95).
LONG_PERIOD_REGULARITY = 0.8
SLOW_STEP_S = 0.8

# Walking fills the window, or the part of it from a walk's first step or up to its last. The
# active span runs from the first to the last second that carries at least MIN_SECOND_SHARE of
# the window's busiest second; it must hold the window's own (middle) second, last at least
# MIN_ACTIVE_S, and have no pause inside (a second under PAUSE_SHARE). Four steps at 80-100
# steps/min take 2.4-3 s (the shortest walk counted, Mobilise-D's micro-bout of two strides),
# so three seconds; a burst of gesturing (1-2 s) or the ringing after a knock does not make
# such a span. The first and last steps of a walk carry about a quarter of the energy of the
# others, so a second holding most of one stays above a fifth of the busiest. Inside a slow
# walk a second may hold one heel strike where the next holds two, a fifth of its energy;
# standing still carries under 1% of walking's.
MIN_SECOND_SHARE = 0.2
PAUSE_SHARE = 0.05
MIN_ACTIVE_S = 3

# The rhythm must hold for a second period where the window allows (at twice the lag). A
# resonance driven by noise loses its match with each period (about squared: 0.6 at one,
# 0.36 at two); a gait keeps it, less the few steps at the ends of a walk, weaker than the
# rest, and the noise a device without an anti-alias filter folds in (real walks picked down
# to 12.5 Hz: 0.1-0.2 below their first period). Lower than MIN_REGULARITY lets gestures and
# brushing through (simulator, 0.5-0.55: up to 7 false steps a minute at the wrist).
SECOND_PERIOD_REGULARITY = MIN_REGULARITY

# A later peak is the period's multiple, not the period, unless the earlier one is much weaker.
_STRONG_FRACTION = 0.8

# Is the period a stride (two unlike steps) or one step? Somewhere in the middle half of a
# stride the other foot's step resembles this one's (correlation above 0); the middle half of a
# single step is in anti-phase with its start (a sinusoid's best there is -0.7).
OTHER_STEP_MIN = 0.0

_LAGS = np.arange(_LAG_HI + 2)
_LONG = _LAGS > STEP_MAX_S * GRID_HZ  # lags longer than the slowest step: strides only
# The threshold at each lag for an active span of each length (bins): MIN_REGULARITY, raised
# by sqrt(full overlap / overlap) where the overlap is shorter, and LONG_PERIOD_REGULARITY at
# least for lags longer than the slowest step.
_OVERLAP = np.maximum(np.arange(WINDOW_BINS + 1)[:, None] - _LAGS[None, :], 1).astype(np.float64)
_NEED = np.maximum(
    MIN_REGULARITY * np.maximum(1.0, np.sqrt(_FULL_OVERLAP / _OVERLAP)),
    np.where(_LONG, LONG_PERIOD_REGULARITY, 0.0),
)

# The correlation is taken of the window smoothed (zero-phase, in the spectrum) above the
# quickest step counted, 3 Hz: what lies above is the shape of each step (the double bump of
# heel strike and push-off, the ringing of impacts), which changes from step to step while
# the step itself repeats. Power weight 1 / (1 + (f / 3 Hz)^8): a step at 3 Hz keeps half its
# power, the double bump of a 1.9 Hz step (3.8 Hz) under a seventh.
SMOOTH_ABOVE_HZ = 3.0
_FREQ = np.fft.rfftfreq(_FFT_SIZE, 1.0 / GRID_HZ)
_SMOOTH = 1.0 / (1.0 + (_FREQ / SMOOTH_ABOVE_HZ) ** 8)

# A device that samples slowly without an anti-alias filter catches heel-strike spikes and
# the rattle of a phone at random; folded down they are a white noise over the whole band up
# to half its rate, which lowers every lag's correlation by the noise's share of the energy
# (real walks picked down to 12.5 Hz: as much energy as the gait, correlations 0.3-0.5 where
# the same walks score 0.7-0.8). Gait is a few spectral lines; white noise is a floor under
# them. The median of the periodogram over the band the floor is measured in (0.4 Hz to the
# lowest such device's Nyquist frequency, 6.25 Hz at 12.5 Hz) estimates that floor whenever
# the lines hold fewer than half of its bins, and is removed before the correlation.
FLOOR_BAND_HZ = (0.4, 6.25)
_FLOOR_LO, _FLOOR_HI = FLOOR_BAND_HZ
_FLOOR_LO_BIN = int(np.searchsorted(_FREQ, _FLOOR_LO))
_FLOOR_HI_BIN = int(np.searchsorted(_FREQ, _FLOOR_HI, side="right"))
_FLOOR_MID = (_FLOOR_HI_BIN - _FLOOR_LO_BIN) // 2  # the median (the upper one of an even count)


def step_periods(windows: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each row's step period in s (NaN: not walking) and the mean square of each of its seconds.

    `windows` is n x WINDOW_BINS band-passed norm values (g) on the 20 Hz grid; the result is
    the n step periods (s) and the n x 5 per-second mean squares (g^2).
    """
    n, width = windows.shape
    seconds = width // GRID_HZ
    if n == 0:
        return np.empty(0), np.empty((0, seconds))
    # Each second's mean square about the window's mean, from the second's sum and sum of
    # squares: the de-meaned window itself is only needed where the correlation is.
    blocks = windows.reshape(n, seconds, GRID_HZ)
    sums = blocks.sum(axis=2)
    mean = sums.sum(axis=1, keepdims=True) / width
    squares = np.einsum("ijk,ijk->ij", blocks, blocks)
    per_second = np.maximum(squares - mean * (2.0 * sums - GRID_HZ * mean), 0.0) / GRID_HZ
    busiest = per_second.max(axis=1, keepdims=True)
    active = per_second >= MIN_SECOND_SHARE * busiest
    first = np.argmax(active, axis=1)
    last = seconds - 1 - np.argmax(active[:, ::-1], axis=1)
    index = np.arange(seconds)
    inside = (index >= first[:, None]) & (index <= last[:, None])
    paused = (inside & (per_second < PAUSE_SHARE * busiest)).any(axis=1)
    centre = seconds // 2
    # The RMS of the active span: the quiet seconds before a walk began do not dilute it.
    rms_sq = (per_second * inside).sum(axis=1) / (last - first + 1)
    filled = (last - first + 1 >= MIN_ACTIVE_S) & (first <= centre) & (last >= centre) & ~paused
    # Most of a day is sitting or still: only windows that pass these cheap tests are worth
    # the correlation.
    candidates = np.flatnonzero(filled & (rms_sq >= MIN_RMS_G * MIN_RMS_G))
    steps = np.full(n, np.nan)
    if candidates.size:
        start = GRID_HZ * first[candidates]
        stop = GRID_HZ * (last[candidates] + 1)
        # Only the active span is correlated: what lies outside it is not the walk (and a
        # correlation normalised by the span's energy must not see it).
        bins = np.arange(width)
        span = (bins >= start[:, None]) & (bins < stop[:, None])
        xs = np.where(span, windows[candidates] - mean[candidates], 0.0)
        cum = np.zeros((candidates.size, width + 1))  # [i, k]: sum of xs[i, :k]^2
        np.cumsum(xs * xs, axis=1, out=cum[:, 1:])
        steps[candidates] = _rhythm(xs, cum, start, stop)
    return steps, per_second


def _rhythm(
    x: NDArray[np.float64],
    cum: NDArray[np.float64],
    start: NDArray[np.int64],
    stop: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Each de-meaned row's step period in s, NaN where it holds no gait-like rhythm.

    `cum[i, k]` is the sum of row i's squares before bin k (so one column more than `x`); the
    walking in row i, if any, lies in its bins `start[i]` to `stop[i]` (its active seconds).
    """
    n = x.shape[0]
    energy = cum[:, -1]
    spectrum = np.fft.rfft(x, _FFT_SIZE, axis=1)
    raw = spectrum.real**2 + spectrum.imag**2
    floor = np.partition(raw[:, _FLOOR_LO_BIN:_FLOOR_HI_BIN], _FLOOR_MID, axis=1)[
        :, _FLOOR_MID, None
    ]
    power = np.maximum(raw - floor, 0.0) * _SMOOTH
    acf = np.fft.irfft(power, _FFT_SIZE, axis=1)[:, : _LAG_HI + 2]
    # Back to the scale of the unweighted signal, so that the energy normalisation below holds.
    acf *= np.divide(energy, acf[:, 0], out=np.zeros(n), where=acf[:, 0] > 0)[:, None]
    # Normalised by the mean energy of the two overlapping parts of the active span: a long lag
    # is not penalised for its shorter overlap, nor a short walk for the quiet seconds around it
    # (four steps give three step-to-step matches, not the window's worth); but a signal that
    # dies away (the ringing after a knock, which matches itself perfectly up to scale) is,
    # since its two parts differ in energy.
    # x is zero outside its span, so its running sum of squares is 0 before the span and the
    # whole energy after it: the parts' energies are two look-ups each, without clipping to it.
    width = x.shape[1]
    padded = cum.ravel()
    row = (width + 1) * np.arange(n)[:, None]
    head = padded[row + np.clip(stop[:, None] - _LAGS, 0, width)]
    tail = energy[:, None] - padded[row + np.clip(start[:, None] + _LAGS, 0, width)]
    denom = 0.5 * (head + tail)
    r = np.divide(acf, denom, out=np.zeros_like(acf), where=denom > 0)
    # A correlation over a shorter overlap is noisier: the threshold rises with 1/sqrt(overlap)
    # beyond the longest step period's overlap in a full window (a table by span length).
    need = _NEED[stop - start]

    # Peaks, located and measured between lags by a parabola through their three points: a
    # fast rhythm spans few bins, and its peak can fall between two of them.
    before = r[:, _LAG_LO - 1 : _LAG_HI]
    mid = r[:, _LAG_LO : _LAG_HI + 1]
    after = r[:, _LAG_LO + 1 : _LAG_HI + 2]
    curvature = before - 2.0 * mid + after
    is_peak = (mid >= before) & (mid > after) & (curvature < 0)
    slope = before - after
    shift = np.divide(0.5 * slope, curvature, out=np.zeros_like(mid), where=is_peak).clip(-0.5, 0.5)
    height = np.where(is_peak, mid - 0.25 * slope * shift, -np.inf)
    height[height < need[:, _LAG_LO : _LAG_HI + 1]] = -np.inf
    best = height.max(axis=1)
    strong = height >= (_STRONG_FRACTION * best)[:, None]
    found = np.isfinite(best)  # some peak reached its threshold
    first = np.argmax(strong, axis=1)
    rows = np.arange(n)
    period_bins = first + _LAG_LO + shift[rows, first]

    # The rhythm must hold for two periods where the window allows: noise that passes through a
    # resonance (a vehicle's suspension) matches itself for one period by chance, then decays.
    twice = np.rint(2.0 * period_bins).astype(np.int64)
    testable = twice <= _LAG_HI
    near = np.clip(twice, 1, _LAG_HI)
    again = np.maximum(np.maximum(r[rows, near - 1], r[rows, near]), r[rows, near + 1])
    # The first period's test has paid for the overlap; the second must reach SECOND_PERIOD.
    holds = ~testable | (again >= SECOND_PERIOD_REGULARITY)

    # The best correlation in the middle half of the period: the other foot's step, if any.
    lags = _LAGS[None, :]
    middle = (lags >= 0.375 * period_bins[:, None]) & (lags <= 0.625 * period_bins[:, None])
    other_step = np.where(middle, r, -np.inf).max(axis=1)
    is_stride = np.where(
        period_bins < 2 * STEP_MIN_S * GRID_HZ,
        False,
        (period_bins > STEP_MAX_S * GRID_HZ) | (other_step >= OTHER_STEP_MIN),
    )
    step_s = np.where(is_stride, period_bins / 2.0, period_bins) / GRID_HZ
    in_band = (step_s >= STEP_MIN_S) & (step_s <= STEP_MAX_S)
    # A slow step (under 75 steps/min) repeats only four to six times in the window, like the
    # bounce of a car's or bus's suspension (0.8-1.3 Hz): it must match better, from 0.6 at
    # 0.8 s rising to LONG_PERIOD_REGULARITY at the slowest step. A stride (two steps) is
    # judged by its steps' rate.
    slow = np.clip((step_s - SLOW_STEP_S) / (STEP_MAX_S - SLOW_STEP_S), 0.0, 1.0)
    regular = height[rows, first] >= MIN_REGULARITY + slow * (
        LONG_PERIOD_REGULARITY - MIN_REGULARITY
    )
    return np.where(found & holds & in_band & regular, step_s, np.nan)
