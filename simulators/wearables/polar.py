"""A simulated Polar wearable streaming its accelerometer over PMD, as a given model does.

The model decides what the wearable offers (GET_MEASUREMENT_SETTINGS), which start commands it
accepts, which frame type it sends and the factor its start response carries: an H10 offers
25-200 Hz and sends delta frames in milli-g (0x81) or raw 16-bit frames (0x01); a Verity Sense
offers only 52 Hz and 3 channels and sends type-0 compressed frames (0x80) scaled by the factor.
Faults: `refuse_start` answers every start with an error status.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bumble.gatt import Service

from devices.profiles import polar_pmd
from devices.profiles.gatt import GattParseError
from devices.profiles.polar_pmd import PmdSettings
from simulators.wearables.heart_rate import heart_rate_service, send_heart_rate
from simulators.wearables.host import INDICATE, NOTIFY, READ, WRITE, Host, PeripheralBase, service

# A frame carries about this many seconds of samples, and at most this many samples.
FRAME_S = 0.2
FRAME_SAMPLES = 36


@dataclass(frozen=True, slots=True)
class PolarModel:
    """What one Polar model offers for its accelerometer and how it sends it."""

    name: str
    offered: PmdSettings
    frame_type: int
    factor: float | None = None  # in the start response, for type-0 compressed frames
    # What a read of the control point returns: 0x0F, then a bit per measurement type.
    features: bytes = bytes([0x0F, 1 << polar_pmd.ACC]) + bytes(15)


# Rates, ranges and frame types from the SDK's product pages and parsers' tests; the features
# read as reported in polar-ble-sdk#360 (an H10: ECG, accelerometer) and #249 (a Verity Sense:
# PPG, accelerometer, PPI, gyroscope, magnetometer), 17 bytes.
H10 = PolarModel(
    "Polar H10",
    PmdSettings(rates=(25, 50, 100, 200), resolutions=(16,), ranges=(2, 4, 8)),
    polar_pmd.FRAME_COMPRESSED_1,
    features=bytes.fromhex("0f05") + bytes(15),
)
VERITY_SENSE = PolarModel(
    "Polar Sense",
    PmdSettings(rates=(52,), resolutions=(16,), ranges=(8,), channels=(3,)),
    polar_pmd.FRAME_COMPRESSED_0,
    factor=polar_pmd.RANGE_G / 32768.0,  # 16 bits over +-8 g: 2.44e-4 g per unit
    features=bytes.fromhex("0f6e02") + bytes(14),
)


class PolarPeripheral(PeripheralBase):
    """A Polar sensor: PMD control point and data, heart rate."""

    primary_uuid = polar_pmd.DATA

    def __init__(self, host: Host, model: PolarModel = H10) -> None:
        super().__init__(host)
        self.model = model
        self.refuse_start: int | None = None  # a status to answer every start with
        self.started: PmdSettings | None = None  # the measurement running, if any
        self.frames = 0
        self._epoch_start = host.clock.now()
        self._motion_task: asyncio.Task[None] | None = None

    def services(self) -> list[Service]:
        """Heart Rate and PMD."""
        host = self.host
        return [
            heart_rate_service(host),
            service(
                polar_pmd.SERVICE,
                [
                    host.characteristic(
                        polar_pmd.CONTROL_POINT,
                        READ | WRITE | INDICATE,
                        lambda: self.model.features,
                        self._on_command,
                    ),
                    host.characteristic(polar_pmd.DATA, NOTIFY),
                ],
            ),
        ]

    async def tick(self, now: datetime) -> None:
        """Heart rate every interval."""
        await send_heart_rate(self.host, now)

    def on_disconnect(self) -> None:
        """The measurement stops with the connection."""
        self.started = None

    def _on_command(self, value: bytes) -> None:
        op = value[0] if value else -1
        if op == polar_pmd.OP_STOP:
            self.started = None
            self._answer(polar_pmd.build_response(polar_pmd.OP_STOP))
        elif op == polar_pmd.OP_GET_SETTINGS:
            offered = polar_pmd.build_offered(self.model.offered)
            self._answer(polar_pmd.build_response(polar_pmd.OP_GET_SETTINGS, 0, offered))
        elif op == polar_pmd.OP_START:
            self._start(polar_pmd.parse_start(value))
        else:
            raise GattParseError(f"pmd: op code {op} not supported")

    def _start(self, wanted: PmdSettings) -> None:
        status = self.refuse_start or 0
        offered = self.model.offered
        if not status and offered.rates and wanted.rates[0] not in offered.rates:
            status = polar_pmd.STATUS_INVALID_SAMPLE_RATE
        if not status and wanted.ranges and wanted.ranges[0] not in offered.ranges:
            status = polar_pmd.STATUS_INVALID_RANGE
        if status:
            self._answer(polar_pmd.build_response(polar_pmd.OP_START, status))
            return
        self.started = replace(wanted, factor=self.model.factor)
        parameters = b""
        if self.model.factor is not None:
            setting = [(polar_pmd.SETTING_FACTOR, self.model.factor)]
            parameters = polar_pmd.build_settings(setting)
        self._answer(polar_pmd.build_response(polar_pmd.OP_START, 0, parameters))
        if self._motion_task is None or self._motion_task.done():
            self._motion_task = self.host.spawn(self._stream(), "motion")

    def _answer(self, response: bytes) -> None:
        self.host.spawn(self.host.indicate(polar_pmd.CONTROL_POINT, response), "pmd")

    async def _stream(self) -> None:
        """Frames of samples while a measurement runs."""
        host, source = self.host, self.host.motion_source
        if source is None:
            return
        while host.subscribed(polar_pmd.DATA) and host.connected and self.started is not None:
            rate = float(self.started.rates[0])
            count = min(FRAME_SAMPLES, max(1, round(rate * FRAME_S)))
            await host.clock.sleep((host.motion_period_s or count / rate) * host.slow_factor)
            if host.stalled or self.started is None:
                continue
            now = host.clock.now()
            start = now - timedelta(seconds=(count - 1) / rate)
            samples = [self._units(sample) for sample in source(start, rate, count)]
            nanoseconds = int((now - self._epoch_start).total_seconds() * 1e9)
            frame = polar_pmd.build_frame(nanoseconds, samples, frame_type=self.model.frame_type)
            if await host.notify(polar_pmd.DATA, frame):
                self.frames += 1

    def _units(self, sample: tuple[float, float, float]) -> tuple[int, int, int]:
        """A sample in g as the frame type carries it: raw units or milli-g."""
        if self.model.frame_type == polar_pmd.FRAME_COMPRESSED_0 and self.model.factor:
            scale = 1.0 / self.model.factor
        else:
            scale = polar_pmd.MILLI_G
        x, y, z = (round(v * scale) for v in sample)
        return (x, y, z)
