"""Alert latency: a symptom command published, to its alert received by another client. JSON.

Through a private Mosquitto on loopback, with the real service as its own process and its
durable outbox in the path (report and alert committed to SQLite before the alert goes out).
Commands are sent one at a time: each waits for its alert, so the figures are latencies, not
a queue's backlog.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    client,
    percentile,
    private_broker,
    start_service,
    stop_service,
    write_config,
)
from monitor.mqtt.client import Incoming

COMMANDS = 1000
TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0


async def measure(folder: Path, commands: int, *, nodelay: bool) -> list[float]:
    """Latency (ms) of each of `commands` symptom reports, sent one after the other."""
    async with private_broker(folder, nodelay=nodelay) as broker:
        config_file = write_config(folder, broker.port)
        arrived: asyncio.Queue[float] = asyncio.Queue()

        def on_alert(message: Incoming) -> None:
            arrived.put_nowait(time.perf_counter())

        service = await start_service(config_file)
        try:
            async with (
                client(config_file, "bench-listener", topics=["recovery/p1/alert"],
                       on_message=on_alert) as listener,
                client(config_file, "bench-phone") as phone,
            ):  # fmt: skip
                await listener.wait_connected()
                await phone.wait_connected()
                await _until_the_service_answers(phone, arrived)
                latencies = []
                for number in range(commands):
                    body = {"symptom": "severe_stiffness", "id": f"bench-{number}"}
                    sent = time.perf_counter()
                    phone.publish("recovery/p1/report/symptom", json.dumps(body).encode())
                    received = await asyncio.wait_for(arrived.get(), timeout=10)
                    latencies.append((received - sent) * 1000)
                return latencies
        finally:
            await stop_service(service)


async def _until_the_service_answers(phone: object, arrived: asyncio.Queue[float]) -> None:
    """Send warm-up reports until one is answered (the service is up and subscribed)."""
    assert hasattr(phone, "publish")  # noqa: S101 - a programming error, not a user's
    for attempt in range(100):
        body = {"symptom": "severe_stiffness", "id": f"warm-{attempt}"}
        phone.publish("recovery/p1/report/symptom", json.dumps(body).encode())
        try:
            await asyncio.wait_for(arrived.get(), timeout=0.2)
        except TimeoutError:
            continue
        while not arrived.empty():
            arrived.get_nowait()
        return
    raise RuntimeError("the service never answered")


async def main(commands: int) -> None:
    """Measure with the recommended broker setting and with a stock one; print the figures."""
    figures = {}
    for name, nodelay in (("set_tcp_nodelay true", True), ("stock mosquitto.conf", False)):
        with tempfile.TemporaryDirectory(prefix="rm-bench-") as folder:
            latencies = await measure(Path(folder), commands, nodelay=nodelay)
        figures[name] = {
            "p50_ms": round(percentile(latencies, 0.5), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2),
            "max_ms": round(max(latencies), 2),
            "mean_ms": round(statistics.fmean(latencies), 2),
        }
    tuned = figures["set_tcp_nodelay true"]
    print(
        json.dumps(
            {
                "benchmark": "alert_latency",
                "what": "symptom command published -> alert received by another client",
                "commands": commands,
                "broker": figures,
                "target_p50_ms": TARGET_P50_MS,
                "target_p99_ms": TARGET_P99_MS,
                "met": tuned["p50_ms"] <= TARGET_P50_MS and tuned["p99_ms"] <= TARGET_P99_MS,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else COMMANDS))
