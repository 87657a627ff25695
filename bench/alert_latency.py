"""Alert latency: a symptom command published, to its alert received by another client. JSON.

Through a private Mosquitto on loopback, with the real service as its own process and its
durable outbox in the path (report and alert committed to SQLite before the alert goes out).
Commands are sent one at a time: each waits for its alert, so the figures are latencies, not
a queue's backlog.

The floor, measured on the same broker in the same run: a two-hop echo (a message published,
republished by an echo client in a process of its own, received by the listener), which is
the least any service answering through the broker can take (issue 15: p50 <= 2x the echo).
`python -m bench.alert_latency [COMMANDS]`; `--echo CONFIG` runs the echo client.
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

from bench.harness import (
    ROOT,
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
# Issue 15: the service's p50 at most this many times the echo's.
TARGET_ECHO_RATIO = 2.0
ECHO_IN = "bench/echo/in"
ECHO_OUT = "bench/echo/out"


async def echo(config_file: Path) -> None:
    """The echo client: republish every message on ECHO_IN to ECHO_OUT, until killed."""
    done = asyncio.Event()
    holder: list[object] = []

    def bounce(message: Incoming) -> None:
        mqtt = holder[0]
        assert hasattr(mqtt, "publish")  # noqa: S101 - a programming error, not a user's
        mqtt.publish(ECHO_OUT, message.payload)

    async with client(config_file, "bench-echo", topics=[ECHO_IN], on_message=bounce) as mqtt:
        holder.append(mqtt)
        await done.wait()


async def measure_echo(folder: Path, config_file: Path, count: int) -> list[float]:
    """Latency (ms) of `count` two-hop echoes, one after the other."""
    arrived: asyncio.Queue[float] = asyncio.Queue()
    echo_process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.alert_latency", "--echo", str(config_file),
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        async with (
            client(config_file, "bench-echo-listener", topics=[ECHO_OUT],
                   on_message=lambda m: arrived.put_nowait(time.perf_counter())) as listener,
            client(config_file, "bench-echo-phone") as phone,
        ):  # fmt: skip
            await listener.wait_connected()
            await phone.wait_connected()
            for _ in range(100):  # until the echo is up and subscribed
                phone.publish(ECHO_IN, b"warm")
                try:
                    await asyncio.wait_for(arrived.get(), timeout=0.2)
                    break
                except TimeoutError:
                    continue
            while not arrived.empty():
                arrived.get_nowait()
            latencies = []
            for number in range(count):
                sent = time.perf_counter()
                phone.publish(ECHO_IN, json.dumps({"n": number}).encode())
                received = await asyncio.wait_for(arrived.get(), timeout=10)
                latencies.append((received - sent) * 1000)
            return latencies
    finally:
        echo_process.kill()
        await echo_process.wait()


async def measure(
    folder: Path, commands: int, *, nodelay: bool, floor: list[float] | None = None
) -> list[float]:
    """Latency (ms) of each of `commands` symptom reports, sent one after the other.

    With `floor`, the echo's latencies on the same broker are measured first, into it.
    """
    async with private_broker(folder, nodelay=nodelay) as broker:
        config_file = write_config(folder, broker.port)
        if floor is not None:
            floor.extend(await measure_echo(folder, config_file, commands))
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
    echo_ms: list[float] = []
    for name, nodelay in (("set_tcp_nodelay true", True), ("stock mosquitto.conf", False)):
        with tempfile.TemporaryDirectory(prefix="rm-bench-") as folder:
            latencies = await measure(
                Path(folder), commands, nodelay=nodelay, floor=echo_ms if nodelay else None
            )
        figures[name] = {
            "p50_ms": round(percentile(latencies, 0.5), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2),
            "max_ms": round(max(latencies), 2),
            "mean_ms": round(statistics.fmean(latencies), 2),
        }
    tuned = figures["set_tcp_nodelay true"]
    floor = {
        "p50_ms": round(percentile(echo_ms, 0.5), 3),
        "p99_ms": round(percentile(echo_ms, 0.99), 3),
    }
    ratio = round(tuned["p50_ms"] / floor["p50_ms"], 2)
    print(
        json.dumps(
            {
                "benchmark": "alert_latency",
                "what": "symptom command published -> alert received by another client",
                "commands": commands,
                "broker": figures,
                "echo_two_hops_same_broker": floor,
                "p50_ratio_to_echo": ratio,
                "target_p50_ratio_to_echo": TARGET_ECHO_RATIO,
                "target_p50_ms": TARGET_P50_MS,
                "target_p99_ms": TARGET_P99_MS,
                "met": tuned["p50_ms"] <= TARGET_P50_MS and tuned["p99_ms"] <= TARGET_P99_MS,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--echo"]:
        asyncio.run(echo(Path(sys.argv[2])))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else COMMANDS))
