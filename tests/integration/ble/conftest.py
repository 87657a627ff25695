"""Fixtures for the device layer over the virtual radio: a radio, a recorder, running links."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from devices.ble import BleLink, BleLinkFactory, LinkSettings
from devices.readings import LinkState, Reading, StepCount
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from monitor.days import day_start, local_date
from monitor.ingest import counters
from simulators.radio import VirtualRadio

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
# A paced clock: simulated time moves on once the radio, the links and the wearables are idle,
# as fast as the machine allows (a busy machine is slower, and sees the same simulated times).
SPEED = math.inf
# Radio operations that hang are given up on quickly in tests.
FAST = LinkSettings(gatt_timeout_s=0.5, disconnect_timeout_s=0.5, stable_s=30.0)
UTC_ZONE = ZoneInfo("UTC")

_V = TypeVar("_V")


@pytest.fixture
async def radio() -> AsyncIterator[VirtualRadio]:
    """A running virtual radio, switched off after the test."""
    async with VirtualRadio() as running:
        yield running


@pytest.fixture
def clock() -> SimulatedClock:
    """A paced simulated clock from START."""
    return SimulatedClock(START, speed=SPEED, paced=True)


class Recorder:
    """A reading sink that tests can wait on."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self._changed = asyncio.Event()

    def __call__(self, reading: Reading) -> None:
        self.readings.append(reading)
        self._changed.set()

    def of(self, kind: type[_V], device: str | None = None) -> list[_V]:
        """The values of one kind received, optionally from one device only."""
        return [
            r.value
            for r in self.readings
            if isinstance(r.value, kind) and (device is None or r.device == device)
        ]

    def states(self, device: str | None = None) -> list[bool]:
        """The connection states reported, in order."""
        return [s.connected for s in self.of(LinkState, device)]

    async def wait_for(self, condition: Callable[[], bool], within_s: float = 60.0) -> None:
        """Wait (at most `within_s` real seconds) until `condition()` holds."""
        async with asyncio.timeout(within_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_count(
        self, device: str, count: Callable[[], int], within_s: float = 60.0
    ) -> None:
        """Wait until the device's latest StepCount is the wearable's current count."""

        def caught_up() -> bool:
            steps = self.of(StepCount, device)
            return bool(steps) and steps[-1].total == count()

        await self.wait_for(caught_up, within_s)


@contextlib.asynccontextmanager
async def running(links: list[BleLink], recorder: Recorder) -> AsyncIterator[None]:
    """Run links in a task group; cancel them (as the service does on shutdown) afterwards."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(link.run(recorder), name=link.device_id) for link in links]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


def make_link(
    radio: VirtualRadio,
    clock: SimulatedClock,
    device: DeviceConfig,
    *,
    person: str = "p1",
    zone: ZoneInfo = UTC_ZONE,
    settings: LinkSettings = FAST,
) -> BleLink:
    """A production BleLink on the virtual radio, through the radio's link factory."""
    factory: BleLinkFactory = radio.link_factory(timezone=zone, settings=settings)
    return factory(person, device, clock)


def credited_spans(
    readings: list[Reading], device: str, zone: ZoneInfo = UTC_ZONE
) -> list[counters.StepSpan]:
    """The step spans the service's counter logic credits from a device's readings, in order."""
    state: counters.CounterState | None = None
    spans: list[counters.StepSpan] = []
    for reading in readings:
        if reading.device != device:
            continue
        value = reading.value
        if isinstance(value, LinkState):
            state = counters.link_changed(state, value.connected, reading.received_at)
        elif isinstance(value, StepCount):
            midnight = day_start(local_date(reading.received_at, zone), zone)
            observation = counters.observe(
                state, value.total, value.epoch, reading.received_at, midnight
            )
            assert observation.outcome is not counters.Outcome.REJECTED, (reading, state)
            state = observation.state
            spans.extend(observation.spans)
    return spans


def counted_steps(readings: list[Reading], device: str, zone: ZoneInfo = UTC_ZONE) -> int:
    """Steps the service's counter logic credits from a device's readings."""
    return sum(span.steps for span in credited_spans(readings, device, zone))
