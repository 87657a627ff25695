"""Test helpers that talk to the real broker and run the real service: an MQTT probe, a service."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devices.base import LinkFactory
from monitor.clock import Clock
from monitor.config import Config, MqttConfig
from monitor.mqtt.client import Incoming, MqttClient
from monitor.service.app import App, Tuning

# Real seconds before a wait on the broker or the service fails: a bound, not a speed.
WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class Received:
    """A message the probe received."""

    topic: str
    payload: bytes
    retained: bool
    correlation_data: bytes | None

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


class MqttProbe:
    """A separate MQTT client that records every message on its subscriptions."""

    def __init__(
        self,
        mqtt: MqttConfig,
        topics: Sequence[str],
        *,
        client_id: str = "test-probe",
        persistent: bool = False,
        password: str | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._changed = asyncio.Event()
        self._marker_topic = f"probe-marker/{client_id}"
        self._markers = 0
        self._markers_back = 0
        self.client = MqttClient(
            mqtt,
            client_id=client_id,
            password=password,
            subscriptions=[*topics, self._marker_topic],
            on_message=self._received,
            persistent=persistent,
            manual_ack=False,
        )

    async def settle(self, service: MqttClient | None = None, within: float = WAIT_S) -> None:
        """Return once every message the broker took before now has reached this probe.

        With `service` (the service's client), first wait until the broker has acknowledged
        everything the service handed it: then the probe has all the service has sent so far.
        A marker the probe sends itself comes back after them (one broker, one connection).
        """
        async with asyncio.timeout(within):
            while service is not None and service.in_flight:  # noqa: ASYNC110 - paho's thread
                await asyncio.sleep(0.002)
            self._markers += 1
            wanted = self._markers
            self.client.publish(self._marker_topic, str(wanted).encode())
            while self._markers_back < wanted:
                self._changed.clear()
                await self._changed.wait()

    def _received(self, message: Incoming) -> None:
        if message.topic == self._marker_topic:
            self._markers_back = max(self._markers_back, int(message.payload))
            self._changed.set()
            return
        self.messages.append(
            Received(message.topic, message.payload, message.retained, message.correlation_data)
        )
        self._changed.set()

    def on(self, suffix: str) -> list[Received]:
        """Messages whose topic ends with `suffix`."""
        return [m for m in self.messages if m.topic.endswith(suffix)]

    async def wait_for(
        self, check: Callable[[list[Received]], bool], within: float = WAIT_S
    ) -> list[Received]:
        """Wait (real time) until `check(messages)` holds; TimeoutError if it does not."""
        async with asyncio.timeout(within):
            while not check(self.messages):
                self._changed.clear()
                await self._changed.wait()
        return self.messages

    async def __aenter__(self) -> MqttProbe:
        await self.client.__aenter__()
        async with asyncio.timeout(WAIT_S):
            await self.client.wait_connected()
            # The broker has taken the subscription before anything else happens.
            await self.client.wait_subscribed()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.client.__aexit__(None, None, None)


@contextlib.asynccontextmanager
async def running(
    config: Config,
    clock: Clock,
    link_factory: LinkFactory | None = None,
    tuning: Tuning | None = None,
) -> AsyncIterator[App]:
    """The real service, running in this event loop until the block ends."""
    app = App(config, clock=clock, link_factory=link_factory, tuning=tuning)
    task = asyncio.create_task(app.run(), name="service under test")
    try:
        async with asyncio.timeout(WAIT_S):
            started = asyncio.ensure_future(app.started.wait())
            await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert app.mqtt is not None
        async with asyncio.timeout(WAIT_S):
            await app.mqtt.wait_connected()
            await app.mqtt.wait_subscribed()  # commands sent from now on reach the service
        yield app
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
