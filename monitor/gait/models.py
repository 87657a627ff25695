"""What the gait detector reports: walking bouts, per-minute activity, a recording's result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class MinuteActivity:
    """Activity in one whole minute of the absolute time axis (`minute` = floor(t / 60))."""

    minute: int
    steps: int
    walking_s: float
    """Seconds of this minute spent in walking at a cadence of at least 60 steps/min."""
    enmo_mg: float
    """Mean ENMO (Euclidean norm minus 1 g, floored at 0) over the minute's samples, in milli-g."""
    moving: bool
    """Whether `enmo_mg` reaches `MOVING_ENMO_MG`, the threshold of activity above rest."""
    samples: int


@dataclass(frozen=True, slots=True)
class Bout:
    """A stretch of continuous walking: from `start` to `end` (seconds), `steps` steps in it."""

    start: float
    end: float
    steps: int

    @property
    def duration_s(self) -> float:
        """How long the bout lasted, in seconds."""
        return self.end - self.start

    @property
    def cadence_spm(self) -> float:
        """Mean cadence over the bout, in steps per minute."""
        return 60.0 * self.steps / self.duration_s if self.duration_s > 0 else 0.0


@dataclass(frozen=True, slots=True, eq=False)
class GaitResult:
    """Steps, walking bouts and per-minute activity found in one recording."""

    step_times: NDArray[np.float64]
    """The time of every step, ascending, on the recording's time axis."""
    bouts: tuple[Bout, ...]
    minutes: tuple[MinuteActivity, ...]
    """Every minute that holds at least one sample, ascending."""

    @property
    def steps(self) -> int:
        """Total steps."""
        return int(self.step_times.size)

    @property
    def walking_minutes(self) -> float:
        """Minutes of walking at 60 steps/min or more (short bouts add up within a minute)."""
        return sum(m.walking_s for m in self.minutes) / 60.0

    @property
    def cadence_spm(self) -> float | None:
        """Mean cadence over all bouts in steps per minute, or None without any bout."""
        duration = sum(b.duration_s for b in self.bouts)
        if duration <= 0:
            return None
        return 60.0 * sum(b.steps for b in self.bouts) / duration
