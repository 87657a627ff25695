"""Steady state: the service for 10 real minutes with two people and three wearables. JSON.

The real service in this process on the system clock, its wearables fed through the device
seam at the rates real ones send: each person's watch its step count on change (every 2 s while
walking), person 1's band raw motion at 10 Hz all the time; each person walks a few minutes
every ten. A private Mosquitto (another process,
not counted). Measured: the process's CPU time (all threads) over the run, and its peak RSS.
Targets: mean CPU at most 2% of a core, peak RSS at most 100 MB.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import private_broker, write_config
from devices.base import Link
from devices.settings import DeviceConfig
from monitor.clock import Clock, SystemClock
from monitor.config import load_config
from monitor.service.app import App
from simulators.direct_link import DirectMotionBand, DirectWearable
from simulators.person import SimulatedPerson, Walk

SECONDS = 600.0
TARGET_CPU = 0.02
TARGET_RSS_MB = 100.0
TZ = ZoneInfo("Europe/London")


def walker(start: datetime, offset_min: float, minutes: float, seconds: float) -> SimulatedPerson:
    """A person who walks `minutes` at the start of every ten, beginning `offset_min` in."""
    person = SimulatedPerson()
    at = start + timedelta(minutes=offset_min)
    while at < start + timedelta(seconds=seconds):
        person.add(Walk(at, minutes, 100.0))
        at += timedelta(minutes=10)
    return person


class Wearables:
    """A counting watch each; person 1 also wears a band streaming raw motion."""

    def __init__(self, people: dict[str, SimulatedPerson]) -> None:
        self._people = people

    def __call__(self, person: str, device: DeviceConfig, clock: Clock) -> Link:
        """The simulated wearable for one configured device."""
        wearer = self._people[person]
        if device.id == "band":
            return DirectMotionBand(person, device, clock, wearer, rate_hz=10.0, awake_around=None)
        return DirectWearable(person, device, clock, wearer, TZ, interval_s=2.0)


async def steady(folder: Path, seconds: float) -> dict[str, object]:
    """Run the service for `seconds` of real time and measure it."""
    start = SystemClock().now()
    people = {"p1": walker(start, 1, 4, seconds), "p2": walker(start, 4, 3, seconds)}
    async with private_broker(folder) as broker:
        base = load_config(write_config(folder, broker.port, persons=("p1", "p2")))
        devices = {
            "p1": (
                DeviceConfig("watch", "infinitime", name="InfiniTime"),
                DeviceConfig("band", "polar_pmd", name="Polar"),
            ),
            "p2": (DeviceConfig("watch", "infinitime", name="InfiniTime"),),
        }
        config = dataclasses.replace(
            base,
            persons=tuple(
                dataclasses.replace(
                    p, plan_start=start.astimezone(TZ).date(), devices=devices[p.id]
                )
                for p in base.persons
            ),
        )
        app = App(config, clock=SystemClock(), link_factory=Wearables(people))
        service = asyncio.create_task(app.run())
        await app.started.wait()
        await asyncio.sleep(5.0)  # start-up is measured elsewhere
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        readings = 0
        if app.store is not None:
            readings = len(await app.store.raw_after(0, 10**9))
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    share = cpu / wall
    return {
        "benchmark": "steady_state",
        "what": "2 people, 3 wearables (one streaming 10 Hz motion), system clock, real time",
        "seconds": round(wall, 1),
        "raw_log_rows": readings,
        "cpu_seconds": round(cpu, 2),
        "cpu_share_of_a_core": round(share, 4),
        "peak_rss_mb": round(peak_mb, 1),
        "targets": {"cpu_share": TARGET_CPU, "peak_rss_mb": TARGET_RSS_MB},
        "met": share <= TARGET_CPU and peak_mb <= TARGET_RSS_MB,
    }


async def main(seconds: float) -> None:
    """Run and print."""
    with tempfile.TemporaryDirectory(prefix="rm-steady-") as folder:
        print(json.dumps(await steady(Path(folder), seconds)))


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS))
