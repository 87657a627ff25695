"""The detector for live streams: fed as BLE notifications arrive, returns minutes as they close."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.gait.codec import GaitStateError, StateReader, StateWriter
from monitor.gait.engine import GaitEngine, fixed_point_norm, grid_bins
from monitor.gait.models import MinuteActivity
from monitor.gait.resample import GRID_HZ

_MAGIC = b"GAIT"
_VERSION = 1

# Samples are held and processed together, so that numpy's per-call cost is paid per block
# of seconds, not per notification: once they span _BATCH_S and number at least
# _BATCH_MIN_SAMPLES, or span _BATCH_MAX_S, or number _BATCH_SAMPLES. The per-call cost is
# the same per batch at any rate, so a slow device (12.5 Hz) is held for 60 s and a faster
# one for 30 s: each batch then holds at least 750 samples (12.5 Hz, 10-sample blocks:
# 0.27 M samples/s at 15 s, 0.85 M at 60 s). A minute is then final about 30-40 s after it
# ends (60-70 s at 12.5 Hz), which no rule notices (walking minutes are judged at checkpoints
# hours apart, sitting after two hours), and results cannot change (the pipeline is
# block-invariant).
_BATCH_S = 30.0
_BATCH_MAX_S = 60.0
_BATCH_MIN_SAMPLES = 750
_BATCH_SAMPLES = 4096

_MAX_READY = 1 << 16


class StreamingGait:
    """Steps, walking and intensity per minute from one accelerometer stream (t in s, xyz in g).

    Samples older than the newest one already fed, and samples with a non-finite value, are
    dropped (BLE timestamps are rebuilt by the receiver and can overlap); `dropped` counts them.
    """

    __slots__ = (
        "_engine",
        "_floor",
        "_latest",
        "_pending",
        "_pending_since",
        "_ready",
        "_t",
        "_xyz",
        "dropped",
    )

    def __init__(self) -> None:
        self._engine = GaitEngine()
        self._t: list[NDArray[np.float64]] = []
        self._xyz: list[NDArray[np.float64]] = []
        self._pending = 0
        self._pending_since = 0.0
        self._latest = -np.inf  # newest accepted sample time
        self._floor = -np.inf  # after a flush, samples before this time belong to closed minutes
        self._ready: list[MinuteActivity] = []
        self.dropped = 0

    def feed(self, t: ArrayLike, xyz: ArrayLike) -> list[MinuteActivity]:
        """Add samples (times in s, N x 3 acceleration in g); return the minutes now final."""
        times = np.array(t, dtype=np.float64)
        acc = np.array(xyz, dtype=np.float64)
        if times.ndim != 1 or acc.shape != (times.size, 3):
            raise ValueError(
                f"feed needs N times and N x 3 samples, got {times.shape} and {acc.shape}"
            )
        if times.size == 0:
            return self._drain()
        if not self._pending:
            self._pending_since = float(times[0])
        self._t.append(times)
        self._xyz.append(acc)
        self._pending += times.size
        held_s = times[-1] - self._pending_since
        if (
            self._pending >= _BATCH_SAMPLES
            or held_s >= _BATCH_MAX_S
            or (held_s >= _BATCH_S and self._pending >= _BATCH_MIN_SAMPLES)
        ):
            self._process()
        return self._drain()

    def flush(self) -> list[MinuteActivity]:
        """Close the stream: decide and return every remaining minute.

        Feeding may go on afterwards as a new stream; its samples must lie after the last
        minute returned here (earlier ones are dropped), so no minute is ever returned twice.
        """
        self._process()
        self._engine.finish()
        self._ready.extend(self._engine.pop_minutes(None))
        if np.isfinite(self._latest):
            last_minute = int(grid_bins(np.array([self._latest]))[0]) // (60 * GRID_HZ)
            self._floor = 60.0 * (last_minute + 1)
        self._engine = GaitEngine()
        return self._drain()

    def to_state(self) -> bytes:
        """The detector's whole state, versioned and compact, for `from_state` after a restart."""
        self._process()
        w = StateWriter()
        w.raw(_MAGIC)
        w.ints(_VERSION, self.dropped, len(self._ready))
        w.floats(self._latest, self._floor)
        for m in self._ready:
            w.ints(m.minute, m.steps, m.samples, int(m.moving))
            w.floats(m.walking_s, m.enmo_mg)
        self._engine.dump(w)
        return w.getvalue()

    @classmethod
    def from_state(cls, state: bytes) -> StreamingGait:
        """A detector that carries on exactly where the one that wrote `state` stopped."""
        r = StateReader(state)
        if r.raw(len(_MAGIC)) != _MAGIC:
            raise GaitStateError("not a gait state")
        version, dropped, ready = r.ints(3)
        if version != _VERSION:
            raise GaitStateError(f"gait state version {version} is not {_VERSION}")
        if not 0 <= ready <= _MAX_READY:
            raise GaitStateError("gait state has an impossible number of minutes")
        self = cls()
        self.dropped = dropped
        self._latest, self._floor = r.floats(2)
        for _ in range(ready):
            minute, steps, samples, moving = r.ints(4)
            walking_s, enmo_mg = r.floats(2)
            self._ready.append(
                MinuteActivity(minute, steps, walking_s, enmo_mg, bool(moving), samples)
            )
        self._engine = GaitEngine.load(r)
        r.finish()
        return self

    def _drain(self) -> list[MinuteActivity]:
        out = self._ready
        self._ready = []
        return out

    def _process(self) -> None:
        if not self._pending:
            return
        if len(self._t) == 1:
            t, xyz = self._t[0], self._xyz[0]
        else:
            t, xyz = np.concatenate(self._t), np.concatenate(self._xyz)
        self._t.clear()
        self._xyz.clear()
        self._pending = 0
        # fmax ignores NaN, so a bad time cannot hide the newest good one.
        newest_before = np.fmax.accumulate(np.concatenate(([self._latest], t[:-1])))
        keep = (
            np.isfinite(t)
            & np.isfinite(xyz).all(axis=1)
            & (t >= newest_before)
            & (t >= self._floor)
        )
        if not keep.all():
            self.dropped += int(keep.size - np.count_nonzero(keep))
            t, xyz = t[keep], xyz[keep]
        if t.size == 0:
            return
        self._latest = float(t[-1])
        bins = grid_bins(t)
        self._engine.push(bins, fixed_point_norm(xyz))
        self._ready.extend(self._engine.pop_minutes(int(bins[-1])))
