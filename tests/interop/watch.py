"""A plain MQTT v5 subscriber that records what the broker delivers, QoS and retain flag included.

It is independent of the service's own MQTT code on purpose: it shows what any other client of
the broker sees. Subscribed at QoS 2, the QoS of a delivery is the QoS the sender used.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.interop.homeassistant import eventually


@dataclass(frozen=True, slots=True)
class Seen:
    """One delivery."""

    topic: str
    payload: bytes
    qos: int
    retained: bool

    @property
    def text(self) -> str:
        """The payload as text."""
        return self.payload.decode(errors="replace")


class Watcher:
    """Records every message on `topics` (each subscribed at QoS 2) from 127.0.0.1:port."""

    def __init__(self, port: int, topics: Sequence[str], *, client_id: str) -> None:
        self.port = port
        self.topics = list(topics)
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._subscribed = threading.Event()
        self._client: Any = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_connect = self._on_connect

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, _rc: Any, _p: Any) -> None:
        options = SubscribeOptions(qos=2)
        client.subscribe([(topic, options) for topic in self.topics])

    def _on_subscribe(self, *_args: Any) -> None:
        self._subscribed.set()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        seen = Seen(message.topic, bytes(message.payload), int(message.qos), bool(message.retain))
        with self._lock:
            self._seen.append(seen)

    @property
    def seen(self) -> list[Seen]:
        """Everything delivered so far, oldest first."""
        with self._lock:
            return list(self._seen)

    def on(self, topic: str) -> list[Seen]:
        """What arrived on one topic."""
        return [message for message in self.seen if message.topic == topic]

    def clear(self) -> None:
        """Forget what arrived so far."""
        with self._lock:
            self._seen.clear()

    async def wait_for(self, topic: str, *, within: float = 30.0) -> Seen:
        """The first message on `topic` (already received or still to come)."""

        async def arrived() -> Seen | None:
            found = self.on(topic)
            return found[0] if found else None

        return await eventually(arrived, within=within, what=f"a message on {topic}")

    async def __aenter__(self) -> Self:
        self._client.connect("127.0.0.1", self.port, keepalive=30)
        self._client.loop_start()

        async def subscribed() -> bool | None:
            return True if self._subscribed.is_set() else None

        await eventually(subscribed, within=20.0, what="the watcher's subscription")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: str, *, qos: int = 1) -> None:
        """Publish as any other client of the broker would."""
        self._client.publish(topic, payload.encode(), qos=qos).wait_for_publish(10)
