"""Running Speed and Cadence (0x1814) foot pods: RSC Measurement (0x2A53), integrated into steps.

A foot pod reports only its instantaneous cadence. `CadenceIntegrator` turns cadence over time
into a cumulative step total, which the link reports as `StepCount(total, POWER_ON)` beside each
`RunningCadence`: the service then treats a foot pod like any other step counter, whose "power
on" is the start of the link (a restarted service reads as a counter reset).
"""

from __future__ import annotations

import statistics
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from devices.profiles import battery
from devices.profiles.gatt import Channel, GattParseError, Session, require_length, sig_uuid
from devices.readings import CounterEpoch, ReadingValue, RunningCadence, StepCount
from devices.settings import DeviceConfig

SERVICE = sig_uuid(0x1814)
MEASUREMENT = sig_uuid(0x2A53)

_STRIDE_PRESENT = 0x01
_DISTANCE_PRESENT = 0x02
_RUNNING = 0x04
# Pods notify about once a second while moving (the RSC service leaves the rate to the pod):
# assumed until the pod's own spacing is known.
DEFAULT_REPORT_INTERVAL_S = 1.0
# A report's cadence covers at most this many of the pod's usual intervals before it: pods
# jitter a little, and a longer silence is a pod that stopped with its wearer, not walking.
REPORT_SLACK = 1.25
# A spacing longer than this is a silence (disconnected, or the pod stopped sending), never
# the pod's report interval.
MAX_GAP_S = 15.0
# Recent spacings remembered to learn the pod's report interval.
_SPACINGS = 9


def parse_measurement(data: bytes) -> RunningCadence:
    """An RSC Measurement: speed (1/256 m/s), cadence (spm), stride (cm), distance (dm)."""
    require_length(data, "rsc measurement", at_least=4)
    flags = data[0]
    speed_raw, cadence = struct.unpack_from("<HB", data, 1)
    offset = 4
    stride: float | None = None
    distance: float | None = None
    if flags & _STRIDE_PRESENT:
        require_length(data, "rsc measurement (stride)", at_least=offset + 2)
        (stride_cm,) = struct.unpack_from("<H", data, offset)
        stride = stride_cm / 100.0
        offset += 2
    if flags & _DISTANCE_PRESENT:
        require_length(data, "rsc measurement (distance)", at_least=offset + 4)
        (distance_dm,) = struct.unpack_from("<I", data, offset)
        distance = distance_dm / 10.0
        offset += 4
    if len(data) != offset:
        raise GattParseError(f"rsc measurement: {len(data) - offset} unexpected trailing bytes")
    return RunningCadence(
        cadence_spm=cadence,
        speed_mps=speed_raw / 256.0,
        running=bool(flags & _RUNNING),
        stride_m=stride,
        distance_m=distance,
    )


def build_measurement(
    cadence_spm: int,
    speed_mps: float,
    *,
    running: bool = False,
    stride_m: float | None = None,
    distance_m: float | None = None,
) -> bytes:
    """The measurement bytes (values are rounded to the wire's units)."""
    flags = _RUNNING if running else 0
    body = struct.pack("<HB", min(0xFFFF, round(speed_mps * 256)), min(0xFF, cadence_spm))
    if stride_m is not None:
        flags |= _STRIDE_PRESENT
        body += struct.pack("<H", min(0xFFFF, round(stride_m * 100)))
    if distance_m is not None:
        flags |= _DISTANCE_PRESENT
        body += struct.pack("<I", min(0xFFFFFFFF, round(distance_m * 10)))
    return bytes([flags]) + body


@dataclass(slots=True)
class CadenceIntegrator:
    """Cumulative steps from cadence reports.

    Each report's cadence covers the time since the previous report, but never more than the
    pod's usual report interval (times REPORT_SLACK): a pod that goes silent when its wearer
    stops is not credited walking for the silence. The interval is learned as the median of
    recent spacings up to `max_gap_s` (DEFAULT_REPORT_INTERVAL_S until there are any).
    """

    max_gap_s: float = MAX_GAP_S
    _steps: float = 0.0
    _last_at: datetime | None = field(default=None)
    _spacings: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Whole steps so far."""
        return int(self._steps)

    @property
    def report_interval_s(self) -> float:
        """The pod's usual spacing of reports, in seconds."""
        if not self._spacings:
            return DEFAULT_REPORT_INTERVAL_S
        return float(statistics.median(self._spacings))

    def add(self, at: datetime, cadence_spm: float) -> int:
        """Credit `cadence_spm` over the interval this report covers; the new total."""
        covered = self.report_interval_s  # the first report after a start or a pause
        if self._last_at is not None:
            elapsed = (at - self._last_at).total_seconds()
            if 0.0 < elapsed <= self.max_gap_s:
                self._spacings = [*self._spacings[-(_SPACINGS - 1) :], elapsed]
            covered = min(max(elapsed, 0.0), REPORT_SLACK * self.report_interval_s)
        self._steps += max(cadence_spm, 0.0) * covered / 60.0
        if self._last_at is None or at > self._last_at:
            self._last_at = at
        return self.total

    def pause(self) -> None:
        """Forget the previous report's time: the link was down until the next report."""
        self._last_at = None


@dataclass(frozen=True, slots=True)
class RscProfile:
    """Running Speed and Cadence foot pods."""

    name: str = "rsc"
    title: str = "Foot pod (Running Speed and Cadence)"

    def recognises(self, local_name: str | None, service_uuids: Collection[str]) -> bool:
        """Anything advertising the RSC service."""
        return SERVICE in service_uuids

    def session(self, device: DeviceConfig) -> Session:
        """Cadence notifications, integrated into a step total, and the battery if offered."""
        integrator = CadenceIntegrator()
        reported: list[int] = []  # the last total reported, if any

        def decode(data: bytes, now: datetime) -> Sequence[ReadingValue]:
            measurement = parse_measurement(data)
            total = integrator.add(now, measurement.cadence_spm)
            if reported and reported[0] == total:
                return (measurement,)
            reported[:] = [total]
            return (measurement, StepCount(total, CounterEpoch.POWER_ON))

        def disconnected(_now: datetime) -> Sequence[ReadingValue]:
            integrator.pause()
            return ()

        return Session(
            channels=(Channel(MEASUREMENT, decode), battery.channel()),
            probes=(battery.LEVEL,),
            on_disconnect=disconnected,
        )


PROFILE = RscProfile()
