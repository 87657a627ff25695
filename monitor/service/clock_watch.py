"""Clock steps: the wall clock read against a monotonic one; a step of minutes is one log line.

NTP slews small errors (the monotonic and wall clocks then drift apart slowly, which is followed)
and steps large ones; a step also comes from a bad NTP answer, a hand-set clock, a resumed
machine. The scheduler holds its judgement across a step until it is confirmed
(monitor.service.scheduler).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

# A wall clock that moves this much more (or less) than the monotonic clock between two looks
# has stepped. "A few minutes": far above NTP's slewing (at most 0.5 ms a second, so 15 ms in
# the 30 s between looks) and a busy machine's lateness, well below a day's checkpoints.
STEP_THRESHOLD_S = 300.0


@dataclass(frozen=True, slots=True)
class ClockStep:
    """The wall clock moved `seconds` (forward > 0, back < 0) against the monotonic clock."""

    seconds: float
    now: datetime  # the wall clock after the step

    @property
    def forward(self) -> bool:
        """Whether the wall clock jumped ahead."""
        return self.seconds > 0


class ClockWatch:
    """Compares the wall clock with a monotonic clock at each `observe`; reports each step once."""

    def __init__(
        self,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        *,
        threshold_s: float = STEP_THRESHOLD_S,
    ) -> None:
        self._now = now
        self._monotonic = monotonic
        self._threshold_s = threshold_s
        self._offset = self._read()[1]

    def _read(self) -> tuple[datetime, float]:
        wall = self._now()
        return wall, wall.timestamp() - self._monotonic()

    def observe(self) -> ClockStep | None:
        """A step since the last look, if the wall clock made one (then logged), else None."""
        wall, offset = self._read()
        moved = offset - self._offset
        # Followed either way: slow drift is absorbed, a step is reported once.
        self._offset = offset
        if abs(moved) < self._threshold_s:
            return None
        log.warning(
            "the system clock stepped %s by %s (against the monotonic clock); now %s",
            "forward" if moved > 0 else "back",
            timedelta(seconds=round(abs(moved))),
            wall.isoformat(timespec="seconds"),
        )
        return ClockStep(moved, wall)
