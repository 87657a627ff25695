"""Current Time Service (0x1805): Current Time (0x2A2B) and Local Time Information (0x2A0F).

A watch counts its day in local time, so its step counter resets at its own midnight. Writing
the zone first and then the local time makes that midnight the service's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from devices.profiles.gatt import GattParseError, require_length, sig_uuid

SERVICE = sig_uuid(0x1805)
CURRENT_TIME = sig_uuid(0x2A2B)
LOCAL_TIME_INFORMATION = sig_uuid(0x2A0F)

_QUARTER_HOUR = timedelta(minutes=15)
# DST offset codes of Local Time Information (GSS): standard, +0.5 h, +1 h, +2 h.
_DST_CODES = {
    timedelta(0): 0,
    timedelta(minutes=30): 2,
    timedelta(hours=1): 4,
    timedelta(hours=2): 8,
}
_DST_OFFSETS = {code: offset for offset, code in _DST_CODES.items()}
_DST_UNKNOWN = 255
_TZ_UNKNOWN = -128
# Adjust reason bits: manual update | external reference (we are the reference) | zone change.
ADJUST_MANUAL = 0x01
ADJUST_EXTERNAL = 0x02
ADJUST_TIME_ZONE = 0x04
_CURRENT_TIME = struct.Struct("<HBBBBBBBB")


@dataclass(frozen=True, slots=True)
class LocalTimeInfo:
    """A zone as Local Time Information carries it: standard offset and DST offset."""

    standard: timedelta
    dst: timedelta

    @property
    def utc_offset(self) -> timedelta:
        """The offset of local time from UTC."""
        return self.standard + self.dst


def local_time_info(moment: datetime, zone: tzinfo) -> LocalTimeInfo:
    """The zone's standard and DST offsets in force at `moment`."""
    local = moment.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    dst = local.dst() or timedelta(0)
    return LocalTimeInfo(standard=offset - dst, dst=dst)


def build_local_time_information(info: LocalTimeInfo) -> bytes:
    """Local Time Information: zone (sint8, 15-minute units) and DST code (uint8)."""
    quarters, rest = divmod(info.standard, _QUARTER_HOUR)
    if rest or not -48 <= quarters <= 56:
        raise ValueError(f"offset {info.standard} cannot be written in 15-minute units")
    if info.dst not in _DST_CODES:
        raise ValueError(f"DST offset {info.dst} has no Local Time Information code")
    return struct.pack("<bB", quarters, _DST_CODES[info.dst])


def parse_local_time_information(data: bytes) -> LocalTimeInfo:
    """The zone in a Local Time Information value; unknown parts count as zero."""
    require_length(data, "local time information", exactly=2)
    quarters, code = struct.unpack("<bB", data)
    if quarters != _TZ_UNKNOWN and not -48 <= quarters <= 56:
        raise GattParseError(f"local time information: zone {quarters} is out of range")
    if code != _DST_UNKNOWN and code not in _DST_OFFSETS:
        raise GattParseError(f"local time information: DST code {code} is not defined")
    standard = timedelta(0) if quarters == _TZ_UNKNOWN else quarters * _QUARTER_HOUR
    return LocalTimeInfo(standard, _DST_OFFSETS.get(code, timedelta(0)))


def build_current_time(
    moment: datetime, zone: tzinfo, adjust_reason: int = ADJUST_EXTERNAL
) -> bytes:
    """Current Time: the local date and time of `moment` in `zone`, with weekday and 1/256 s."""
    local = moment.astimezone(zone)
    fractions = local.microsecond * 256 // 1_000_000
    return _CURRENT_TIME.pack(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.isoweekday(),  # 1 = Monday ... 7 = Sunday, as the characteristic counts
        fractions,
        adjust_reason,
    )


def parse_current_time(data: bytes) -> datetime:
    """The naive local date and time in a Current Time value."""
    require_length(data, "current time", exactly=_CURRENT_TIME.size)
    year, month, day, hour, minute, second, _weekday, fractions, _reason = _CURRENT_TIME.unpack(
        data
    )
    try:
        # A naive local time on purpose: the zone travels separately (Local Time Information).
        return datetime(  # noqa: DTZ001
            year, month, day, hour, minute, second, fractions * 1_000_000 // 256
        )
    except ValueError as exc:
        raise GattParseError(f"current time: {exc}") from exc


def utc_of(local: datetime, info: LocalTimeInfo) -> datetime:
    """The UTC instant of a naive local time in a zone given as Local Time Information."""
    return (local - info.utc_offset).replace(tzinfo=UTC)
