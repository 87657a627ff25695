"""The outbox: stored alerts go to the broker and leave the store only when it acknowledges them.

Delivery is at least once. A message is published once per run and paho resends it after any
reconnect until its PUBACK arrives; after a restart everything still in the outbox is sent
again. Consumers drop duplicates by the alert's id.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Iterable
from typing import Protocol

from monitor.mqtt.client import FAILURE, reason_text
from monitor.store.alerts import OutboxItem

log = logging.getLogger(__name__)

# Messages handed to the client and not yet acknowledged, at most.
MAX_IN_FLIGHT = 100
# On the way out, wait this long (real seconds) for acknowledgements already on their way, so
# a clean stop does not resend what the broker already has.
SHUTDOWN_GRACE_S = 1.0
# A broker acknowledges a message before it has saved it: killed in between, it loses it. After
# a lost connection, what it acknowledged in this many real seconds before is sent again (the
# ids make the copies harmless); Mosquitto saving on every change closes its gap well within.
RESEND_AFTER_LOSS_S = 10.0


# The liveness watchdog looks this often (real seconds) ...
WATCH_EVERY_S = 10.0
# ... and recovers when, while connected, a message has waited this long for its PUBACK (the
# connection is up but not acknowledging: paho resends only after a reconnect) ...
STALLED_AFTER_S = 60.0
# ... or the outbox held messages with nothing in flight at this many looks in a row (the
# sender stopped looking: a leg-weakness alert must not sit unsent while status says online).
IDLE_LOOKS = 2


class OutboxStore(Protocol):
    """The outbox table as the sender needs it (monitor.store.database.Store is one)."""

    async def outbox(self, limit: int = 100, exclude: Iterable[int] = ()) -> list[OutboxItem]: ...

    async def delivered(self, seq: int) -> None: ...

    async def refused(self, seq: int, reason: str) -> None: ...

    async def retry_refused(self) -> None: ...


class Sender(Protocol):
    """The MQTT connection as the sender needs it (monitor.mqtt.client.MqttClient is one)."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> asyncio.Future[int]: ...

    async def wait_connected(self) -> None: ...

    def drop_connection(self, reason: str) -> None: ...


class Outbox:
    """Sends what the store's outbox holds, and removes each message once it is acknowledged."""

    def __init__(
        self,
        store: OutboxStore,
        mqtt: Sender,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        stalled_after_s: float = STALLED_AFTER_S,
    ) -> None:
        self._store = store
        self._mqtt = mqtt
        self._max_in_flight = max_in_flight
        self._stalled_after_s = stalled_after_s
        self._wake = asyncio.Event()
        self._in_flight: dict[int, OutboxItem] = {}
        self._results: asyncio.Queue[tuple[OutboxItem, asyncio.Future[int]]] = asyncio.Queue()
        self._recording: tuple[OutboxItem, asyncio.Future[int]] | None = None
        self._acknowledged: collections.deque[tuple[float, OutboxItem]] = collections.deque(
            maxlen=MAX_IN_FLIGHT * 10
        )
        self._connections = 0
        self._sent_at: dict[int, float] = {}
        self._idle_looks = 0
        self.refused = 0
        self.recoveries: list[str] = []  # why the watchdog stepped in, in order

    def wake(self) -> None:
        """Look at the outbox again: something was added to it."""
        self._wake.set()

    def connected(self) -> None:
        """The connection is up; after a loss, send again what was acknowledged just before it.

        Only within one run: a restarted service never repeats an acknowledged alert.
        """
        self._connections += 1
        # paho resends what is in flight now: the watchdog's patience starts again.
        now = asyncio.get_running_loop().time()
        self._sent_at = dict.fromkeys(self._sent_at, now)
        self.wake()
        if self._connections == 1:
            return
        cutoff = asyncio.get_running_loop().time() - RESEND_AFTER_LOSS_S
        recent = [item for acked_at, item in self._acknowledged if acked_at >= cutoff]
        for item in recent:
            self._mqtt.publish(item.topic, item.payload, qos=1)
        if recent:
            log.info("sent %d alert(s) again that the broker acknowledged just before", len(recent))

    async def run(self) -> None:
        """Send and confirm, for ever."""
        await self._store.retry_refused()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._send(), name="outbox send")
                group.create_task(self._confirm(), name="outbox confirm")
        finally:
            await self._finish()

    async def _send(self) -> None:
        while True:
            # Clear before looking, so that a wake-up during the look is not missed.
            self._wake.clear()
            await self._mqtt.wait_connected()
            room = self._max_in_flight - len(self._in_flight)
            items = await self._store.outbox(room, exclude=self._in_flight) if room > 0 else []
            for item in items:
                future = self._mqtt.publish(item.topic, item.payload, qos=1)
                self._in_flight[item.seq] = item
                self._sent_at[item.seq] = asyncio.get_running_loop().time()
                future.add_done_callback(functools.partial(self._settled, item))
            if not items:
                await self._wake.wait()

    def _settled(self, item: OutboxItem, future: asyncio.Future[int]) -> None:
        self._results.put_nowait((item, future))

    async def _confirm(self) -> None:
        while True:
            self._recording = await self._results.get()
            await self._record(*self._recording)
            self._recording = None

    async def _finish(self) -> None:
        """Record the acknowledgements that have arrived, or arrive within a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (SHUTDOWN_GRACE_S if self._mqtt.connected else 0.0)
        if self._recording is not None:
            # Cancelled halfway through recording one (and so rolled back): record it again.
            await self._record(*self._recording)
            self._recording = None
        while self._in_flight:
            try:
                async with asyncio.timeout_at(deadline):
                    result = await self._results.get()
            except TimeoutError:
                break
            await self._record(*result)

    async def _record(self, item: OutboxItem, future: asyncio.Future[int]) -> None:
        if future.cancelled():
            self._in_flight.pop(item.seq, None)
            self._sent_at.pop(item.seq, None)
            return
        code = future.result()
        if code < FAILURE:
            await self._store.delivered(item.seq)
            self._acknowledged.append((asyncio.get_running_loop().time(), item))
        else:
            self.refused += 1
            reason = reason_text(code)
            log.error(
                "the broker refused alert %s on %s: %s (0x%02X); it stays in the outbox "
                "and is retried at the next start (check the broker's ACL for this user)",
                item.alert_id,
                item.topic,
                reason,
                code,
            )
            await self._store.refused(item.seq, reason)
        self._in_flight.pop(item.seq, None)
        self._sent_at.pop(item.seq, None)
        self.wake()

    async def watch(self, every_s: float = WATCH_EVERY_S) -> None:
        """The liveness watchdog: look every `every_s` real seconds, recover what is stuck."""
        while True:
            await asyncio.sleep(every_s)
            await self.look()

    async def look(self) -> None:
        """One look: a connection up but not acknowledging is dropped (paho reconnects and
        resends); an outbox that holds messages nobody sends is woken. Each logged with why."""
        if not self._mqtt.connected:
            self._idle_looks = 0
            return
        now = asyncio.get_running_loop().time()
        oldest = min(self._sent_at.values(), default=now)
        if now - oldest >= self._stalled_after_s:
            reason = (
                f"connected, but the broker has not acknowledged an alert for {now - oldest:.0f} s"
            )
            self.recoveries.append(reason)
            self._sent_at = dict.fromkeys(self._sent_at, now)  # one recovery per stall
            self._mqtt.drop_connection(reason)
            return
        waiting = (
            await self._store.outbox(1, exclude=self._in_flight) if not self._in_flight else []
        )
        self._idle_looks = self._idle_looks + 1 if waiting else 0
        if self._idle_looks >= IDLE_LOOKS:
            reason = "connected, but the outbox held alerts that were not being sent"
            log.warning("outbox watchdog: %s; looking again", reason)
            self.recoveries.append(reason)
            self._idle_looks = 0
            self.wake()
