"""The detector's pipeline, fed block by block: grid, band-pass, windows, verdicts, bouts, minutes.

Every stage carries its state from one block to the next and does the same arithmetic in the
same order whatever the block sizes, so a recording fed in small blocks gives exactly the
result of feeding it at once.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from monitor.gait.bandpass import CHUNK, STATE_SIZE, BandPass
from monitor.gait.bouts import BoutTracker, Piece
from monitor.gait.codec import GaitStateError, StateReader, StateWriter
from monitor.gait.minutes import MinuteBook
from monitor.gait.models import Bout, MinuteActivity
from monitor.gait.periodicity import WINDOW_BINS, step_periods
from monitor.gait.resample import FIXED_POINT_ONE_G, GRID_HZ, GridRun, Resampler

# The band keeps the stride of the slowest gait counted (0.4 Hz at 48 steps/min) and the step
# of the quickest (3 Hz at 180), and removes gravity, posture changes and the ringing of impacts.
# The 2nd-order Butterworth band-pass for it is in bandpass.py.
BAND_HZ = (0.4, 4.0)

# Each second is judged by the window centred on it: window starts 2 s before the second.
_LEAD_BINS = (WINDOW_BINS - GRID_HZ) // 2
_OWN_BLOCK = _LEAD_BINS // GRID_HZ  # the block of a window that is the second it judges
_STATE_BUFFER_LIMIT = 4 * WINDOW_BINS

# The rhythm of gait moves the norm by up to about half a g at the trunk and thigh; what goes
# beyond is the spike of an impact (a heel strike, a phone knocking in a pocket), 20-50 ms
# long. At a low rate a device without an anti-alias filter catches such a spike at random,
# and folded down it becomes noise in the gait band: clipped, it weighs no more than the swing.
CLIP_G = 0.5
_CLIP_LO = round((1.0 - CLIP_G) * FIXED_POINT_ONE_G)
_CLIP_HI = round((1.0 + CLIP_G) * FIXED_POINT_ONE_G)


def fixed_point_norm(xyz: NDArray[np.float64]) -> NDArray[np.int64]:
    """The Euclidean norm of each row (in g), in fixed point."""
    norm: NDArray[np.float64] = np.sqrt(np.einsum("ij,ij->i", xyz, xyz))
    return np.rint(norm * FIXED_POINT_ONE_G).astype(np.int64)


def grid_bins(t: NDArray[np.float64]) -> NDArray[np.int64]:
    """The 20 Hz grid bin of each time (seconds)."""
    return np.floor(t * GRID_HZ).astype(np.int64)


class GaitEngine:
    """Turns time-ordered samples into per-minute activity (and, if asked, step times and bouts)."""

    __slots__ = (
        "_after",
        "_book",
        "_bouts",
        "_buf",
        "_buf_start",
        "_filter",
        "_finished",
        "_keep",
        "_resampler",
        "_seg_open",
        "_steps",
        "_tracker",
    )

    def __init__(self, *, keep_steps: bool = False) -> None:
        self._resampler = Resampler()
        self._tracker = BoutTracker()
        self._book = MinuteBook()
        self._filter = BandPass()
        self._buf = np.empty(0)
        self._buf_start = 0  # grid bin of self._buf[0]
        self._seg_open = False
        self._after = (0.0, 0.0)  # energies of the two seconds after the latest judged one
        self._finished = False
        self._keep = keep_steps
        self._steps: list[NDArray[np.float64]] = []
        self._bouts: list[Bout] = []

    def push(self, bins: NDArray[np.int64], fixed: NDArray[np.int64]) -> None:
        """Add samples: grid bin of each (non-decreasing) and fixed-point norm."""
        if bins.size == 0:
            return
        self._book.add_samples(bins, fixed)
        for run in self._resampler.push(bins, np.clip(fixed, _CLIP_LO, _CLIP_HI)):
            self._take_run(run)
        if self._resampler.gap_pending:
            self._end_segment()
        self._collect()

    def finish(self) -> None:
        """No more samples will come: decide everything."""
        for run in self._resampler.finish():
            self._take_run(run)
        self._end_segment()
        self._tracker.finish()
        self._collect()
        self._finished = True

    def pop_minutes(self, raw_horizon_bin: int | None) -> list[MinuteActivity]:
        """Minutes now final; `raw_horizon_bin` is the grid bin of the newest sample, if any."""
        if self._finished:
            return self._book.pop_final(float("inf"))
        horizon = self._tracker.horizon_bin()
        limits = [b for b in (horizon, raw_horizon_bin) if b is not None]
        if not limits:
            return []
        return self._book.pop_final(min(limits))

    def take_steps(self) -> NDArray[np.float64]:
        """Step times found so far (only when built with `keep_steps`)."""
        return np.concatenate(self._steps) if self._steps else np.empty(0)

    def take_bouts(self) -> list[Bout]:
        """Bouts closed so far (only when built with `keep_steps`)."""
        return list(self._bouts)

    def _take_run(self, run: GridRun) -> None:
        if run.new_segment:
            self._end_segment()
            self._start_segment(run.first_bin, float(run.values[0]))
        y = self._filter.filter(run.values)
        self._buf = np.concatenate((self._buf, y))
        end = self._buf_start + self._buf.size
        first = self._tracker.next_second
        last = (end - WINDOW_BINS + _LEAD_BINS) // GRID_HZ  # the last second with a full window
        if last < first:
            return
        offset = GRID_HZ * first - _LEAD_BINS - self._buf_start
        windows = sliding_window_view(self._buf, WINDOW_BINS)[offset::GRID_HZ][: last - first + 1]
        periods, seconds = step_periods(windows)
        lead: list[Piece] | None = None
        if self._tracker.awaits_lead:
            # The seconds before the first full window: its first blocks, and a part-second.
            e0, e1 = float(seconds[0, 0]), float(seconds[0, 1])
            s0 = GRID_HZ * first
            lead = [
                (self._buf_start, s0 - 2 * GRID_HZ, e0),
                (s0 - 2 * GRID_HZ, s0 - GRID_HZ, e0),
                (s0 - GRID_HZ, s0, e1),
            ]
            lead = [piece for piece in lead if piece[0] < piece[1]]
        self._tracker.push(periods.tolist(), seconds[:, _OWN_BLOCK].tolist(), lead)
        self._after = (float(seconds[-1, _OWN_BLOCK + 1]), float(seconds[-1, _OWN_BLOCK + 2]))
        keep_from = GRID_HZ * self._tracker.next_second - _LEAD_BINS - self._buf_start
        self._buf = self._buf[keep_from:].copy()
        self._buf_start += keep_from

    def _start_segment(self, first_bin: int, first_value: float) -> None:
        # Start the filter in its steady state for the first value: no transient to look periodic.
        self._filter.restart(first_value)
        self._buf = np.empty(0)
        self._buf_start = first_bin
        first_second = -(-(first_bin + _LEAD_BINS) // GRID_HZ)
        self._tracker.start_segment(first_bin, first_second)
        self._seg_open = True

    def _end_segment(self) -> None:
        if not self._seg_open:
            return
        end = self._buf_start + self._buf.size
        after = GRID_HZ * self._tracker.next_second  # the first bin without a verdict
        tail: list[Piece] = []
        if self._tracker.awaits_lead:
            if self._tracker.suspended:
                tail = self._pieces(end)
        else:
            e3, e4 = self._after
            tail = [
                (after, after + GRID_HZ, e3),
                (after + GRID_HZ, after + 2 * GRID_HZ, e4),
                (after + 2 * GRID_HZ, end, e4),
            ]
            tail = [(a, min(b, end), e) for a, b, e in tail if a < min(b, end)]
        self._tracker.end_segment(end, tail)
        self._seg_open = False

    def _pieces(self, end: int) -> list[Piece]:
        """The buffered signal cut at whole seconds, each piece with its mean square."""
        y = self._buf - self._buf.mean() if self._buf.size else self._buf
        pieces: list[Piece] = []
        a = self._buf_start
        while a < end:
            b = min(end, (a // GRID_HZ + 1) * GRID_HZ)
            part = y[a - self._buf_start : b - self._buf_start]
            pieces.append((a, b, float(np.mean(part * part))))
            a = b
        return pieces

    def _collect(self) -> None:
        walked = self._tracker.take()
        if walked.starts:
            starts = np.array(walked.starts, np.int64)
            ends = np.array(walked.ends, np.int64)
            periods = np.array(walked.periods)
            phase0 = np.array(walked.phases)
            phase1 = phase0 + (ends - starts) / (GRID_HZ * periods)
            below = np.floor(phase0).astype(np.int64)
            counts = np.floor(phase1).astype(np.int64) - below
            which = np.repeat(np.arange(starts.size), counts)
            first_of = np.repeat(np.cumsum(counts) - counts, counts)
            whole = below[which] + 1 + np.arange(which.size) - first_of
            times = starts[which] / GRID_HZ + (whole - phase0[which]) * periods[which]
            self._book.add_steps(times)
            self._book.add_walking(starts, ends, periods)
            if self._keep:
                self._steps.append(times)
        if self._keep:
            self._bouts.extend(
                Bout(start=a / GRID_HZ, end=b / GRID_HZ, steps=n) for a, b, n in walked.bouts
            )

    def dump(self, w: StateWriter) -> None:
        """Write the engine's state (not the kept steps and bouts, which batch use only needs)."""
        self._resampler.dump(w)
        self._tracker.dump(w)
        self._book.dump(w)
        w.ints(self._buf_start, int(self._seg_open), int(self._finished))
        w.floats(*self._after)
        w.float_array(self._filter.state())
        w.float_array(self._buf)

    @classmethod
    def load(cls, r: StateReader) -> GaitEngine:
        """Read an engine written by `dump`."""
        self = cls()
        self._resampler = Resampler.load(r)
        self._tracker = BoutTracker.load(r)
        self._book = MinuteBook.load(r)
        self._buf_start, seg_open, finished = r.ints(3)
        self._seg_open = bool(seg_open)
        self._finished = bool(finished)
        after = r.floats(2)
        self._after = (after[0], after[1])
        try:
            self._filter = BandPass.from_state(r.float_array(STATE_SIZE + CHUNK))
        except ValueError as error:
            raise GaitStateError("gait state has a malformed filter state") from error
        self._buf = r.float_array(_STATE_BUFFER_LIMIT)
        return self
