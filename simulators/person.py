"""A simulated person: when they walk, and so how many steps they have taken by any moment."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class Wearer(Protocol):
    """What a simulated wearable needs from the person wearing it."""

    def steps_until(self, moment: datetime) -> int:
        """Steps taken from the start of the simulation until `moment` (never decreasing)."""
        ...

    def moves_after(self, moment: datetime) -> datetime | None:
        """The first moment from `moment` on at which the step count may change; None: never."""
        ...


@dataclass(frozen=True, slots=True)
class Walk:
    """A walk at a steady cadence."""

    start: datetime
    minutes: float
    cadence_spm: float = 100.0

    @property
    def end(self) -> datetime:
        """When the walk ends."""
        return self.start + timedelta(minutes=self.minutes)

    @property
    def steps(self) -> int:
        """Steps taken over the whole walk."""
        return int(self.minutes * self.cadence_spm)

    def steps_until(self, moment: datetime) -> int:
        """Steps of this walk taken before `moment`."""
        if moment <= self.start:
            return 0
        if moment >= self.end:
            return self.steps
        elapsed_min = (moment - self.start).total_seconds() / 60.0
        return int(elapsed_min * self.cadence_spm)


class SimulatedPerson:
    """A person whose steps come from a list of walks; a pure function of time."""

    def __init__(self, walks: Iterable[Walk] = ()) -> None:
        self._walks: list[Walk] = []
        self._ends: list[datetime] = []
        self._totals: list[int] = []
        for walk in walks:
            self.add(walk)

    @property
    def walks(self) -> tuple[Walk, ...]:
        """The walks, in time order."""
        return tuple(self._walks)

    def add(self, walk: Walk) -> None:
        """Add a walk that starts after every walk so far has ended."""
        if self._walks and walk.start < self._walks[-1].end:
            raise ValueError("walks must be added in time order and must not overlap")
        before = self._totals[-1] if self._totals else 0
        self._walks.append(walk)
        self._ends.append(walk.end)
        self._totals.append(before + walk.steps)

    def moves_after(self, moment: datetime) -> datetime | None:
        """`moment` itself during a walk, else the next walk's start; None after the last walk."""
        index = bisect.bisect_right(self._ends, moment)
        if index == len(self._walks):
            return None
        return max(moment, self._walks[index].start)

    def walk_near(self, moment: datetime, margin: timedelta = timedelta(0)) -> Walk | None:
        """The walk going on at `moment` (give or take `margin`), if any."""
        index = bisect.bisect_left(self._ends, moment - margin)
        if index < len(self._walks) and self._walks[index].start - margin <= moment:
            return self._walks[index]
        return None

    def steps_until(self, moment: datetime) -> int:
        """Steps from all walks taken before `moment`."""
        finished = bisect.bisect_right(self._ends, moment)
        total = self._totals[finished - 1] if finished else 0
        if finished < len(self._walks):
            total += self._walks[finished].steps_until(moment)
        return total
