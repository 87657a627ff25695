"""The outbox's liveness watchdog against a fake connection: a stall is noticed and recovered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.mqtt.outbox import Outbox
from monitor.store.alerts import StoredAlert
from monitor.store.database import Store

NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)


class SilentBroker:
    """A connection that is up, takes every message and never acknowledges one."""

    connected = True

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.dropped: list[str] = []

    async def wait_connected(self) -> None:
        return

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> asyncio.Future[int]:
        self.sent.append(topic)
        return asyncio.get_running_loop().create_future()  # no PUBACK, ever

    def drop_connection(self, reason: str) -> None:
        self.dropped.append(reason)


def alert(number: int) -> StoredAlert:
    return StoredAlert(
        f"A{number:025d}", "p1", f"k{number}", "warning_symptom", "critical", NOON, "{}", None
    )


async def test_a_connection_that_never_acknowledges_is_dropped_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = SilentBroker()
    async with Store.open(tmp_path / "m.db") as store:
        await store.add_alert(alert(1), "recovery/p1/alert", b"{}")
        outbox = Outbox(store, broker, stalled_after_s=0.05)
        task = asyncio.create_task(outbox.run())
        try:
            async with asyncio.timeout(10):
                while not broker.sent:  # noqa: ASYNC110 - waiting for the send
                    await asyncio.sleep(0.01)
                while not broker.dropped:
                    await outbox.look()
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert len(broker.dropped) == 1
    assert "has not acknowledged an alert" in broker.dropped[0]
    assert outbox.recoveries == broker.dropped


async def test_an_outbox_nobody_sends_from_is_woken_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = SilentBroker()
    async with Store.open(tmp_path / "m.db") as store:
        outbox = Outbox(store, broker)
        # The sender is not running (as if it had stopped looking): the alert just sits there.
        await store.add_alert(alert(1), "recovery/p1/alert", b"{}")
        with caplog.at_level(logging.WARNING):
            await outbox.look()
            assert outbox.recoveries == []
            await outbox.look()
        assert outbox.recoveries == [
            "connected, but the outbox held alerts that were not being sent"
        ]
        assert any("outbox watchdog" in r.getMessage() for r in caplog.records)


async def test_after_a_reconnect_the_watchdog_waits_its_full_time_again(tmp_path: Path) -> None:
    broker = SilentBroker()
    async with Store.open(tmp_path / "m.db") as store:
        await store.add_alert(alert(1), "recovery/p1/alert", b"{}")
        outbox = Outbox(store, broker, stalled_after_s=3600)
        task = asyncio.create_task(outbox.run())
        try:
            async with asyncio.timeout(10):
                while not broker.sent:  # noqa: ASYNC110 - waiting for the send
                    await asyncio.sleep(0.01)
            outbox._sent_at = dict.fromkeys(outbox._sent_at, -1e9)  # in flight for ages
            outbox.connected()  # a reconnect: paho resends it now
            await outbox.look()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert broker.dropped == []
