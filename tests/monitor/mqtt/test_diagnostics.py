"""Diagnostics against a fake of the publisher they declare: published from the start, counts
kept current, a refusal counted where the user sees it."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import pytest

from monitor.clock import SimulatedClock
from monitor.mqtt.client import PACKET_TOO_LARGE
from monitor.mqtt.diagnostics import Diagnostics

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class FakeBroker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object], bool]] = []
        self.changed = asyncio.Event()

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[int]:
        self.sent.append((topic, json.loads(payload), retain))
        self.changed.set()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(0)
        return future

    async def wait_connected(self) -> None:
        return None

    async def sent_at_least(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()


async def test_published_at_start_then_on_each_change(caplog: pytest.LogCaptureFixture) -> None:
    broker = FakeBroker()
    commands = {"accepted": 0, "rejected": 0, "unanswered": 0}
    diagnostics = Diagnostics(
        "recovery",
        mqtt=broker,
        clock=SimulatedClock(START),
        command_counts=lambda: commands,
        interval_s=0.0,
        refresh_s=0.05,
    )
    async with asyncio.TaskGroup() as group:
        task = group.create_task(diagnostics.run())
        await broker.sent_at_least(1)
        topic, first, retain = broker.sent[0]
        assert (topic, retain) == ("recovery/diagnostics", True)
        assert first["undelivered_alerts"] == {}
        assert first["refused_messages"] == 0
        # A count that moves without a refusal goes out within `refresh_s`.
        commands["accepted"] = 3
        await broker.sent_at_least(2)
        assert broker.sent[-1][1]["commands"] == {"accepted": 3, "rejected": 0, "unanswered": 0}
        sent = len(broker.sent)
        diagnostics.publish_refused("recovery/p1/alert", 0x87)
        await broker.sent_at_least(sent + 1)
        assert broker.sent[-1][1]["undelivered_alerts"] == {"p1": 1}
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            diagnostics.publish_refused("recovery/p1/state", PACKET_TOO_LARGE)
        assert caplog.records == []  # the client has said it, with the size and the limit
        task.cancel()
