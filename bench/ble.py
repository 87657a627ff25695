"""Benchmark the device layer over the virtual radio: connect, reconnect after a reboot, and
notifications per second delivered to the service's sink.

Everything runs through the production `BleLink`, bleak and the Bumble-backed backend, in one
process. Run: `python -m bench.ble [--rounds N] [--seconds S] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from devices.ble import BleLink, LinkSettings
from devices.readings import Battery, Motion, Reading
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson
from simulators.radio import VirtualRadio

START = datetime(2026, 11, 20, 8, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Figures:
    """What the benchmark measured (real milliseconds and real seconds)."""

    connect_ms_median: float
    connect_ms_p90: float
    reconnect_after_reboot_ms_median: float
    reconnect_after_reboot_ms_p90: float
    notifications_per_s_one_wearable: float
    notifications_per_s_three_wearables: float
    notifications_lost: int


class _Sink:
    """Counts readings and wakes waiters."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.changed = asyncio.Event()

    def __call__(self, reading: Reading) -> None:
        self.readings.append(reading)
        self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


def _wave(start: datetime, rate_hz: float, count: int) -> Sequence[tuple[float, float, float]]:
    return [(0.1, 0.0, 1.0)] * count


def _set_up(sink: _Sink, times: int) -> Callable[[], bool]:
    """Whether the link has set the watch up `times` times: the battery read comes last."""
    return lambda: sum(1 for r in sink.readings if isinstance(r.value, Battery)) >= times


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _connect_times(rounds: int) -> list[float]:
    """Real ms from starting a link to a set-up connection (scan, connect, discover, subscribe)."""
    times = []
    async with VirtualRadio() as radio:
        clock = SimulatedClock(START, speed=1)
        watch = await radio.add_wearable(
            profile="infinitime", wearer=SimulatedPerson(), clock=clock
        )
        factory = radio.link_factory()
        for _ in range(rounds):
            link = factory("p1", DeviceConfig("watch", "infinitime", address=watch.address), clock)
            sink = _Sink()
            started = time.perf_counter()
            task = asyncio.create_task(link.run(sink))
            await sink.until(_set_up(sink, 1))
            times.append((time.perf_counter() - started) * 1000)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return times


async def _reconnect_times(rounds: int) -> list[float]:
    """Real ms from a reboot (with no boot delay) to the link set up again."""
    times = []
    async with VirtualRadio() as radio:
        clock = SimulatedClock(START, speed=1)
        watch = await radio.add_wearable(
            profile="infinitime", wearer=SimulatedPerson(), clock=clock, boot_s=0.0
        )
        # Reboots in quick succession would count as flapping and back off: not measured here.
        factory = radio.link_factory(settings=LinkSettings(stable_s=0))
        link = factory("p1", DeviceConfig("watch", "infinitime", address=watch.address), clock)
        sink = _Sink()
        task = asyncio.create_task(link.run(sink))
        await sink.until(_set_up(sink, 1))
        for round_ in range(rounds):
            started = time.perf_counter()
            await watch.reboot()
            await sink.until(_set_up(sink, round_ + 2))
            times.append((time.perf_counter() - started) * 1000)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return times


async def _throughput(wearables: int, seconds: float) -> tuple[float, int]:
    """Motion notifications per real second reaching the sink, flat out; and how many were lost."""
    async with VirtualRadio() as radio:
        # A fast clock makes every simulated Thingy send raw motion as fast as it can.
        clock = SimulatedClock(START, speed=10_000)
        sink = _Sink()
        links: list[BleLink] = []
        things = []
        for n in range(wearables):
            thingy = await radio.add_wearable(
                profile="thingy52",
                wearer=SimulatedPerson(),
                clock=clock,
                motion_source=_wave,
                motion_period_s=1e-6,
                notify_interval_s=3600,
            )
            things.append(thingy)
            config = DeviceConfig(
                f"thingy{n}", "thingy52", address=thingy.address, motion_rate_hz=200
            )
            links.append(
                radio.link_factory(settings=LinkSettings(stream_silence_s=3600))(
                    "p1", config, clock
                )
            )
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(link.run(sink)) for link in links]
            await sink.until(lambda: all(link.connections for link in links))
            await asyncio.sleep(0.2)  # past the start-up
            before = sum(1 for r in sink.readings if isinstance(r.value, Motion))
            started = time.perf_counter()
            await asyncio.sleep(seconds)
            after = sum(1 for r in sink.readings if isinstance(r.value, Motion))
            elapsed = time.perf_counter() - started
            # Quiet the wearables and let what is in flight arrive, then compare the counts.
            for thingy in things:
                await thingy.stall(3600)
            await asyncio.sleep(0.2)
            sent = sum(t.notifications for t in things)
            received = sum(1 for r in sink.readings if isinstance(r.value, Motion))
            for task in tasks:
                task.cancel()
    return (after - before) / elapsed, sent - received


async def measure(rounds: int, seconds: float) -> Figures:
    """Run every measurement."""
    connects = await _connect_times(rounds)
    reconnects = await _reconnect_times(rounds)
    one, lost_one = await _throughput(1, seconds)
    three, lost_three = await _throughput(3, seconds)
    return Figures(
        connect_ms_median=statistics.median(connects),
        connect_ms_p90=_percentile(connects, 0.9),
        reconnect_after_reboot_ms_median=statistics.median(reconnects),
        reconnect_after_reboot_ms_p90=_percentile(reconnects, 0.9),
        notifications_per_s_one_wearable=one,
        notifications_per_s_three_wearables=three,
        notifications_lost=lost_one + lost_three,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures as a table, or as one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.ble", description=__doc__)
    parser.add_argument("--rounds", type=int, default=20, help="connects and reboots to time")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to stream")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    logging.getLogger("bumble").setLevel(logging.ERROR)
    figures = asyncio.run(measure(args.rounds, args.seconds))
    if args.json:
        print(json.dumps(asdict(figures)))
    else:
        print(
            "connect (scan, connect, discover, set up): "
            f"median {figures.connect_ms_median:.1f} ms, p90 {figures.connect_ms_p90:.1f} ms"
        )
        print(
            f"reconnect after a reboot (boot time excluded): median "
            f"{figures.reconnect_after_reboot_ms_median:.1f} ms, "
            f"p90 {figures.reconnect_after_reboot_ms_p90:.1f} ms"
        )
        print(
            f"notifications/s to the sink: {figures.notifications_per_s_one_wearable:.0f} "
            f"(one wearable), {figures.notifications_per_s_three_wearables:.0f} (three)"
        )
        print(f"notifications lost: {figures.notifications_lost}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
