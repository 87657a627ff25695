"""How readings are written into the raw log and read back: exact, compact, versioned by kind."""

from __future__ import annotations

import json
import struct
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
# notifications of one device in a batch share one row, each packed as its offset from the
# row's time, its rate and its samples in little-endian float32, instead of JSON.
_MOTION_HEADER = struct.Struct("<qHf")  # signed offset from the row time (us), samples, rate
_MOTION_SAMPLE = struct.Struct("<fff")

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
        case LinkState(connected, reason):
            fields = {"connected": connected, "reason": reason}
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
                return LinkState(bool(fields["connected"]), str(fields["reason"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"stored {kind} reading cannot be read: {exc}") from exc
    raise ParseError(f"unknown reading kind {kind!r} in the raw log")


def pack(readings: Sequence[Reading]) -> list[RawRow]:
    """The raw-log rows for a batch, in order; a device's motion within a minute shares a row.

    A motion row takes the place of its first reading. Motion is only ever processed in its own
    order, so moving it past the device's other readings changes nothing; keeping a row within
    one minute keeps its own time (its first sample's) true enough for pruning by age.
    """
    rows: list[RawRow | list[Reading]] = []
    motion_rows: dict[tuple[str, str, int], list[Reading]] = {}
    for reading in readings:
        if isinstance(reading.value, Motion):
            minute = int(reading.received_at.timestamp() // 60)
            key = (reading.person, reading.device, minute)
            if key not in motion_rows:
                motion_rows[key] = []
                rows.append(motion_rows[key])
            motion_rows[key].append(reading)
        else:
            kind, payload = encode(reading.value)
            rows.append(
                (reading.person, reading.device, to_micros(reading.received_at), kind, payload)
            )
    return [row if isinstance(row, tuple) else _motion_row(row) for row in rows]


def unpack(person: str, device: str, received_us: int, kind: str, payload: bytes) -> list[Reading]:
    """The readings stored in one raw-log row; ParseError if the row cannot be read."""
    if kind == "motion":
        return [
            Reading(person, device, from_micros(received_us + offset), value)
            for offset, value in _unpack_motion(payload)
        ]
    return [Reading(person, device, from_micros(received_us), decode(kind, payload))]


def _motion_row(readings: list[Reading]) -> RawRow:
    first = to_micros(readings[0].received_at)
    payload = b"".join(
        _pack_motion(to_micros(r.received_at) - first, r.value)
        for r in readings
        if isinstance(r.value, Motion)
    )
    return readings[0].person, readings[0].device, first, "motion", payload


def _pack_motion(offset_us: int, motion: Motion) -> bytes:
    header = _MOTION_HEADER.pack(offset_us, len(motion.samples), motion.rate_hz)
    return header + b"".join(_MOTION_SAMPLE.pack(*sample) for sample in motion.samples)


def _unpack_motion(payload: bytes) -> list[tuple[int, Motion]]:
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
