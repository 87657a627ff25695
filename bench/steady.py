"""Steady state: the service for 10 real minutes with two people and three wearables. JSON.

The real service in this process on the system clock, its wearables fed through the device
seam at the rates real ones send: each person's watch its step count on change (every 2 s while
walking), person 1's band raw motion at 10 Hz all the time; each person walks a few minutes
every ten. A private Mosquitto (another process, not counted). Measured over the run:
- disk writes: `write_bytes` of /proc/self/io (bytes this process caused to be written to
  storage, the aiosqlite thread's included), scaled to MB a day, against the floor of the
  samples themselves (12 bytes a motion sample, 16 a step count or other reading);
- CPU time of the process (all threads, the simulated wearables' included) as a share of a
  core, against a floor of 0;
- event-loop wake-ups a second (the selector's waits that returned), against the floor of the
  simulated wearables' own (one per notification: 10 a second for the band, 0.5 for a watch);
- peak RSS.
Targets (issue 15): at most 200 MB of writes a day, at most 1% of a core; peak RSS <= 100 MB.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import private_broker, write_config
from devices.base import Link, ReadingSink
from devices.readings import Motion, Reading
from devices.settings import DeviceConfig
from monitor.clock import Clock, SystemClock
from monitor.config import load_config
from monitor.service.app import App
from simulators.direct_link import DirectMotionBand, DirectWearable
from simulators.person import SimulatedPerson, Walk

SECONDS = 600.0
WARM_UP_S = 30.0
TARGET_CPU = 0.01
TARGET_MB_PER_DAY = 200.0
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


class Counted:
    """A link whose readings are counted (the floor's bytes) on their way to the service."""

    def __init__(self, link: Link, sample_bytes: Callable[[Reading], None]) -> None:
        self._link = link
        self._count = sample_bytes

    @property
    def device_id(self) -> str:
        """The wrapped link's device."""
        return self._link.device_id

    async def run(self, sink: ReadingSink) -> None:
        """Run the wrapped link, counting what it delivers."""

        def counted(reading: Reading) -> None:
            self._count(reading)
            sink(reading)

        await self._link.run(counted)


class Wearables:
    """A counting watch each; person 1 also wears a band streaming raw motion."""

    def __init__(self, people: dict[str, SimulatedPerson]) -> None:
        self._people = people
        self.sample_bytes = 0
        self.readings = 0

    def count(self, reading: Reading) -> None:
        """Add a reading's bare size: 12 bytes a motion sample (3 float32), else 16."""
        self.readings += 1
        value = reading.value
        self.sample_bytes += 12 * len(value.samples) if isinstance(value, Motion) else 16

    def __call__(self, person: str, device: DeviceConfig, clock: Clock) -> Link:
        """The simulated wearable for one configured device."""
        wearer = self._people[person]
        link: Link
        if device.id == "band":
            link = DirectMotionBand(person, device, clock, wearer, rate_hz=10.0, awake_around=None)
        else:
            link = DirectWearable(person, device, clock, wearer, TZ, interval_s=2.0)
        return Counted(link, self.count)


class WakeUps:
    """Counts the event loop's waits in its selector (each return is a wake-up)."""

    def __init__(self) -> None:
        self.count = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wrap the loop's selector."""
        selector = loop._selector  # type: ignore[attr-defined]
        select = selector.select

        def counted(timeout: float | None = None) -> list[object]:
            events: list[object] = select(timeout)
            # A zero timeout is a poll with work already waiting, not a sleep.
            if timeout is None or timeout > 0:
                self.count += 1
            return events

        selector.select = counted


def written_bytes() -> int:
    """Bytes this process caused to be sent to storage so far (/proc/self/io write_bytes)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


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
        wearables = Wearables(people)
        wake_ups = WakeUps()
        wake_ups.install(asyncio.get_running_loop())
        app = App(config, clock=SystemClock(), link_factory=wearables)
        service = asyncio.create_task(app.run())
        await app.started.wait()
        # Start-up is measured elsewhere; its writes (the new database, the first pages of each
        # table) reach the disk in the first seconds and would inflate a short run's day.
        await asyncio.sleep(WARM_UP_S)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        written_before, wakes_before = written_bytes(), wake_ups.count
        floor_before, readings_before = wearables.sample_bytes, wearables.readings
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        written = written_bytes() - written_before
        wakes = wake_ups.count - wakes_before
        floor = wearables.sample_bytes - floor_before
        delivered = wearables.readings - readings_before
        readings = 0
        if app.store is not None:
            readings = len(await app.store.raw_after(0, 10**9))
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    share = cpu / wall
    per_day = 86_400 / wall / 1e6
    mb_day, floor_mb_day = written * per_day, floor * per_day
    return {
        "benchmark": "steady_state",
        "what": "2 people, 3 wearables (one streaming 10 Hz motion), system clock, real time",
        "seconds": round(wall, 1),
        "raw_log_rows": readings,
        "readings_delivered": delivered,
        "disk_writes_mb_per_day": round(mb_day, 1),
        "floor_samples_mb_per_day": round(floor_mb_day, 2),
        "disk_writes_ratio_to_floor": round(mb_day / floor_mb_day, 1) if floor else None,
        "cpu_seconds": round(cpu, 2),
        "cpu_share_of_a_core": round(share, 4),
        "wake_ups_per_s": round(wakes / wall, 1),
        "floor_wake_ups_per_s": round(delivered / wall, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "targets": {
            "disk_writes_mb_per_day": TARGET_MB_PER_DAY,
            "cpu_share": TARGET_CPU,
            "peak_rss_mb": TARGET_RSS_MB,
        },
        "met": mb_day <= TARGET_MB_PER_DAY and share <= TARGET_CPU and peak_mb <= TARGET_RSS_MB,
    }


async def main(seconds: float) -> None:
    """Run and print."""
    with tempfile.TemporaryDirectory(prefix="rm-steady-") as folder:
        print(json.dumps(await steady(Path(folder), seconds)))


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS))
