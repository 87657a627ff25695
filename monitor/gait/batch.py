"""The detector on a whole recording at once."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from monitor.gait.engine import GaitEngine, fixed_point_norm, grid_bins
from monitor.gait.models import GaitResult


def analyze_gait(t: ArrayLike, xyz: ArrayLike) -> GaitResult:
    """Steps, bouts and minutes in a recording: t in s (non-decreasing), xyz N x 3 in g.

    Raises ValueError for mismatched shapes, non-finite values or time that goes backwards.
    """
    times = np.asarray(t, dtype=np.float64)
    acc = np.asarray(xyz, dtype=np.float64)
    if times.ndim != 1 or acc.shape != (times.size, 3):
        raise ValueError(f"need N times and N x 3 samples, got {times.shape} and {acc.shape}")
    if not np.isfinite(times).all() or not np.isfinite(acc).all():
        raise ValueError("times and samples must be finite numbers")
    backwards = np.flatnonzero(np.diff(times) < 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        raise ValueError(f"time goes backwards at sample {i} ({times[i - 1]} then {times[i]})")
    engine = GaitEngine(keep_steps=True)
    engine.push(grid_bins(times), fixed_point_norm(acc))
    engine.finish()
    return GaitResult(
        step_times=engine.take_steps(),
        bouts=tuple(engine.take_bouts()),
        minutes=tuple(engine.pop_minutes(None)),
    )
