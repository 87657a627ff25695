"""Battery Service (0x180F): the Battery Level characteristic (0x2A19), one byte of percent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from devices.profiles.gatt import Channel, GattParseError, require_length, sig_uuid
from devices.readings import Battery

SERVICE = sig_uuid(0x180F)
LEVEL = sig_uuid(0x2A19)


def parse_level(data: bytes) -> Battery:
    """The battery level in a Battery Level value (uint8, 0-100 %)."""
    require_length(data, "battery level", exactly=1)
    if data[0] > 100:
        raise GattParseError(f"battery level: {data[0]} is not a percentage")
    return Battery(data[0])


def build_level(percent: int) -> bytes:
    """The Battery Level value for `percent` (0-100)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"battery level must be 0-100, not {percent}")
    return bytes([percent])


def decode_level(data: bytes, _now: datetime) -> Sequence[Battery]:
    """Channel decoder: one Battery reading per value."""
    return (parse_level(data),)


def channel(*, required: bool = False) -> Channel:
    """Battery level: read at connect and notified on change where the wearable offers it."""
    return Channel(LEVEL, decode_level, subscribe=True, read_on_connect=True, required=required)
