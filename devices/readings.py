"""Typed values that cross the device seam: readings from wearables and what they become."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CounterEpoch(StrEnum):
    """When a device's cumulative step counter starts again from zero by design."""

    LOCAL_DAY = "local_day"  # InfiniTime: at the watch's local midnight (and on reboot)
    POWER_ON = "power_on"  # Thingy:52: only on power-on or reboot


@dataclass(frozen=True, slots=True)
class StepCount:
    """A cumulative step counter as the device reports it."""

    total: int
    epoch: CounterEpoch
    walking_ms: int | None = None  # cumulative walking time in the same epoch, where reported


@dataclass(frozen=True, slots=True)
class Motion:
    """Acceleration samples in g, oldest first; the newest was taken when the reading arrived."""

    samples: tuple[tuple[float, float, float], ...]
    rate_hz: float


@dataclass(frozen=True, slots=True)
class Battery:
    """Battery level in percent (0-100)."""

    percent: int


@dataclass(frozen=True, slots=True)
class HeartRate:
    """One Heart Rate Measurement (0x2A37)."""

    bpm: int
    contact: bool | None = None
    energy_kj: int | None = None
    rr_ms: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class RunningCadence:
    """One RSC Measurement (0x2A53): instantaneous cadence and speed of a foot pod."""

    cadence_spm: int
    speed_mps: float
    running: bool
    stride_m: float | None = None
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class LinkState:
    """The link to a wearable came up or went down; `problem` says what to do about it.

    A problem is set when setting the wearable up failed for something other than the radio
    (retrying soon would not help); it lasts until readings flow again.
    """

    connected: bool
    reason: str = ""
    problem: str | None = None


ReadingValue = StepCount | Motion | Battery | HeartRate | RunningCadence | LinkState


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation from one wearable, stamped with the service clock when it arrived."""

    person: str
    device: str
    received_at: datetime
    value: ReadingValue

    @property
    def kind(self) -> str:
        """The reading's kind, as stored in the raw log."""
        return KIND_OF[type(self.value)]


KIND_OF: dict[type[ReadingValue], str] = {
    StepCount: "step_count",
    Motion: "motion",
    Battery: "battery",
    HeartRate: "heart_rate",
    RunningCadence: "running_cadence",
    LinkState: "link_state",
}
