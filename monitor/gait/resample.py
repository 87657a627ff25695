"""Raw samples at any rate onto the detector's fixed 20 Hz grid: bin means, short holes bridged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.gait.codec import StateReader, StateWriter

# Walking lives below 3 Hz (180 steps/min) and its stride below 1.5 Hz, so 20 Hz keeps every
# component the detector uses while making the work per second independent of the device's rate.
# Averaging the samples of each 50 ms bin is the anti-alias filter: vibration at 17-23 Hz, the
# only band that could fold into the gait band, is attenuated at least sixfold.
GRID_HZ = 20

# BLE links drop packets. A hole up to this long is bridged by a straight line (at the slowest
# cadence counted a step takes 1.25 s, so at most a fraction of a step is invented); a longer
# one ends the signal, and no walking is counted across it.
MAX_BRIDGED_GAP_S = 0.5
MAX_BRIDGED_GAP_BINS = round(MAX_BRIDGED_GAP_S * GRID_HZ)

# Magnitudes are summed in fixed point (1/65536 g) so that a bin's mean does not depend on how
# the samples were split into blocks: streaming then gives exactly the result of one batch.
FIXED_POINT_ONE_G = 1 << 16


@dataclass(frozen=True, slots=True)
class GridRun:
    """Grid values from bin `first_bin` on; `new_segment` after a long gap or at the start."""

    first_bin: int
    values: NDArray[np.float64]
    new_segment: bool


class Resampler:
    """Turns time-ordered fixed-point magnitudes into runs of 20 Hz grid values, block by block."""

    __slots__ = ("_has_last", "_last_bin", "_last_value", "_open_bin", "_open_count", "_open_sum")

    def __init__(self) -> None:
        self._open_bin = 0  # the bin of the newest sample: more samples may still fall in it
        self._open_sum = 0
        self._open_count = 0  # 0: no open bin
        self._has_last = False
        self._last_bin = 0  # the newest completed bin, the left end of the next interpolation
        self._last_value = 0.0

    @property
    def gap_pending(self) -> bool:
        """Whether the newest sample already lies beyond a hole too long to bridge."""
        return (
            self._has_last
            and self._open_count > 0
            and self._open_bin - self._last_bin > MAX_BRIDGED_GAP_BINS
        )

    def push(self, bins: NDArray[np.int64], fixed: NDArray[np.int64]) -> list[GridRun]:
        """Add samples (grid bin of each, non-decreasing; fixed-point norm); return the new runs."""
        if bins.size == 0:
            return []
        starts = np.flatnonzero(bins[1:] != bins[:-1]) + 1
        starts = np.concatenate((np.zeros(1, np.int64), starts))
        keys = bins[starts]
        sums = np.add.reduceat(fixed, starts)
        counts = np.diff(np.append(starts, bins.size))
        if self._open_count:
            if keys[0] == self._open_bin:
                sums[0] += self._open_sum
                counts[0] += self._open_count
            else:
                keys = np.concatenate(([self._open_bin], keys))
                sums = np.concatenate(([self._open_sum], sums))
                counts = np.concatenate(([self._open_count], counts))
        self._open_bin = int(keys[-1])
        self._open_sum = int(sums[-1])
        self._open_count = int(counts[-1])
        done = keys.size - 1
        means = sums[:done] / (counts[:done] * float(FIXED_POINT_ONE_G))
        return self._emit(keys[:done], means)

    def finish(self) -> list[GridRun]:
        """Complete the newest bin (no more samples will come); return the runs that gives."""
        if not self._open_count:
            return []
        key = np.array([self._open_bin], np.int64)
        mean = np.array([self._open_sum / (self._open_count * float(FIXED_POINT_ONE_G))])
        self._open_count = 0
        self._open_sum = 0
        return self._emit(key, mean)

    def _emit(self, keys: NDArray[np.int64], means: NDArray[np.float64]) -> list[GridRun]:
        if keys.size == 0:
            return []
        runs: list[GridRun] = []
        if not self._has_last:
            self._has_last = True
            runs.append(GridRun(int(keys[0]), means[:1].copy(), new_segment=True))
            self._last_bin = int(keys[0])
            self._last_value = float(means[0])
            keys = keys[1:]
            means = means[1:]
            if keys.size == 0:
                return runs
        if keys[-1] - self._last_bin == keys.size:
            # Every bin holds a sample (a device at more than 20 Hz): nothing to fill or break.
            self._last_bin = int(keys[-1])
            self._last_value = float(means[-1])
            runs.append(GridRun(int(keys[0]), means, new_segment=False))
            return runs
        left_k = np.concatenate(([self._last_bin], keys[:-1]))
        left_v = np.concatenate(([self._last_value], means[:-1]))
        step = keys - left_k
        broken = step > MAX_BRIDGED_GAP_BINS
        emitted = np.where(broken, 1, step)
        pair = np.repeat(np.arange(keys.size), emitted)
        ends = np.cumsum(emitted)
        offset = np.arange(int(ends[-1])) - np.repeat(ends - emitted, emitted) + 1
        out_bins = np.where(broken[pair], keys[pair], left_k[pair] + offset)
        slope = (means - left_v) / step
        out = np.where(out_bins == keys[pair], means[pair], left_v[pair] + slope[pair] * offset)
        self._last_bin = int(keys[-1])
        self._last_value = float(means[-1])
        opens = (ends - emitted)[broken]  # outputs that begin a new segment after a long hole
        bounds = np.unique(np.concatenate(([0], opens, [out.size])))
        opening = set(opens.tolist())
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            runs.append(GridRun(int(out_bins[a]), out[a:b], new_segment=a in opening))
        return runs

    def dump(self, w: StateWriter) -> None:
        """Write this resampler's state."""
        w.ints(self._open_bin, self._open_sum, self._open_count, self._last_bin, self._has_last)
        w.floats(self._last_value)

    @classmethod
    def load(cls, r: StateReader) -> Resampler:
        """Read a resampler written by `dump`."""
        self = cls()
        self._open_bin, self._open_sum, self._open_count, self._last_bin, has_last = r.ints(5)
        self._has_last = bool(has_last)
        (self._last_value,) = r.floats(1)
        return self
