"""Polar Measurement Data (PMD) accelerometer streams: Polar H10 chest straps, Verity Sense.

As the Polar BLE SDK does it (its technical documentation and parsers, polarofficial/
polar-ble-sdk): subscribe to the control point (indications) and the data characteristic, ask
the wearable which accelerometer settings it supports (GET_MEASUREMENT_SETTINGS), start it with
supported ones (the rate nearest the configured one, 8 g where offered), and keep the
conversion factor its start response carries. Data frames:

* raw, frame type 0x00/0x01/0x02: 8/16/24-bit signed samples in milli-g;
* delta-compressed type 1, 0x81: a 16-bit reference sample, then blocks of bit-packed signed
  deltas, in milli-g;
* delta-compressed type 0, 0x80 (Verity Sense and recent models): the same coding, reference
  sample as wide as the resolution, in raw units that the factor turns into g (2.44e-4 g at
  16 bits and 8 g: without it, rest would read about 4 g).

A refused command raises `PmdRefusedError` (the link does not retry it soon).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from devices.profiles import battery, heart_rate
from devices.profiles.gatt import (
    Channel,
    Exchange,
    GattParseError,
    ProtocolRefusalError,
    Session,
    require_length,
)
from devices.readings import Motion
from devices.settings import DeviceConfig

SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

ACC = 0x02  # measurement type
OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
RESPONSE = 0xF0
# Setting types and the bytes each value takes (Polar BLE SDK's PmdSetting).
SETTING_RATE, SETTING_RESOLUTION, SETTING_RANGE = 0x00, 0x01, 0x02
SETTING_RANGE_MILLIUNIT, SETTING_CHANNELS, SETTING_FACTOR = 0x03, 0x04, 0x05
SETTING_SIZES = {0x00: 2, 0x01: 2, 0x02: 2, 0x03: 4, 0x04: 1, 0x05: 4}
# Error codes of a control point response (SDK documentation, "Device Error Codes").
STATUS_INVALID_SAMPLE_RATE = 0x08
STATUS_INVALID_RANGE = 0x09
RESOLUTION_BITS = 16
RANGE_G = 8
DEFAULT_RATE_HZ = 50
MILLI_G = 1000.0
FRAME_RAW_8, FRAME_RAW_16, FRAME_RAW_24 = 0x00, 0x01, 0x02
FRAME_COMPRESSED_0, FRAME_COMPRESSED_1 = 0x80, 0x81
_COMPRESSED = 0x80
_HEADER = struct.Struct("<BQB")  # measurement type, sensor timestamp (ns), frame type
_SAMPLE_SIZES = {0: 1, 1: 2, 2: 3}  # raw frame type -> bytes per axis value

Sample = tuple[int, int, int]


class PmdRefusedError(ProtocolRefusalError):
    """The wearable refused a PMD command (status code in the message)."""


@dataclass(frozen=True, slots=True)
class AccFrame:
    """One accelerometer data frame: samples in the frame's units, oldest first."""

    timestamp_ns: int
    samples: tuple[Sample, ...]
    frame_type: int = FRAME_RAW_16


@dataclass(frozen=True, slots=True)
class PmdSettings:
    """Accelerometer settings: what a wearable offers, or what was chosen or started."""

    rates: tuple[int, ...] = ()
    resolutions: tuple[int, ...] = ()
    ranges: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factor: float | None = None


# Measurement types by their bit in the features value (the control point's read value).
MEASUREMENT_TYPES = {0: "ecg", 1: "ppg", 2: "acc", 3: "ppi", 5: "gyro", 6: "mag"}
_FEATURES = 0x0F


def parse_features(data: bytes) -> frozenset[str]:
    """The measurement types a control point read offers: 0x0F, then a bit per type."""
    require_length(data, "pmd features", at_least=2)
    if data[0] != _FEATURES:
        raise GattParseError(f"pmd features: unexpected opening byte {data[0]:#04x}")
    bits = int.from_bytes(data[1:3], "little")
    return frozenset(name for bit, name in MEASUREMENT_TYPES.items() if bits >> bit & 1)


def build_get_settings() -> bytes:
    """The control point command asking which accelerometer settings are supported."""
    return bytes([OP_GET_SETTINGS, ACC])


def build_start(rate_hz: int, *, range_g: int = RANGE_G, channels: int | None = None) -> bytes:
    """The control point command that starts the accelerometer (16 bits)."""
    chosen = [(SETTING_RATE, rate_hz), (SETTING_RESOLUTION, RESOLUTION_BITS)]
    chosen.append((SETTING_RANGE, range_g))
    if channels is not None:
        chosen.append((SETTING_CHANNELS, channels))
    return bytes([OP_START, ACC]) + build_settings(chosen)


def build_settings(values: Sequence[tuple[int, int | float]]) -> bytes:
    """Settings as (type, count 1, value) records, each value as wide as its type says."""
    body = b""
    for kind, value in values:
        if kind == SETTING_FACTOR:
            body += bytes([kind, 1]) + struct.pack("<f", value)
        else:
            body += bytes([kind, 1]) + int(value).to_bytes(SETTING_SIZES[kind], "little")
    return body


def build_offered(settings: PmdSettings) -> bytes:
    """Settings records listing every value offered (what GET_MEASUREMENT_SETTINGS answers)."""
    body = b""
    for kind, values in (
        (SETTING_RATE, settings.rates),
        (SETTING_RESOLUTION, settings.resolutions),
        (SETTING_RANGE, settings.ranges),
        (SETTING_CHANNELS, settings.channels),
    ):
        if values:
            size = SETTING_SIZES[kind]
            body += bytes([kind, len(values)])
            body += b"".join(v.to_bytes(size, "little") for v in values)
    if settings.factor is not None:
        body += build_settings([(SETTING_FACTOR, settings.factor)])
    return body


def parse_settings(data: bytes) -> PmdSettings:
    """Settings records (type, count, values) as offered, chosen or confirmed."""
    found: dict[int, list[int]] = {}
    factor: float | None = None
    offset = 0
    while offset < len(data):
        require_length(data, "pmd setting", at_least=offset + 2)
        kind, count = data[offset], data[offset + 1]
        offset += 2
        size = SETTING_SIZES.get(kind)
        if size is None:
            raise GattParseError(f"pmd setting: unknown setting type {kind}")
        require_length(data, "pmd setting", at_least=offset + size * count)
        for index in range(count):
            raw = data[offset + index * size : offset + (index + 1) * size]
            if kind == SETTING_FACTOR:
                (factor,) = struct.unpack("<f", raw)
            else:
                found.setdefault(kind, []).append(int.from_bytes(raw, "little"))
        offset += size * count
    return PmdSettings(
        rates=tuple(found.get(SETTING_RATE, ())),
        resolutions=tuple(found.get(SETTING_RESOLUTION, ())),
        ranges=tuple(found.get(SETTING_RANGE, ())),
        channels=tuple(found.get(SETTING_CHANNELS, ())),
        factor=factor,
    )


def parse_start(data: bytes) -> PmdSettings:
    """The settings a start command asks for (the simulator's side)."""
    require_length(data, "pmd start", at_least=2)
    if data[0] != OP_START or data[1] != ACC:
        raise GattParseError(f"pmd start: not an accelerometer start ({data[:2].hex()})")
    chosen = parse_settings(data[2:])
    if not chosen.rates:
        raise GattParseError("pmd start: no sample rate")
    return chosen


def choose(offered: PmdSettings, rate_hz: int) -> PmdSettings:
    """Supported settings for a wanted rate: the nearest rate (the higher on a tie), 8 g where
    offered (else the widest range), the finest resolution, and the channels if offered."""
    rates = offered.rates or (rate_hz,)
    rate = min(rates, key=lambda r: (abs(r - rate_hz), -r))
    ranges = offered.ranges or (RANGE_G,)
    range_g = RANGE_G if RANGE_G in ranges else max(ranges)
    resolution = max(offered.resolutions or (RESOLUTION_BITS,))
    channels = offered.channels[:1]
    return PmdSettings((rate,), (resolution,), (range_g,), channels)


def build_start_of(chosen: PmdSettings) -> bytes:
    """The start command for settings made by `choose`."""
    values: list[tuple[int, int | float]] = [(SETTING_RATE, chosen.rates[0])]
    values += [(SETTING_RESOLUTION, chosen.resolutions[0]), (SETTING_RANGE, chosen.ranges[0])]
    values += [(SETTING_CHANNELS, c) for c in chosen.channels[:1]]
    return bytes([OP_START, ACC]) + build_settings(values)


def build_response(op: int, status: int = 0, parameters: bytes = b"") -> bytes:
    """A control point response (what the wearable indicates after a command)."""
    return bytes([RESPONSE, op, ACC, status, 0]) + parameters


@dataclass(frozen=True, slots=True)
class PmdResponse:
    """A control point response: the command it answers, its status (0 is success), and the
    parameters (settings records) that follow."""

    op: int
    measurement: int
    status: int
    parameters: bytes = b""


def parse_response(data: bytes) -> PmdResponse:
    """A control point response: 0xF0, op code, measurement type, status, more, parameters."""
    require_length(data, "pmd response", at_least=4)
    if data[0] != RESPONSE:
        raise GattParseError(f"pmd response: unexpected opening byte {data[0]:#04x}")
    return PmdResponse(data[1], data[2], data[3], bytes(data[5:]))


def parse_frame(data: bytes, resolution_bits: int = RESOLUTION_BITS) -> AccFrame:
    """An accelerometer data frame, raw (8/16/24-bit) or delta-compressed (type 0 or 1)."""
    require_length(data, "pmd frame", at_least=_HEADER.size)
    kind, timestamp, frame_type = _HEADER.unpack_from(data)
    if kind != ACC:
        raise GattParseError(f"pmd frame: measurement type {kind} is not the accelerometer")
    body = data[_HEADER.size :]
    if frame_type & _COMPRESSED:
        base = frame_type & ~_COMPRESSED
        if base not in (0, 1):
            raise GattParseError(f"pmd frame: compressed frame type {frame_type:#04x} unknown")
        width = (resolution_bits + 7) // 8 if base == 0 else 2
        return AccFrame(timestamp, _delta_samples(body, width), frame_type)
    size = _SAMPLE_SIZES.get(frame_type)
    if size is None:
        raise GattParseError(f"pmd frame: frame type {frame_type} unknown")
    if not body or len(body) % (3 * size):
        raise GattParseError(f"pmd frame: {len(body)} bytes are not whole samples")
    values = [
        int.from_bytes(body[i : i + size], "little", signed=True) for i in range(0, len(body), size)
    ]
    return AccFrame(timestamp, tuple(_triples(values)), frame_type)


def _triples(values: Sequence[int]) -> list[Sample]:
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values), 3)]


def _delta_samples(body: bytes, width: int) -> tuple[Sample, ...]:
    """A reference sample (3 signed values of `width` bytes), then blocks: bit width, count of
    samples, and count x 3 signed deltas packed least significant bit first."""
    require_length(body, "pmd compressed frame", at_least=3 * width)
    current = [
        int.from_bytes(body[i * width : (i + 1) * width], "little", signed=True) for i in range(3)
    ]
    samples: list[Sample] = [(current[0], current[1], current[2])]
    offset = 3 * width
    while offset < len(body):
        require_length(body, "pmd delta block", at_least=offset + 2)
        bits, count = body[offset], body[offset + 1]
        offset += 2
        if not 1 <= bits <= 32:
            raise GattParseError(f"pmd delta block: bit width {bits}")
        nbytes = (bits * 3 * count + 7) // 8
        require_length(body, "pmd delta block", at_least=offset + nbytes)
        packed = int.from_bytes(body[offset : offset + nbytes], "little")
        offset += nbytes
        for index in range(3 * count):
            raw = (packed >> (index * bits)) & ((1 << bits) - 1)
            delta = raw - (1 << bits) if raw >> (bits - 1) else raw
            current[index % 3] += delta
            if index % 3 == 2:
                samples.append((current[0], current[1], current[2]))
    return tuple(samples)


def build_frame(
    timestamp_ns: int,
    samples: Sequence[Sample],
    *,
    compressed: bool = True,
    frame_type: int | None = None,
) -> bytes:
    """A data frame for `samples` (in the frame type's units): 0x81 by default, else 0x01;
    or any of 0x00, 0x01, 0x02, 0x80 (16-bit reference), 0x81 given as `frame_type`."""
    if not samples:
        raise ValueError("a frame needs at least one sample")
    kind = frame_type if frame_type is not None else (0x81 if compressed else 0x01)
    if kind in _SAMPLE_SIZES:
        size = _SAMPLE_SIZES[kind]
        body = b"".join(v.to_bytes(size, "little", signed=True) for s in samples for v in s)
        return _HEADER.pack(ACC, timestamp_ns, kind) + body
    if kind not in (FRAME_COMPRESSED_0, FRAME_COMPRESSED_1):
        raise ValueError(f"frame type {kind:#04x} unknown")
    deltas = [b[axis] - a[axis] for a, b in itertools.pairwise(samples) for axis in range(3)]
    body = struct.pack("<hhh", *samples[0])
    if deltas:
        bits = max(max(d.bit_length() for d in deltas) + 1, 1)  # room for the sign
        packed = 0
        for index, delta in enumerate(deltas):
            packed |= (delta & ((1 << bits) - 1)) << (index * bits)
        nbytes = (bits * len(deltas) + 7) // 8
        body += bytes([bits, len(samples) - 1]) + packed.to_bytes(nbytes, "little")
    return _HEADER.pack(ACC, timestamp_ns, kind) + body


def to_g(frame: AccFrame, factor: float | None) -> tuple[tuple[float, float, float], ...]:
    """A frame's samples in g: type-0 compressed frames scaled by the start response's factor
    (16 bits at 8 g when it gave none), every other frame type in milli-g."""
    if frame.frame_type == FRAME_COMPRESSED_0:
        scale = factor if factor is not None else RANGE_G / 32768.0
        return tuple((x * scale, y * scale, z * scale) for x, y, z in frame.samples)
    return tuple((x / MILLI_G, y / MILLI_G, z / MILLI_G) for x, y, z in frame.samples)


@dataclass(slots=True)
class _Stream:
    """What the start exchange settled for one link: the rate, resolution and factor."""

    rate_hz: float
    resolution_bits: int = RESOLUTION_BITS
    factor: float | None = None
    started: bool = field(default=False)


async def start_stream(exchange: Exchange, rate_hz: int, stream: _Stream) -> None:
    """Ask which settings are supported, start with supported ones, keep the factor."""
    answer = parse_response(await exchange(build_get_settings()))
    _check(answer, "GET_MEASUREMENT_SETTINGS")
    chosen = choose(parse_settings(answer.parameters), rate_hz)
    started = parse_response(await exchange(build_start_of(chosen)))
    _check(started, "START_MEASUREMENT")
    stream.rate_hz = float(chosen.rates[0])
    stream.resolution_bits = chosen.resolutions[0]
    stream.factor = parse_settings(started.parameters).factor if started.parameters else None
    stream.started = True


def _check(response: PmdResponse, command: str) -> None:
    if response.status:
        raise PmdRefusedError(
            f"the Polar refused {command} for the accelerometer with status {response.status} "
            "(check motion_rate_hz, and that the wearable is not recording offline or in "
            "another app's session)"
        )


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
        """Accelerometer frames at a supported rate; heart rate and battery where offered."""
        wanted = device.motion_rate_hz or DEFAULT_RATE_HZ
        stream = _Stream(float(wanted))

        def decode_response(data: bytes, _now: datetime) -> Sequence[Motion]:
            parse_response(data)  # answers are awaited by the start exchange
            return ()

        def decode_frame(data: bytes, _now: datetime) -> Sequence[Motion]:
            frame = parse_frame(data, stream.resolution_bits)
            return (Motion(to_g(frame, stream.factor), stream.rate_hz),)

        async def handshake(exchanges: Mapping[str, Exchange], _now: datetime) -> None:
            await start_stream(exchanges[CONTROL_POINT], wanted, stream)

        return Session(
            channels=(
                Channel(CONTROL_POINT, decode_response),
                Channel(DATA, decode_frame, streaming=True),
                heart_rate.channel(),
                battery.channel(),
            ),
            handshake=handshake,
            probes=(battery.LEVEL,),
        )


PROFILE = PolarPmdProfile()
