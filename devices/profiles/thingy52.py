"""Nordic Thingy:52: its Motion service (pedometer, raw accelerometer, configuration) and battery.

The pedometer is cumulative since power-on (no midnight reset). The firmware switches motion
features off when a central disconnects, so the link configures and subscribes on every connect.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.profiles import battery
from devices.profiles.gatt import Channel, GattParseError, Session, Write, require_length
from devices.readings import CounterEpoch, Motion, StepCount
from devices.settings import DeviceConfig


def thingy_uuid(short: int) -> str:
    """A Thingy:52 UUID from its 16-bit part (EF68xxxx-9B35-4933-9B10-52FFA9740042)."""
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


CONFIGURATION_SERVICE = thingy_uuid(0x0100)  # what a Thingy advertises
MOTION_SERVICE = thingy_uuid(0x0400)
MOTION_CONFIG = thingy_uuid(0x0401)
PEDOMETER = thingy_uuid(0x0405)
RAW = thingy_uuid(0x0406)

# Accelerometer values are Q6.10 fixed point in g.
ACCEL_UNITS_PER_G = 1024.0
MIN_MOTION_HZ, MAX_MOTION_HZ = 5, 200
# Pedometer notifications at most this often (ms); the firmware's own default.
PEDOMETER_INTERVAL_MS = 1000

_CONFIG = struct.Struct("<HHHHB")
_PEDOMETER = struct.Struct("<II")
_RAW = struct.Struct("<hhhhhhhhh")


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """The Motion service configuration (EF680401)."""

    pedometer_interval_ms: int = PEDOMETER_INTERVAL_MS
    temperature_compensation_interval_ms: int = 10_000
    compass_interval_ms: int = 1000
    motion_frequency_hz: int = 50
    wake_on_motion: bool = True


def parse_config(data: bytes) -> MotionConfig:
    """The configuration in a Motion config value (9 bytes LE)."""
    require_length(data, "thingy motion config", exactly=_CONFIG.size)
    pedometer, temperature, compass, frequency, wake = _CONFIG.unpack(data)
    if wake > 1:
        raise GattParseError(f"thingy motion config: wake-on-motion {wake} is not 0 or 1")
    return MotionConfig(pedometer, temperature, compass, frequency, bool(wake))


def build_config(config: MotionConfig) -> bytes:
    """The Motion config value; the motion frequency must be 5-200 Hz."""
    if not MIN_MOTION_HZ <= config.motion_frequency_hz <= MAX_MOTION_HZ:
        raise ValueError(f"motion frequency must be 5-200 Hz, not {config.motion_frequency_hz}")
    return _CONFIG.pack(
        config.pedometer_interval_ms,
        config.temperature_compensation_interval_ms,
        config.compass_interval_ms,
        config.motion_frequency_hz,
        int(config.wake_on_motion),
    )


def parse_pedometer(data: bytes) -> StepCount:
    """Steps and walking time (ms) since power-on (2 x uint32 LE)."""
    require_length(data, "thingy pedometer", exactly=_PEDOMETER.size)
    steps, walking_ms = _PEDOMETER.unpack(data)
    return StepCount(steps, CounterEpoch.POWER_ON, walking_ms=walking_ms)


def build_pedometer(steps: int, walking_ms: int) -> bytes:
    """The pedometer value."""
    return _PEDOMETER.pack(steps, walking_ms)


def parse_raw(data: bytes) -> tuple[float, float, float]:
    """The accelerometer part (g) of a raw motion value; gyroscope and compass are ignored."""
    require_length(data, "thingy raw motion", exactly=_RAW.size)
    x, y, z = _RAW.unpack(data)[:3]
    return (x / ACCEL_UNITS_PER_G, y / ACCEL_UNITS_PER_G, z / ACCEL_UNITS_PER_G)


def build_raw(accel: tuple[float, float, float]) -> bytes:
    """A raw motion value carrying `accel` (g), with the gyroscope at rest and no compass."""
    ax, ay, az = (max(-32768, min(32767, round(v * ACCEL_UNITS_PER_G))) for v in accel)
    return _RAW.pack(ax, ay, az, 0, 0, 0, 0, 0, 0)


def _decode_pedometer(data: bytes, _now: datetime) -> Sequence[StepCount]:
    return (parse_pedometer(data),)


@dataclass(frozen=True, slots=True)
class Thingy52Profile:
    """Nordic Thingy:52 multi-sensor."""

    name: str = "thingy52"
    title: str = "Nordic Thingy:52"

    def recognises(self, local_name: str | None, service_uuids: Collection[str]) -> bool:
        """By the configuration service a Thingy advertises, or its default name."""
        if CONFIGURATION_SERVICE in service_uuids or MOTION_SERVICE in service_uuids:
            return True
        return local_name is not None and local_name.lower().startswith("thingy")

    def session(self, device: DeviceConfig) -> Session:
        """Pedometer and battery; raw motion at the configured rate when one is configured."""
        rate = device.motion_rate_hz

        def configure(current: bytes | None) -> bytes:
            try:
                config = parse_config(current) if current is not None else MotionConfig()
            except GattParseError:
                config = MotionConfig()
            frequency = rate if rate is not None else config.motion_frequency_hz
            return build_config(
                MotionConfig(
                    pedometer_interval_ms=PEDOMETER_INTERVAL_MS,
                    temperature_compensation_interval_ms=config.temperature_compensation_interval_ms,
                    compass_interval_ms=config.compass_interval_ms,
                    motion_frequency_hz=max(MIN_MOTION_HZ, min(MAX_MOTION_HZ, frequency)),
                    wake_on_motion=config.wake_on_motion,
                )
            )

        channels = [Channel(PEDOMETER, _decode_pedometer), battery.channel()]
        if rate is not None:

            def decode_raw(data: bytes, _now: datetime) -> Sequence[Motion]:
                return (Motion((parse_raw(data),), float(rate)),)

            channels.append(Channel(RAW, decode_raw, streaming=True))
        write = Write(MOTION_CONFIG, configure, read_first=True, required=rate is not None)
        return Session(
            channels=tuple(channels),
            setup=lambda _now, _zone: (write,),
            probes=(battery.LEVEL, MOTION_CONFIG),
        )


PROFILE = Thingy52Profile()
