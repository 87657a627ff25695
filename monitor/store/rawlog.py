"""How readings are written into the raw log and read back: exact, compact, versioned by kind."""

from __future__ import annotations

import json
import struct
import sys
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from devices.readings import (
    KIND_OF,
    Battery,
    CounterEpoch,
    HeartRate,
    LinkState,
    Motion,
    Reading,
    ReadingValue,
    RunningCadence,
    StepCount,
)
from monitor.errors import ParseError

# Motion is by far the most frequent reading (up to 200 notifications a second): all motion
# notifications of one device in a batch (a minute at most) share one row, packed instead of
# JSON. Rows written since v2 start with _MOTION_V2; the first rows (v1) start with a zero byte
# (their first notification's offset, always 0), so each row says how it was written.
# v1, per notification: offset from the row's time (int64 us), samples (uint16), rate (float32),
#   then the samples as little-endian float32 x, y, z: 26 bytes for a one-sample notification.
# v2: the number of notifications (varint), then per notification the time since the previous
#   one (zigzag varint, us; the first's is 0) and samples << 1 | rate-follows (varint), with the
#   rate (float32) when it differs from the previous notification's; then all the samples
#   together as float32: 16 bytes for a one-sample notification at 10 Hz, against the 12 bytes
#   of the sample itself.
_MOTION_HEADER = struct.Struct("<qHf")  # v1: signed offset from the row time (us), samples, rate
_MOTION_SAMPLE = struct.Struct("<fff")
_RATE = struct.Struct("<f")
_MOTION_V2 = 2

RawRow = tuple[str, str, int, str, bytes]
"""The raw-log columns of one row: person, device, received_us, kind, payload."""


def to_micros(moment: datetime) -> int:
    """An aware instant as integer microseconds since the epoch (exact, sortable)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The aware UTC instant of `to_micros`."""
    seconds, micros_left = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros_left)


def encode(value: ReadingValue) -> tuple[str, bytes]:
    """The kind and payload bytes under which a single reading value is stored."""
    kind = KIND_OF[type(value)]
    if isinstance(value, Motion):
        return kind, _pack_motion(0, value)
    fields: dict[str, Any]
    match value:
        case StepCount(total, epoch, walking_ms):
            fields = {"total": total, "epoch": epoch.value}
            if walking_ms is not None:
                fields["walking_ms"] = walking_ms
        case Battery(percent):
            fields = {"percent": percent}
        case HeartRate(bpm, contact, energy, rr):
            fields = {"bpm": bpm, "contact": contact, "energy_kj": energy, "rr_ms": list(rr)}
        case RunningCadence(cadence, speed, running, stride, distance):
            fields = {
                "cadence_spm": cadence,
                "speed_mps": speed,
                "running": running,
                "stride_m": stride,
                "distance_m": distance,
            }
        case LinkState(connected, reason, problem):
            fields = {"connected": connected, "reason": reason}
            if problem is not None:
                fields["problem"] = problem
        case _:  # pragma: no cover - the union above is exhaustive
            raise TypeError(f"no encoding for {type(value).__name__}")
    return kind, json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()


def decode(kind: str, payload: bytes) -> ReadingValue:
    """The single reading value stored under `kind`; ParseError if the payload does not fit."""
    if kind == "motion":
        values = [value for _, value in _unpack_motion(payload)]
        if len(values) != 1:
            raise ParseError(f"expected one motion notification, found {len(values)}")
        return values[0]
    try:
        fields = json.loads(payload)
        match kind:
            case "step_count":
                walking_ms = fields.get("walking_ms")
                return StepCount(
                    int(fields["total"]),
                    CounterEpoch(fields["epoch"]),
                    None if walking_ms is None else int(walking_ms),
                )
            case "battery":
                return Battery(int(fields["percent"]))
            case "heart_rate":
                rr = tuple(float(x) for x in fields["rr_ms"])
                return HeartRate(fields["bpm"], fields["contact"], fields["energy_kj"], rr)
            case "running_cadence":
                return RunningCadence(
                    fields["cadence_spm"],
                    fields["speed_mps"],
                    fields["running"],
                    fields["stride_m"],
                    fields["distance_m"],
                )
            case "link_state":
                problem = fields.get("problem")
                return LinkState(
                    bool(fields["connected"]),
                    str(fields["reason"]),
                    None if problem is None else str(problem),
                )
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"stored {kind} reading cannot be read: {exc}") from exc
    raise ParseError(f"unknown reading kind {kind!r} in the raw log")


def pack(readings: Sequence[Reading]) -> list[RawRow]:
    """The raw-log rows for a batch, in order (see `pack_stored`)."""
    return pack_stored(readings)[0]


def pack_stored(readings: Sequence[Reading]) -> tuple[list[RawRow], list[Reading]]:
    """The raw-log rows for a batch, and the readings exactly as those rows give them back.

    A device's motion within a minute shares a row, which takes the place of its first
    reading. Motion is only ever processed in its own order, so moving it past the device's
    other readings changes nothing; keeping a row within one minute keeps its own time (its
    first sample's) true enough for pruning by age. The readings returned are those of
    `unpack` over the rows, in the same order (motion as float32), without reading the rows
    back: what is processed live is what a rebuild from the raw log will process.
    """
    groups: list[tuple[RawRow, Reading] | list[Reading]] = []
    motion_rows: dict[tuple[str, str, int], list[Reading]] = {}
    for reading in readings:
        value = reading.value
        if isinstance(value, Motion):
            minute = int(reading.received_at.timestamp() // 60)
            key = (reading.person, reading.device, minute)
            group = motion_rows.get(key)
            if group is None:
                group = motion_rows[key] = []
                groups.append(group)
            group.append(reading)
        else:
            kind, payload = encode(value)
            row = (reading.person, reading.device, to_micros(reading.received_at), kind, payload)
            groups.append((row, _as_stored(reading)))
    rows: list[RawRow] = []
    stored: list[Reading] = []
    for entry in groups:
        if isinstance(entry, tuple):
            rows.append(entry[0])
            stored.append(entry[1])
        else:
            row, as_stored = _motion_row(entry)
            rows.append(row)
            stored.extend(as_stored)
    return rows, stored


def unpack(person: str, device: str, received_us: int, kind: str, payload: bytes) -> list[Reading]:
    """The readings stored in one raw-log row; ParseError if the row cannot be read."""
    if kind == "motion":
        return [
            Reading(person, device, from_micros(received_us + offset), value)
            for offset, value in _unpack_motion(payload)
        ]
    return [Reading(person, device, from_micros(received_us), decode(kind, payload))]


def _utc(moment: datetime) -> datetime:
    """The instant as `from_micros` gives it back: in UTC (the same instant either way)."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _as_stored(reading: Reading) -> Reading:
    """A non-motion reading as its row gives it back (JSON keeps its values exactly)."""
    if reading.received_at.tzinfo is UTC:
        return reading
    return Reading(reading.person, reading.device, _utc(reading.received_at), reading.value)


def _motion_row(readings: list[Reading]) -> tuple[RawRow, list[Reading]]:
    """One device's motion notifications as a v2 row, and as that row gives them back.

    A reading whose values float32 holds exactly (what wearables send) is given back as it is.
    """
    first = to_micros(readings[0].received_at)
    payload = bytearray((_MOTION_V2,))
    _varint(payload, len(readings))
    flat = array("f")
    originals: list[float] = []
    previous_us, previous_rate = first, -1.0
    for reading in readings:
        motion = reading.value
        assert isinstance(motion, Motion)  # noqa: S101 - grouped by the caller
        at_us = to_micros(reading.received_at)
        delta = at_us - previous_us
        _varint(payload, delta << 1 if delta >= 0 else (-delta << 1) - 1)
        count = len(motion.samples)
        if motion.rate_hz != previous_rate:
            _varint(payload, count << 1 | 1)
            payload += _RATE.pack(motion.rate_hz)
            previous_rate = motion.rate_hz
        else:
            _varint(payload, count << 1)
        for sample in motion.samples:
            originals.extend(sample)
        previous_us = at_us
    flat.fromlist(originals)
    values = flat.tolist()
    if sys.byteorder == "big":  # pragma: no cover - the Pi and x86 are little-endian
        flat.byteswap()
    payload += flat.tobytes()
    row = (readings[0].person, readings[0].device, first, "motion", bytes(payload))
    if values == originals and all(
        r.received_at.tzinfo is UTC and _exact_rate(r.value) for r in readings
    ):
        return row, readings
    stored: list[Reading] = []
    position = 0
    for reading in readings:
        motion = reading.value
        assert isinstance(motion, Motion)  # noqa: S101 - grouped by the caller
        end = position + 3 * len(motion.samples)
        part = values[position:end]
        samples = tuple(zip(part[0::3], part[1::3], part[2::3], strict=True))
        (rate,) = _RATE.unpack(_RATE.pack(motion.rate_hz))
        at = _utc(reading.received_at)
        stored.append(Reading(reading.person, reading.device, at, Motion(samples, rate)))
        position = end
    return row, stored


def _exact_rate(value: object) -> bool:
    """Whether a motion value's rate is a float32 as it is (10, 12.5, 52 Hz are)."""
    assert isinstance(value, Motion)  # noqa: S101 - motion only
    rate = value.rate_hz
    (stored,) = _RATE.unpack(_RATE.pack(rate))
    return bool(stored == rate)


def _pack_motion(offset_us: int, motion: Motion) -> bytes:
    """One notification in the v1 layout (kept for `encode` of a single value)."""
    header = _MOTION_HEADER.pack(offset_us, len(motion.samples), motion.rate_hz)
    return header + b"".join(_MOTION_SAMPLE.pack(*sample) for sample in motion.samples)


def _unzigzag(number: int) -> int:
    return number >> 1 if not number & 1 else -((number + 1) >> 1)


def _varint(out: bytearray, number: int) -> None:
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)


def _read_varint(payload: bytes, position: int) -> tuple[int, int]:
    number = shift = 0
    while True:
        if position >= len(payload) or shift > 63:
            raise ParseError("motion payload ends inside a number")
        byte = payload[position]
        position += 1
        number |= (byte & 0x7F) << shift
        if byte < 0x80:
            return number, position
        shift += 7


def _unpack_motion(payload: bytes) -> list[tuple[int, Motion]]:
    if payload[:1] == bytes((_MOTION_V2,)):
        return _unpack_motion_v2(payload)
    return _unpack_motion_v1(payload)


def _unpack_motion_v2(payload: bytes) -> list[tuple[int, Motion]]:
    notifications, position = _read_varint(payload, 1)
    headers: list[tuple[int, int, float]] = []
    offset, rate, total = 0, None, 0
    for _ in range(notifications):
        delta, position = _read_varint(payload, position)
        header, position = _read_varint(payload, position)
        offset += _unzigzag(delta)
        if header & 1:
            if position + _RATE.size > len(payload):
                raise ParseError("motion payload ends inside a rate")
            (rate,) = _RATE.unpack_from(payload, position)
            position += _RATE.size
        if rate is None:
            raise ParseError("motion payload has a notification without a rate")
        headers.append((offset, header >> 1, rate))
        total += header >> 1
    if len(payload) - position != total * _MOTION_SAMPLE.size:
        raise ParseError("motion payload's samples do not match its notifications")
    samples = list(_MOTION_SAMPLE.iter_unpack(payload[position:]))
    out: list[tuple[int, Motion]] = []
    start = 0
    for offset, count, rate in headers:
        out.append((offset, Motion(samples=tuple(samples[start : start + count]), rate_hz=rate)))
        start += count
    return out


def _unpack_motion_v1(payload: bytes) -> list[tuple[int, Motion]]:
    out: list[tuple[int, Motion]] = []
    position = 0
    try:
        while position < len(payload):
            offset, count, rate = _MOTION_HEADER.unpack_from(payload, position)
            position += _MOTION_HEADER.size
            end = position + count * _MOTION_SAMPLE.size
            if end > len(payload):
                raise ParseError("motion payload ends inside a notification")
            samples = tuple(_MOTION_SAMPLE.iter_unpack(payload[position:end]))
            out.append((offset, Motion(samples=samples, rate_hz=rate)))
            position = end
    except struct.error as exc:
        raise ParseError(f"stored motion reading cannot be read: {exc}") from exc
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
