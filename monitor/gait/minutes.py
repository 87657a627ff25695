"""Per-minute activity: ENMO from every sample, steps and walking seconds from the bouts."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from monitor.gait.codec import GaitStateError, StateReader, StateWriter
from monitor.gait.models import MinuteActivity
from monitor.gait.resample import FIXED_POINT_ONE_G, GRID_HZ

# A minute counts as moving when its mean ENMO reaches this. Sitting, lying and standing still
# stay under about 20 mg at the wrist and the hip (sensor noise plus the few mg of error left
# by a factory calibration); the conventional light-activity cut-point used with GGIR is 40 mg
# at the wrist, and slow walking at the hip or lower back gives 40-100 mg. 30 mg sits between.
MOVING_ENMO_MG = 30.0

# recovery-domain.md: a walking minute needs a cadence of at least ~60 steps/minute.
WALKING_MIN_CADENCE_SPM = 60.0

_BINS_PER_MINUTE = 60 * GRID_HZ
_FIELDS = 4  # ENMO sum (fixed point), samples, steps, walking bins
_MAX_OPEN_MINUTES = 1 << 20


class MinuteBook:
    """Sums for the minutes not yet final; hands out those that are."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[int, list[int]] = {}

    def _row(self, minute: int) -> list[int]:
        row = self._open.get(minute)
        if row is None:
            row = self._open[minute] = [0] * _FIELDS
        return row

    def add_samples(self, bins: NDArray[np.int64], fixed: NDArray[np.int64]) -> None:
        """Count samples (grid bin of each, ascending; fixed-point magnitude) into their minutes."""
        minutes = bins // _BINS_PER_MINUTE
        starts = np.flatnonzero(minutes[1:] != minutes[:-1]) + 1
        starts = np.concatenate((np.zeros(1, np.int64), starts))
        enmo = np.maximum(fixed - FIXED_POINT_ONE_G, 0)
        sums = np.add.reduceat(enmo, starts)
        counts = np.diff(np.append(starts, bins.size))
        for m, s, c in zip(minutes[starts].tolist(), sums.tolist(), counts.tolist(), strict=True):
            row = self._row(m)
            row[0] += s
            row[1] += c

    def add_steps(self, times: NDArray[np.float64]) -> None:
        """Count steps (times in seconds) into their minutes."""
        if times.size == 0:
            return
        minutes, counts = np.unique(np.floor(times / 60.0).astype(np.int64), return_counts=True)
        for m, c in zip(minutes.tolist(), counts.tolist(), strict=True):
            self._row(m)[2] += c

    def add_walking(
        self, starts: NDArray[np.int64], ends: NDArray[np.int64], periods: NDArray[np.float64]
    ) -> None:
        """Add walking intervals (bins, each inside one second) at cadence high enough to count."""
        counted = 60.0 / periods >= WALKING_MIN_CADENCE_SPM
        if not counted.any():
            return
        minutes = starts[counted] // _BINS_PER_MINUTE
        lengths = (ends - starts)[counted]
        keys, inverse = np.unique(minutes, return_inverse=True)
        totals = np.bincount(inverse, weights=lengths).astype(np.int64)
        for m, b in zip(keys.tolist(), totals.tolist(), strict=True):
            self._row(m)[3] += b

    def pop_final(self, horizon_bin: float) -> list[MinuteActivity]:
        """Remove and return, ascending, the minutes that end at or before `horizon_bin`."""
        if horizon_bin == float("inf"):
            done = sorted(self._open)
        else:
            last = horizon_bin // _BINS_PER_MINUTE  # minutes before this one are final
            done = sorted(m for m in self._open if m < last)
        out: list[MinuteActivity] = []
        for m in done:
            enmo_sum, samples, steps, walking_bins = self._open.pop(m)
            enmo_mg = 1000.0 * enmo_sum / (samples * FIXED_POINT_ONE_G) if samples else 0.0
            out.append(
                MinuteActivity(
                    minute=m,
                    steps=steps,
                    walking_s=walking_bins / GRID_HZ,
                    enmo_mg=enmo_mg,
                    moving=enmo_mg >= MOVING_ENMO_MG,
                    samples=samples,
                )
            )
        return out

    def dump(self, w: StateWriter) -> None:
        """Write the open minutes."""
        keys = sorted(self._open)
        w.int_array(np.array(keys, np.int64))
        w.int_array(np.array([self._open[k] for k in keys], np.int64).reshape(-1))

    @classmethod
    def load(cls, r: StateReader) -> MinuteBook:
        """Read a book written by `dump`."""
        self = cls()
        keys = r.int_array(_MAX_OPEN_MINUTES)
        rows = r.int_array(_FIELDS * _MAX_OPEN_MINUTES)
        if rows.size != _FIELDS * keys.size:
            raise GaitStateError("gait state has a malformed minute table")
        for k, row in zip(keys.tolist(), rows.reshape(-1, _FIELDS).tolist(), strict=True):
            self._open[k] = row
        return self
