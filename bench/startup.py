"""Start-up: from `recovery-monitor run` to its first retained state on the broker. Prints JSON.

Each run starts a fresh broker and database, so nothing retained from a previous run is seen.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.harness import client, private_broker, start_service, stop_service, write_config

RUNS = 7
TARGET_S = 2.0


async def one_start(folder: Path) -> float:
    """Seconds from spawning the service to the first retained state message."""
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
            service = await start_service(config_file)
            try:
                await asyncio.wait_for(seen.wait(), timeout=30)
                return time.perf_counter() - began
            finally:
                await stop_service(service)


async def main() -> None:
    """Measure RUNS starts and print the figures."""
    times = []
    for run in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="rm-bench-") as folder:
            times.append(await one_start(Path(folder) / str(run)))
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "what": "`run` spawned to first retained state received (2 persons)",
                "runs": [round(t, 3) for t in times],
                "median_s": round(statistics.median(times), 3),
                "max_s": round(max(times), 3),
                "target_s": TARGET_S,
                "met": max(times) < TARGET_S,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
