"""The state publisher against a fake of the publisher it declares, over a real SQLite store:
what it publishes, where, retained with its expiry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from monitor.clock import SimulatedClock
from monitor.ingest.pipeline import Ingest
from monitor.mqtt.state import STATE_EXPIRY_S, StatePublisher
from monitor.service.progress import Progress
from monitor.store.database import Store
from tests.integration.conftest import LONDON, monday
from tests.monitor.mqtt.test_discovery import config


class FakeBroker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], bool, int | None]] = []
        self.changed = asyncio.Event()

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> asyncio.Future[int]:
        self.sent.append((topic, json.loads(payload), retain, expiry_s))
        self.changed.set()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(0)
        return future

    async def wait_connected(self) -> None:
        return None


async def test_each_person_s_state_goes_out_retained_with_its_expiry(tmp_path: Path) -> None:
    conf = config()
    clock = SimulatedClock(monday(11))
    broker = FakeBroker()
    async with Store.open(tmp_path / "m.db") as store:
        ingest = Ingest(store, LONDON, clock)
        state = StatePublisher(
            conf,
            store=store,
            progress=Progress(store, LONDON),
            ingest=ingest,
            mqtt=broker,
            clock=clock,
            min_interval_s=0.0,
        )
        async with asyncio.TaskGroup() as group:
            task = group.create_task(state.run())
            async with asyncio.timeout(10):
                while len(broker.sent) < len(conf.persons):
                    broker.changed.clear()
                    await broker.changed.wait()
            task.cancel()
    sent = {topic: (document, retain, expiry) for topic, document, retain, expiry in broker.sent}
    assert set(sent) == {"recovery/p1/state", "recovery/p2/state"}
    document, retain, expiry = sent["recovery/p1/state"]
    assert (retain, expiry) == (True, STATE_EXPIRY_S)
    assert document["date"] == "2026-11-23"
    assert set(document["devices"]) == {"watch", "shoe"}
