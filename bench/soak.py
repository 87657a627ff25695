"""Soak: 90 simulated days, two people, three wearables, on the accelerated clock. Prints JSON.

The real service in this process (private Mosquitto, SQLite file), its wearables simulated
through the device seam (a step-counting watch each; one person also wears a band streaming
raw motion around walks), a phone sending each person's daily pain and function over MQTT.
Measured at each simulated midnight: memory (RSS), the database's size on disk, wall time.
Targets: under 5 minutes; RSS flat (under 10% growth after day 7); at most 500 KB of store
growth per person-day beyond the raw-motion window.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import client, private_broker, write_config
from devices.base import Link
from devices.settings import DeviceConfig
from monitor.clock import Clock, SimulatedClock
from monitor.config import load_config
from monitor.days import at_local
from monitor.service.app import App, Tuning
from simulators.direct_link import DirectMotionBand, DirectWearable
from simulators.person import SimulatedPerson, Walk

DAYS = 90
SPEED = 40_000.0
START = date(2026, 11, 23)
TZ = ZoneInfo("Europe/London")
TARGET_WALL_S = 300.0
TARGET_RSS_GROWTH = 0.10
TARGET_KB_PER_PERSON_DAY = 500.0


def simulated_person(seed: int, days: int) -> SimulatedPerson:
    """Two or three walks a day, 5 to 35 minutes, at 80-115 steps/minute; now and then none."""
    rng = random.Random(seed)
    person = SimulatedPerson()
    for index in range(days):
        day = START + timedelta(days=index)
        if rng.random() < 0.1:
            continue  # a missed day
        hour = 9.0
        for _ in range(rng.randint(2, 3)):
            hour += rng.uniform(0.5, 3.5)
            minutes = rng.uniform(5, 35)
            begin = at_local(day, clock_time(int(hour), int(hour % 1 * 60)), TZ)
            person.add(Walk(begin, minutes, rng.uniform(80, 115)))
            hour += minutes / 60 + 0.2
    return person


class Wearables:
    """The link factory of the soak: a watch for each person, a motion band for the first."""

    def __init__(self, people: dict[str, SimulatedPerson]) -> None:
        self._people = people

    def __call__(self, person: str, device: DeviceConfig, clock: Clock) -> Link:
        """The simulated wearable for one configured device."""
        if device.profile == "thingy52":
            return DirectMotionBand(person, device, clock, self._people[person], rate_hz=10.0)
        return DirectWearable(person, device, clock, self._people[person], TZ, interval_s=10.0)


def rss_kb() -> int:
    """This process's resident memory in KB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def store_bytes(database: Path) -> int:
    """The database's size on disk, WAL included."""
    return sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))


async def soak(folder: Path, days: int, speed: float) -> dict[str, object]:
    """Run the soak and return its figures."""
    people = {"p1": simulated_person(1, days), "p2": simulated_person(2, days)}
    async with private_broker(folder) as broker:
        config_file = write_config(folder, broker.port, persons=("p1", "p2"))
        base = load_config(config_file)
        devices = {
            "p1": (
                DeviceConfig("watch", "infinitime", name="InfiniTime"),
                DeviceConfig("band", "thingy52", name="Thingy"),
            ),
            "p2": (DeviceConfig("watch", "infinitime", name="InfiniTime"),),
        }
        config = dataclasses.replace(
            base,
            persons=tuple(
                dataclasses.replace(p, plan_start=START, devices=devices[p.id])
                for p in base.persons
            ),
        )
        clock = SimulatedClock(at_local(START, clock_time(6), TZ), speed=speed)
        app = App(
            config,
            clock=clock,
            link_factory=Wearables(people),
            tuning=Tuning(state_interval_s=300.0, state_refresh_s=1800.0),
        )
        samples: list[dict[str, float]] = []
        began = time.perf_counter()
        async with client(config_file, "soak-phone") as phone:
            service = asyncio.create_task(app.run())
            await app.started.wait()
            rng = random.Random(3)
            for index in range(days):
                day = START + timedelta(days=index)
                evening = at_local(day, clock_time(20, 30), TZ)
                await clock.sleep_until(evening)
                for pid in people:
                    for kind in ("pain", "function"):
                        body = {"score": rng.randint(2, 7), "at": clock.now().isoformat()}
                        phone.publish(f"recovery/{pid}/report/{kind}", json.dumps(body).encode())
                await clock.sleep_until(at_local(day + timedelta(days=1), clock_time(0), TZ))
                if service.done():
                    service.result()
                samples.append(
                    {
                        "day": index + 1,
                        "wall_s": round(time.perf_counter() - began, 1),
                        "rss_kb": rss_kb(),
                        "store_bytes": store_bytes(config.service.database),
                    }
                )
            service.cancel()
            await asyncio.gather(service, return_exceptions=True)
    wall = time.perf_counter() - began
    week = next(s for s in samples if s["day"] == min(7, days))
    last = samples[-1]
    growth = (last["rss_kb"] - week["rss_kb"]) / week["rss_kb"]
    later_days = max(last["day"] - week["day"], 1)
    per_person_day_kb = (last["store_bytes"] - week["store_bytes"]) / 1024 / later_days / 2
    return {
        "benchmark": "soak",
        "days": days,
        "speed": speed,
        "wall_s": round(wall, 1),
        "rss_kb_day7": week["rss_kb"],
        "rss_kb_last": last["rss_kb"],
        "rss_kb_max": max(s["rss_kb"] for s in samples),
        "rss_growth_after_day7": round(growth, 4),
        "store_mb_last": round(last["store_bytes"] / 2**20, 2),
        "store_kb_per_person_day_after_day7": round(per_person_day_kb, 1),
        "targets": {
            "wall_s": TARGET_WALL_S,
            "rss_growth": TARGET_RSS_GROWTH,
            "kb_per_person_day": TARGET_KB_PER_PERSON_DAY,
        },
        "met": wall < TARGET_WALL_S
        and growth < TARGET_RSS_GROWTH
        and per_person_day_kb <= TARGET_KB_PER_PERSON_DAY,
        "by_day": samples[:: max(1, len(samples) // 15)],
    }


async def main(days: int, speed: float) -> None:
    """Run and print."""
    with tempfile.TemporaryDirectory(prefix="rm-soak-") as folder:
        print(json.dumps(await soak(Path(folder), days, speed)))


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else DAYS,
            float(sys.argv[2]) if len(sys.argv) > 2 else SPEED,
        )
    )
