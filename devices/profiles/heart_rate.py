"""Heart Rate Service (0x180D): Heart Rate Measurement (0x2A37) in all its flag variants."""

from __future__ import annotations

import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.profiles import battery
from devices.profiles.gatt import Channel, GattParseError, Session, require_length, sig_uuid
from devices.readings import HeartRate
from devices.settings import DeviceConfig

SERVICE = sig_uuid(0x180D)
MEASUREMENT = sig_uuid(0x2A37)

_HR_UINT16 = 0x01
_CONTACT_DETECTED = 0x02
_CONTACT_SUPPORTED = 0x04
_ENERGY_PRESENT = 0x08
_RR_PRESENT = 0x10
_RR_UNITS_PER_S = 1024.0


def parse_measurement(data: bytes) -> HeartRate:
    """A Heart Rate Measurement: bpm (uint8 or uint16), contact, energy (kJ), RR intervals (ms)."""
    require_length(data, "heart rate measurement", at_least=2)
    flags = data[0]
    offset = 1
    if flags & _HR_UINT16:
        require_length(data, "heart rate measurement (16-bit)", at_least=3)
        (bpm,) = struct.unpack_from("<H", data, offset)
        offset += 2
    else:
        bpm = data[offset]
        offset += 1
    contact = bool(flags & _CONTACT_DETECTED) if flags & _CONTACT_SUPPORTED else None
    energy: int | None = None
    if flags & _ENERGY_PRESENT:
        require_length(data, "heart rate measurement (energy)", at_least=offset + 2)
        (energy,) = struct.unpack_from("<H", data, offset)
        offset += 2
    rr: tuple[float, ...] = ()
    rest = data[offset:]
    if flags & _RR_PRESENT:
        if len(rest) % 2:
            raise GattParseError("heart rate measurement: RR intervals are not whole uint16s")
        rr = tuple(v * 1000.0 / _RR_UNITS_PER_S for (v,) in struct.iter_unpack("<H", rest))
    elif rest:
        raise GattParseError(f"heart rate measurement: {len(rest)} unexpected trailing bytes")
    return HeartRate(bpm=bpm, contact=contact, energy_kj=energy, rr_ms=rr)


def build_measurement(
    bpm: int,
    *,
    wide: bool = False,
    contact: bool | None = None,
    energy_kj: int | None = None,
    rr_units: Sequence[int] = (),
) -> bytes:
    """The measurement bytes; RR intervals are given in the wire's 1/1024 s units."""
    flags = 0
    body = b""
    if wide or bpm > 0xFF:
        flags |= _HR_UINT16
        body += struct.pack("<H", bpm)
    else:
        body += struct.pack("<B", bpm)
    if contact is not None:
        flags |= _CONTACT_SUPPORTED | (_CONTACT_DETECTED if contact else 0)
    if energy_kj is not None:
        flags |= _ENERGY_PRESENT
        body += struct.pack("<H", energy_kj)
    if rr_units:
        flags |= _RR_PRESENT
        body += b"".join(struct.pack("<H", v) for v in rr_units)
    return bytes([flags]) + body


def decode_measurement(data: bytes, _now: datetime) -> Sequence[HeartRate]:
    """Channel decoder: one HeartRate reading per measurement."""
    return (parse_measurement(data),)


def channel(*, required: bool = False) -> Channel:
    """Heart rate notifications, where the wearable offers them."""
    return Channel(MEASUREMENT, decode_measurement, required=required)


@dataclass(frozen=True, slots=True)
class HeartRateProfile:
    """A heart rate strap or any wearable advertising the Heart Rate service."""

    name: str = "heart_rate"
    title: str = "Heart rate sensor"

    def recognises(self, local_name: str | None, service_uuids: Collection[str]) -> bool:
        """Anything advertising the Heart Rate service."""
        return SERVICE in service_uuids

    def session(self, device: DeviceConfig) -> Session:
        """Heart rate notifications and, where offered, the battery."""
        return Session(
            channels=(channel(required=True), battery.channel()),
            probes=(battery.LEVEL,),
        )


PROFILE = HeartRateProfile()
