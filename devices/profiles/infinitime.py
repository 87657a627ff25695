"""PineTime running InfiniTime (>= 1.16): its Motion service, battery, heart rate and clock.

The step counter is cumulative for the watch's local day: it resets at the watch's midnight
and on every reboot, so the link sets the watch's zone and clock on every connect.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from devices.profiles import battery, current_time, heart_rate
from devices.profiles.gatt import Channel, Session, Write, require_length
from devices.readings import CounterEpoch, Motion, StepCount
from devices.settings import DeviceConfig

MOTION_SERVICE = "00030000-78fc-48fe-8e23-433b3a1942d0"
STEP_COUNT = "00030001-78fc-48fe-8e23-433b3a1942d0"
RAW_MOTION = "00030002-78fc-48fe-8e23-433b3a1942d0"

# Since InfiniTime 1.15 raw motion is in binary milli-g: 1 g reads as 1024.
UNITS_PER_G = 1024.0
# The firmware polls the accelerometer every 100 ms and notifies only changes.
MOTION_RATE_HZ = 10.0
# How far ahead of the service clock the watch is set (covers the write's latency).
CLOCK_LEAD_S = 1.0
_ADVERTISED_NAMES = ("infinitime", "pinetime")
_XYZ = struct.Struct("<hhh")


def parse_step_count(data: bytes) -> StepCount:
    """Steps so far in the watch's local day (uint32 LE)."""
    require_length(data, "step count", exactly=4)
    (total,) = struct.unpack("<I", data)
    return StepCount(total, CounterEpoch.LOCAL_DAY)


def build_step_count(total: int) -> bytes:
    """The step count value for `total` steps."""
    return struct.pack("<I", total)


def parse_motion(data: bytes) -> tuple[float, float, float]:
    """One accelerometer sample (3 x int16 LE, milli-g in 1/1024 g) in g."""
    require_length(data, "raw motion", exactly=_XYZ.size)
    x, y, z = _XYZ.unpack(data)
    return (x / UNITS_PER_G, y / UNITS_PER_G, z / UNITS_PER_G)


def build_motion(sample: tuple[float, float, float]) -> bytes:
    """The raw motion value for a sample in g (clipped to the int16 range)."""
    return _XYZ.pack(*(_clip_int16(round(v * UNITS_PER_G)) for v in sample))


def _clip_int16(value: int) -> int:
    return max(-32768, min(32767, value))


def _decode_steps(data: bytes, _now: datetime) -> Sequence[StepCount]:
    return (parse_step_count(data),)


def _decode_motion(data: bytes, _now: datetime) -> Sequence[Motion]:
    return (Motion((parse_motion(data),), MOTION_RATE_HZ),)


def clock_to_write(now: datetime) -> datetime:
    """The time to write to the watch: a little ahead of `now`, on a whole second.

    The firmware keeps whole seconds, so the watch runs up to CLOCK_LEAD_S + 1 s ahead and never
    behind: its midnight, and the day's last count it notifies then, come just before ours.
    """
    ahead = now + timedelta(seconds=CLOCK_LEAD_S)
    return ahead.replace(microsecond=0) + timedelta(seconds=1 if ahead.microsecond else 0)


def _set_clock(now: datetime, zone: tzinfo) -> Sequence[Write]:
    # Zone first: the watch keeps UTC and reads the Current Time in the zone it already has.
    info = current_time.local_time_info(now, zone)
    lti = current_time.build_local_time_information(info)
    cts = current_time.build_current_time(clock_to_write(now), info)
    return (
        Write(current_time.LOCAL_TIME_INFORMATION, lambda _old: lti, required=False),
        Write(current_time.CURRENT_TIME, lambda _old: cts, required=False),
    )


@dataclass(frozen=True, slots=True)
class InfiniTimeProfile:
    """PineTime watches with InfiniTime firmware."""

    name: str = "infinitime"
    title: str = "PineTime (InfiniTime)"

    def recognises(self, local_name: str | None, service_uuids: Collection[str]) -> bool:
        """By the names InfiniTime advertises, or its Motion service."""
        if MOTION_SERVICE in service_uuids:
            return True
        return local_name is not None and local_name.lower().startswith(_ADVERTISED_NAMES)

    def session(self, device: DeviceConfig) -> Session:
        """Steps (read at connect, then on change), battery, heart rate, raw motion if asked."""
        channels = [
            Channel(STEP_COUNT, _decode_steps, read_on_connect=True),
            battery.channel(),
            heart_rate.channel(),
        ]
        if device.motion_rate_hz is not None:
            # The watch has one fixed rate; a configured rate only switches the stream on.
            channels.append(Channel(RAW_MOTION, _decode_motion, required=False))
        return Session(
            channels=tuple(channels),
            setup=_set_clock,
            probes=(STEP_COUNT, battery.LEVEL),
            resync_clock=True,
        )


PROFILE = InfiniTimeProfile()
