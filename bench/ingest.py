"""Ingest: GATT notifications through parsing, counters, the raw log and per-minute activity.

On one core (the process, its aiosqlite thread included, pinned to one CPU). Notifications are
an InfiniTime's, as its characteristics send them: raw motion at 10 Hz and a step count about
once a second, for two watches. Measured: the most readings per second the service takes, and
at a steady offered load, how long each reading waits from arrival until it is committed.
Prints JSON. Target: at least 20,000 readings/s sustained, each committed within 1 s (the
store then checkpoints at least every DURABLE_WITHIN_S, which makes it survive a power cut).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import percentile
from devices.profiles import infinitime
from devices.readings import Reading
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock
from monitor.ingest.pipeline import Ingest
from monitor.store.connection import DURABLE_WITHIN_S
from monitor.store.database import Store
from monitor.store.rawlog import RawRow

T0 = datetime(2026, 11, 24, 9, tzinfo=UTC)
TARGET_PER_S = 20_000
OFFERED_PER_S = 20_000
STEADY_S = 15.0
BURST = 200_000


def notifications(count: int) -> list[tuple[str, str, bytes, datetime]]:
    """(device, characteristic, bytes, arrival) of two watches, in arrival order."""
    out = []
    steps = {"watch-a": 0, "watch-b": 0}
    for index in range(count):
        device = "watch-a" if index % 2 else "watch-b"
        at = T0 + timedelta(milliseconds=50 * index)
        if index % 10 == 0:
            steps[device] += 2
            out.append(
                (device, infinitime.STEP_COUNT, infinitime.build_step_count(steps[device]), at)
            )
        else:
            sample = (0.01 * (index % 7), -0.02, 1.0 + 0.1 * ((index % 5) - 2))
            out.append((device, infinitime.RAW_MOTION, infinitime.build_motion(sample), at))
    return out


def parse(
    raw: Sequence[tuple[str, str, bytes, datetime]],
) -> list[Reading]:
    """What the link does with each notification: the profile's decoder, then a Reading."""
    session = infinitime.PROFILE.session(DeviceConfig("watch", "infinitime", motion_rate_hz=10))
    decoders = {channel.uuid: channel.decode for channel in session.channels}
    return [
        Reading("p1", device, at, value)
        for device, uuid, data, at in raw
        for value in decoders[uuid](data, at)
    ]


class CommitTimes(Store):
    """The store, noting when each batch of readings was committed."""

    commits: deque[tuple[float, int]]

    async def append_readings(self, readings: Sequence[Reading]) -> list[tuple[int, RawRow]]:
        rows = await super().append_readings(readings)
        self.commits.append((time.perf_counter(), len(readings)))
        return rows


async def measure(
    folder: Path, raw: list[tuple[str, str, bytes, datetime]], rate: float | None
) -> dict[str, float]:
    """Feed `raw` (parsed on the way in) at `rate` per second, or as fast as possible."""
    async with CommitTimes.open(folder / "monitor.db") as timed:
        assert isinstance(timed, CommitTimes)  # noqa: S101 - open() builds the class it is called on
        timed.commits = deque()
        ingest = Ingest(
            timed, ZoneInfo("Europe/London"), SimulatedClock(T0), max_queued=len(raw) + 1
        )
        worker = asyncio.create_task(ingest.run())
        arrivals: list[float] = []
        began = time.perf_counter()
        chunk = 200
        for first in range(0, len(raw), chunk):
            if rate is not None:
                due = began + first / rate
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
            now = time.perf_counter()
            for reading in parse(raw[first : first + chunk]):
                ingest.put(reading)
                arrivals.append(now)
            await asyncio.sleep(0)
        await ingest.settle()
        elapsed = time.perf_counter() - began
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    waits: list[float] = []
    position = 0
    for committed_at, count in timed.commits:
        waits += [committed_at - a for a in arrivals[position : position + count]]
        position += count
    return {
        "readings": len(arrivals),
        "seconds": round(elapsed, 2),
        "per_s": round(len(arrivals) / elapsed),
        "commit_wait_p50_s": round(percentile(waits, 0.5), 3),
        "commit_wait_p99_s": round(percentile(waits, 0.99), 3),
        "commit_wait_max_s": round(max(waits), 3),
    }


async def main() -> None:
    """Pin to one core, measure a burst and a steady load, print the figures."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="rm-bench-") as folder:
        burst = await measure(Path(folder) / "burst", notifications(BURST), None)
    with tempfile.TemporaryDirectory(prefix="rm-bench-") as folder:
        steady = await measure(
            Path(folder) / "steady", notifications(int(OFFERED_PER_S * STEADY_S)), OFFERED_PER_S
        )
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "what": "InfiniTime notifications: parse, raw log, counters/gait, minutes; 1 core",
                "as_fast_as_possible": burst,
                "steady_offered_per_s": OFFERED_PER_S,
                "steady": steady,
                "checkpoint_every_s": DURABLE_WITHIN_S,
                "target_per_s": TARGET_PER_S,
                "met": burst["per_s"] >= TARGET_PER_S
                and steady["per_s"] >= 0.98 * OFFERED_PER_S
                and steady["commit_wait_max_s"] < 1.0,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
