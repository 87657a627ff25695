"""Current Time Service (0x1805): Current Time (0x2A2B) and Local Time Information (0x2A0F).

A watch counts its day in local time, so its step counter resets at its own midnight. Writing
the zone first and then the local time makes that midnight the service's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

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
    """The zone's standard and DST offsets in force at `moment`, as the characteristic carries them.

    Whatever the zone, the sum is its UTC offset then, so the watch's local time is right:
    tzdata's negative DST (Europe/Dublin's winter, Africa/Casablanca in Ramadan) and DST amounts
    without a GSS code are written as standard time with no DST; an offset that is not whole
    quarter-hours (local mean time, before about 1970) as the nearest quarter-hour.
    """
    local = moment.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    dst = local.dst() or timedelta(0)
    info = LocalTimeInfo(standard=offset - dst, dst=dst)
    if _encodable(info):
        return info
    quarters = max(-48, min(56, round(offset / _QUARTER_HOUR)))
    return LocalTimeInfo(standard=quarters * _QUARTER_HOUR, dst=timedelta(0))


def _encodable(info: LocalTimeInfo) -> bool:
    quarters, rest = divmod(info.standard, _QUARTER_HOUR)
    return not rest and -48 <= quarters <= 56 and info.dst in _DST_CODES


def next_zone_change(moment: datetime, zone: tzinfo, within: timedelta) -> datetime | None:
    """The first whole second after `moment`, up to `within` later, whose zone info differs.

    A DST change or a new standard offset: the watch's zone must be rewritten then. Looks
    hour by hour, then halves the hour (zones change at most twice a day, never twice an hour).
    """
    before = local_time_info(moment, zone)
    end = moment + within
    low = moment
    while low < end:
        high = min(low + timedelta(hours=1), end)
        if local_time_info(high, zone) != before:
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if local_time_info(middle, zone) == before:
                    low = middle
                else:
                    high = middle
            whole = high.replace(microsecond=0)
            return whole if whole == high else whole + timedelta(seconds=1)
        low = high
    return None


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
    moment: datetime, zone: tzinfo | LocalTimeInfo, adjust_reason: int = ADJUST_EXTERNAL
) -> bytes:
    """Current Time: the local date and time of `moment` in `zone`, with weekday and 1/256 s.

    Given as Local Time Information, the zone is the offset written beside it, so the two agree.
    """
    fixed = timezone(zone.utc_offset) if isinstance(zone, LocalTimeInfo) else zone
    local = moment.astimezone(fixed)
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
