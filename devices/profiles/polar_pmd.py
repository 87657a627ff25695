"""Polar Measurement Data (PMD) accelerometer streams: Polar H10 chest straps, Verity Sense.

The link subscribes to the control point (indications) and the data characteristic, then asks
for the accelerometer at the configured rate (16-bit, +-8 g). Data frames carry many samples in
milli-g, either plain or delta-compressed.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.profiles import battery, heart_rate
from devices.profiles.gatt import Channel, GattParseError, Session, Write, require_length
from devices.readings import Motion
from devices.settings import DeviceConfig

SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

ACC = 0x02  # measurement type
OP_START = 0x02
OP_STOP = 0x03
RESPONSE = 0xF0
SETTING_RATE, SETTING_RESOLUTION, SETTING_RANGE = 0x00, 0x01, 0x02
RESOLUTION_BITS = 16
RANGE_G = 8
DEFAULT_RATE_HZ = 50
MILLI_G = 1000.0
_COMPRESSED = 0x80
_HEADER = struct.Struct("<BQB")  # measurement type, sensor timestamp (ns), frame type
_SAMPLE_SIZES = {0: 1, 1: 2, 2: 3}  # plain frame type -> bytes per axis value

Sample = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class AccFrame:
    """One accelerometer data frame: samples in milli-g, oldest first."""

    timestamp_ns: int
    samples: tuple[Sample, ...]


def build_start(rate_hz: int) -> bytes:
    """The control point command that starts the accelerometer at `rate_hz`."""
    settings = [
        (SETTING_RATE, rate_hz),
        (SETTING_RESOLUTION, RESOLUTION_BITS),
        (SETTING_RANGE, RANGE_G),
    ]
    body = b"".join(struct.pack("<BBH", kind, 1, value) for kind, value in settings)
    return bytes([OP_START, ACC]) + body


def parse_start(data: bytes) -> int:
    """The sample rate a start command asks for (the simulator's side)."""
    require_length(data, "pmd start", at_least=2)
    if data[0] != OP_START or data[1] != ACC:
        raise GattParseError(f"pmd start: not an accelerometer start ({data[:2].hex()})")
    offset = 2
    rate: int | None = None
    while offset < len(data):
        require_length(data, "pmd start setting", at_least=offset + 2)
        kind, count = data[offset], data[offset + 1]
        offset += 2
        require_length(data, "pmd start setting", at_least=offset + 2 * count)
        values = struct.unpack_from(f"<{count}H", data, offset)
        offset += 2 * count
        if kind == SETTING_RATE and values:
            rate = values[0]
    if rate is None:
        raise GattParseError("pmd start: no sample rate")
    return rate


def build_response(op: int, status: int = 0) -> bytes:
    """A control point response (what the wearable indicates after a command)."""
    return bytes([RESPONSE, op, ACC, status, 0])


def parse_response(data: bytes) -> tuple[int, int]:
    """The (operation, status) of a control point response; status 0 is success."""
    require_length(data, "pmd response", at_least=4)
    if data[0] != RESPONSE:
        raise GattParseError(f"pmd response: unexpected opening byte {data[0]:#04x}")
    return data[1], data[3]


def parse_frame(data: bytes) -> AccFrame:
    """An accelerometer data frame, plain (8/16/24-bit) or delta-compressed."""
    require_length(data, "pmd frame", at_least=_HEADER.size)
    kind, timestamp, frame_type = _HEADER.unpack_from(data)
    if kind != ACC:
        raise GattParseError(f"pmd frame: measurement type {kind} is not the accelerometer")
    body = data[_HEADER.size :]
    if frame_type & _COMPRESSED:
        if frame_type & ~_COMPRESSED != 1:
            raise GattParseError(f"pmd frame: compressed frame type {frame_type:#04x} unknown")
        return AccFrame(timestamp, _delta_samples(body))
    size = _SAMPLE_SIZES.get(frame_type)
    if size is None:
        raise GattParseError(f"pmd frame: frame type {frame_type} unknown")
    if not body or len(body) % (3 * size):
        raise GattParseError(f"pmd frame: {len(body)} bytes are not whole samples")
    values = [
        int.from_bytes(body[i : i + size], "little", signed=True) for i in range(0, len(body), size)
    ]
    return AccFrame(timestamp, tuple(_triples(values)))


def _triples(values: Sequence[int]) -> list[Sample]:
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values), 3)]


def _delta_samples(body: bytes) -> tuple[Sample, ...]:
    """A reference sample (3 x int16), then blocks: bit width, count, packed signed deltas."""
    require_length(body, "pmd compressed frame", at_least=6)
    current = list(struct.unpack_from("<hhh", body))
    samples: list[Sample] = [(current[0], current[1], current[2])]
    offset = 6
    while offset < len(body):
        require_length(body, "pmd delta block", at_least=offset + 2)
        width, count = body[offset], body[offset + 1]
        offset += 2
        if not 1 <= width <= 32:
            raise GattParseError(f"pmd delta block: bit width {width}")
        nbytes = (width * 3 * count + 7) // 8
        require_length(body, "pmd delta block", at_least=offset + nbytes)
        bits = int.from_bytes(body[offset : offset + nbytes], "little")
        offset += nbytes
        for index in range(3 * count):
            raw = (bits >> (index * width)) & ((1 << width) - 1)
            delta = raw - (1 << width) if raw >> (width - 1) else raw
            current[index % 3] += delta
            if index % 3 == 2:
                samples.append((current[0], current[1], current[2]))
    return tuple(samples)


def build_frame(timestamp_ns: int, samples: Sequence[Sample], *, compressed: bool = True) -> bytes:
    """A data frame for `samples` (milli-g): delta-compressed, or plain 16-bit."""
    if not samples:
        raise ValueError("a frame needs at least one sample")
    if not compressed:
        body = b"".join(struct.pack("<hhh", *s) for s in samples)
        return _HEADER.pack(ACC, timestamp_ns, 1) + body
    deltas = [b[axis] - a[axis] for a, b in itertools.pairwise(samples) for axis in range(3)]
    body = struct.pack("<hhh", *samples[0])
    if deltas:
        width = max(max(d.bit_length() for d in deltas) + 1, 1)  # room for the sign
        packed = 0
        for index, delta in enumerate(deltas):
            packed |= (delta & ((1 << width) - 1)) << (index * width)
        nbytes = (width * len(deltas) + 7) // 8
        body += bytes([width, len(samples) - 1]) + packed.to_bytes(nbytes, "little")
    return _HEADER.pack(ACC, timestamp_ns, 1 | _COMPRESSED) + body


@dataclass(frozen=True, slots=True)
class PolarPmdProfile:
    """Polar wearables streaming their accelerometer over PMD."""

    name: str = "polar_pmd"
    title: str = "Polar accelerometer (PMD)"

    def recognises(self, local_name: str | None, service_uuids: Collection[str]) -> bool:
        """By the PMD service, or a Polar name."""
        if SERVICE in service_uuids:
            return True
        return local_name is not None and local_name.lower().startswith("polar")

    def session(self, device: DeviceConfig) -> Session:
        """Accelerometer frames at the configured rate; heart rate and battery where offered."""
        rate = device.motion_rate_hz or DEFAULT_RATE_HZ

        def decode_response(data: bytes, _now: datetime) -> Sequence[Motion]:
            op, status = parse_response(data)
            if status:
                raise GattParseError(f"pmd refused operation {op:#04x} with status {status}")
            return ()

        def decode_frame(data: bytes, _now: datetime) -> Sequence[Motion]:
            frame = parse_frame(data)
            samples = tuple((x / MILLI_G, y / MILLI_G, z / MILLI_G) for x, y, z in frame.samples)
            return (Motion(samples, float(rate)),)

        start = Write(CONTROL_POINT, lambda _old: build_start(rate))
        return Session(
            channels=(
                Channel(CONTROL_POINT, decode_response),
                Channel(DATA, decode_frame, streaming=True),
                heart_rate.channel(),
                battery.channel(),
            ),
            start=lambda _now: (start,),
            probes=(battery.LEVEL,),
        )


PROFILE = PolarPmdProfile()
