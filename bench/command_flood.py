"""Commands under a flood: a valid command's answer time while one client floods at full speed.

For SECONDS a flooder publishes, as fast as its client takes them, a mix of malformed commands
(3 in 4) and valid pain reports with distinct ids (1 in 4), QoS 1, on `recovery/p1/report/pain`.
Meanwhile a phone sends one valid function report every 100 ms with a response topic and
times its answer. Afterwards every command published is accounted for: stored once (its id
is in the database) or refused (an answer on the error topic, or counted in a `rate_limited`
summary); `flood_accounted` should equal `flood_published`. Also the service's peak memory
(VmHWM). JSON.

`python -m bench.command_flood [SECONDS] [QUEUE]` (default 30 s; QUEUE sets Mosquitto's
`max_queued_messages`, default its own 1000: beyond it the broker drops what it confirmed).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    ROOT,
    client,
    percentile,
    start_service,
    stop_service,
    write_config,
)
from monitor.mqtt.client import FAILURE, Incoming, MqttError
from simulators.broker import PrivateBroker

SECONDS = 30.0
PHONE_EVERY_S = 0.1
TARGET_P99_S = 1.0


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(folder: Path, seconds: float, queue: int | None = None) -> dict[str, Any]:
    """Run the flood; the figures."""
    extra = f"max_queued_messages {queue}\n" if queue else ""
    extra += os.environ.get("FLOOD_BROKER_EXTRA", "").replace(";", "\n") + "\n"
    async with PrivateBroker(folder / "broker", persistence=False, extra_config=extra) as broker:
        config_file = write_config(folder, broker.port)
        answers: dict[bytes, float] = {}
        refusals: list[dict[str, Any]] = []
        answered = asyncio.Event()

        def on_message(message: Incoming) -> None:
            if message.topic.endswith("/error"):
                refusals.append(json.loads(message.payload))
            elif message.correlation_data is not None:
                answers[message.correlation_data] = time.perf_counter()
                answered.set()

        service = await start_service(config_file)
        try:
            async with (
                client(config_file, "flood-listener", topics=["recovery/p1/error",
                       "recovery/p1/reply/#"], on_message=on_message) as listener,
                client(config_file, "flood-phone") as phone,
            ):  # fmt: skip
                for mqtt in (listener, phone):
                    await mqtt.wait_connected()
                await _until_answered(phone, answers, answered)
                sent_at: dict[bytes, float] = {}
                # The flooder is a process of its own, so that its work does not delay this
                # process's clock readings of the phone's answers.
                flooder = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.command_flood", "--flood", str(config_file),
                    str(seconds), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                    stdout=asyncio.subprocess.PIPE,
                )  # fmt: skip
                stop = time.perf_counter() + seconds
                number = 0
                while time.perf_counter() < stop:
                    name = f"phone-{number}".encode()
                    body = json.dumps({"score": 5, "id": f"p-{number}"}).encode()
                    sent_at[name] = time.perf_counter()
                    phone.publish(
                        "recovery/p1/report/function", body,
                        response_topic=f"recovery/p1/reply/{number}", correlation_data=name,
                    )  # fmt: skip
                    number += 1
                    await asyncio.sleep(PHONE_EVERY_S)
                out, _ = await flooder.communicate()
                flood = json.loads(out)
                # Drain: wait until every phone command is answered and refusals stop coming.
                drain_until = time.perf_counter() + 300
                settled = 0
                last = (-1, -1)
                while time.perf_counter() < drain_until and settled < 20:
                    await asyncio.sleep(0.25)
                    now = (len(answers), len(refusals))
                    settled = settled + 1 if now == last else 0
                    last = now
        finally:
            rss = _peak_rss_mb(service.pid)
            await stop_service(service)
    latencies = [answers[name] - at for name, at in sent_at.items() if name in answers]
    with sqlite3.connect(folder / "monitor.db") as db:
        rows = [
            str(row[0]).removeprefix("id:")
            for row in db.execute("SELECT dedup FROM report WHERE kind = 'pain'")
        ]
        stored = set(rows)
    valid_ids = set(flood["valid_ids"])
    refused_count = sum(
        int(r.get("count", 1)) if r["error"] == "rate_limited" else 1 for r in refusals
    )
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    return {
        "benchmark": "command_flood",
        "seconds": seconds,
        "broker_max_queued_messages": queue or 1000,
        "flood_published": flood["published"],
        "flood_confirmed_by_broker": flood["confirmed"],
        "flood_valid_published": len(valid_ids),
        "flood_valid_stored": len(stored & valid_ids),
        "stored_more_than_once": len(rows) - len(stored),
        "flood_accounted": len(stored & valid_ids) + refused_count,
        "refusals_accounted": refused_count,
        "phone_commands": len(sent_at),
        "phone_answered": len(latencies),
        "phone_answer_p50_s": round(percentile(latencies, 0.5), 3) if latencies else None,
        "phone_answer_p99_s": round(p99, 3),
        "phone_answer_max_s": round(max(latencies), 3) if latencies else None,
        "service_peak_rss_mb": round(rss, 1),
        "target_p99_s": TARGET_P99_S,
        "met": p99 <= TARGET_P99_S,
    }


async def flood_from(config_file: Path, seconds: float) -> None:
    """The flooder: publish as fast as its client takes them for `seconds`, wait for the
    broker's PUBACKs, print what was published and confirmed (JSON)."""
    futures: list[asyncio.Future[int]] = []
    valid_ids: list[str] = []
    async with client(config_file, "flooder") as flooder:
        await flooder.wait_connected()
        stop = time.perf_counter() + seconds
        number = 0
        while time.perf_counter() < stop:
            for _ in range(50):
                valid = number % 4 == 0
                body = (
                    json.dumps({"score": 3, "id": f"f-{number}"}).encode()
                    if valid
                    else b"{bad " + str(number).encode()
                )
                try:
                    future = flooder.publish("recovery/p1/report/pain", body)
                except MqttError:  # its own queue is full: that is its full speed
                    await asyncio.sleep(0.001)
                    break
                if valid:
                    valid_ids.append(f"f-{number}")
                futures.append(future)
                number += 1
            await asyncio.sleep(0)
        done, _ = await asyncio.wait(futures, timeout=120) if futures else (set(), set())
    confirmed = sum(1 for f in done if not f.cancelled() and f.result() < FAILURE)
    print(json.dumps({"published": len(futures), "confirmed": confirmed, "valid_ids": valid_ids}))


async def _until_answered(phone: Any, answers: dict[bytes, float], answered: asyncio.Event) -> None:
    for attempt in range(100):
        name = f"warm-{attempt}".encode()
        phone.publish(
            "recovery/p1/report/function", b"5",
            response_topic="recovery/p1/reply/warm", correlation_data=name,
        )  # fmt: skip
        try:
            await asyncio.wait_for(answered.wait(), timeout=0.2)
        except TimeoutError:
            continue
        answers.clear()
        return
    raise RuntimeError("the service never answered")


async def main(seconds: float, queue: int | None) -> None:
    """Print the figures."""
    with tempfile.TemporaryDirectory(prefix="rm-flood-") as folder:
        print(json.dumps(await measure(Path(folder), seconds, queue)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--flood"]:
        asyncio.run(flood_from(Path(sys.argv[2]), float(sys.argv[3])))
        sys.exit(0)
    asyncio.run(
        main(
            float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS,
            int(sys.argv[2]) if len(sys.argv) > 2 else None,
        )
    )
