"""Start-up: from `recovery-monitor run` to its first retained state on the broker. Prints JSON.

Each run starts a fresh broker and database, so nothing retained from a previous run is seen.
Next to each start, the floor in the same run: `bench.startup_floor` (the same outside libraries
imported, connect, publish a retained state). Also the RSS of each, idle, IDLE_S after their
first state. Targets (issue 15): start-up at most 0.3 s, RSS idle at most 50 MB.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT, client, private_broker, start_service, stop_service, write_config

RUNS = 7
TARGET_S = 0.3
TARGET_RSS_MB = 50.0
IDLE_S = 5.0


def rss_mb(pid: int) -> float:
    """The resident set of a process, in MB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def start_floor(port: int) -> asyncio.subprocess.Process:
    """`python -m bench.startup_floor PORT` as a process of its own."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.startup_floor",
        str(port),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=asyncio.subprocess.DEVNULL,
    )


async def one_start(folder: Path, *, floor: bool = False) -> tuple[float, float]:
    """Seconds from spawning to the first retained state message, and the RSS idle after."""
    async with private_broker(folder) as broker:
        config_file = write_config(folder, broker.port, persons=("p1", "p2"))
        seen = asyncio.Event()

        def on_state(message: object) -> None:
            seen.set()

        async with client(config_file, "bench-dashboard", topics=["recovery/+/state"],
                          on_message=on_state) as dashboard:  # fmt: skip
            await dashboard.wait_connected()
            await asyncio.sleep(0.1)
            began = time.perf_counter()
            if floor:
                service = await start_floor(broker.port)
            else:
                service = await start_service(config_file)
            try:
                await asyncio.wait_for(seen.wait(), timeout=30)
                took = time.perf_counter() - began
                await asyncio.sleep(IDLE_S)
                return took, rss_mb(service.pid)
            finally:
                await stop_service(service)


async def main() -> None:
    """Measure RUNS starts of the service and of the floor, alternately, and print the figures."""
    runs: dict[str, list[tuple[float, float]]] = {"service": [], "floor": []}
    for run in range(RUNS):
        for name in runs:
            with tempfile.TemporaryDirectory(prefix="rm-bench-") as folder:
                measured = await one_start(Path(folder) / str(run), floor=name == "floor")
                runs[name].append(measured)
    figures: dict[str, dict[str, Any]] = {}
    for name, values in runs.items():
        times, rss = [t for t, _ in values], [r for _, r in values]
        figures[name] = {
            "runs_s": [round(t, 3) for t in times],
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "rss_idle_mb": round(statistics.median(rss), 1),
        }
    service, floor = figures["service"], figures["floor"]
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "what": "`run` spawned to first retained state received (2 persons); RSS idle",
                **figures,
                "ratio_to_floor": round(service["median_s"] / floor["median_s"], 2),
                "rss_ratio_to_floor": round(service["rss_idle_mb"] / floor["rss_idle_mb"], 2),
                "target_s": TARGET_S,
                "target_rss_mb": TARGET_RSS_MB,
                "met": service["median_s"] <= TARGET_S and service["rss_idle_mb"] <= TARGET_RSS_MB,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
