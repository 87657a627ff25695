"""The MQTT connection: the only module that imports paho.

paho's network loop runs in its own thread and reconnects by itself; each paho callback only
hands its result to the asyncio loop (`call_soon_threadsafe`), so everything else runs on the
loop. MQTT v5 with a persistent session: QoS 1 messages in flight when the connection drops are
resent by paho after it reconnects, and commands sent to us while we were away are kept by the
broker until we are back.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from monitor.config import MqttConfig
from monitor.errors import MonitorError

log = logging.getLogger(__name__)

# The broker keeps our session (subscriptions, and commands queued for us) this long while we
# are away: long enough for a reboot or a week's holiday of the home server.
SESSION_EXPIRY_S = 7 * 24 * 3600
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# A reason code at or above this is a failure (MQTT v5, section 2.4).
FAILURE = 0x80


class MqttError(MonitorError):
    """A message could not be handed to the MQTT client at all."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message received on a subscribed topic."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retained: bool
    response_topic: str | None = None
    correlation_data: bytes | None = None


class MqttClient:
    """One MQTT connection, kept up until the `async with` block ends."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        password: str | None = None,
        will_topic: str | None = None,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[Incoming], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        persistent: bool = True,
        manual_ack: bool = True,
    ) -> None:
        self._config = config
        self._will_topic = will_topic
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._on_connected = on_connected
        self._persistent = persistent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._closing = False
        self.refusal: str | None = None  # why the broker last refused to connect us, if it did
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=manual_ack,
        )
        if config.username:
            self._client.username_pw_set(config.username, password)
        if config.tls:
            self._client.tls_set(
                ca_certs=str(config.ca_file) if config.ca_file else None,
                certfile=str(config.cert_file) if config.cert_file else None,
                keyfile=str(config.key_file) if config.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if will_topic:
            self._client.will_set(will_topic, b"offline", qos=1, retain=True)
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.on_connect = self._paho_connect
        self._client.on_disconnect = self._paho_disconnect
        self._client.on_publish = self._paho_publish
        self._client.on_message = self._paho_message

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted the connection and it is still up."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once connected (at once if already)."""
        await self._connected.wait()

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        properties = _properties(PacketTypes.CONNECT)
        if self._persistent:
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(
            self._config.host,
            self._config.port,
            keepalive=self._config.keepalive_s,
            clean_start=not self._persistent,
            properties=properties,
        )
        self._client.loop_start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._will_topic and self.connected:
            # The will is only sent when the connection breaks; say goodbye ourselves.
            done = self.publish(self._will_topic, b"offline", retain=True)
            try:
                await asyncio.wait_for(asyncio.shield(done), timeout=2.0)
            except TimeoutError:
                log.warning("the broker did not confirm the offline status before shutdown")
        self._closing = True
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        expiry_s: int | None = None,
        correlation_data: bytes | None = None,
    ) -> asyncio.Future[int]:
        """Hand a message to the client; the future gives the broker's reason code on PUBACK.

        While disconnected the message waits in the client and goes out after reconnecting.
        """
        properties = _properties(PacketTypes.PUBLISH)
        if expiry_s is not None:
            properties.MessageExpiryInterval = expiry_s
        if correlation_data is not None:
            properties.CorrelationData = correlation_data
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise MqttError(f"cannot publish to {topic}: {paho.error_string(info.rc)}")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # paho may confirm this mid on its thread before we get here; that confirmation is
        # queued behind this code on the event loop, so registering now is never too late.
        self._pending[info.mid] = future
        return future

    def ack(self, message: Incoming) -> None:
        """Acknowledge a received QoS 1 message, once it has been stored or answered."""
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)

    # -- paho's thread: hand everything to the loop ----------------------------------------------

    def _call(self, func: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(func, *args)

    def _paho_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._call(self._connect_result, reason.value, str(reason), flags.session_present)

    def _paho_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._call(self._disconnected, str(reason))

    def _paho_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._call(self._published, mid, reason.value)

    def _paho_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        props = message.properties
        response_topic = getattr(props, "ResponseTopic", None) if props else None
        correlation = getattr(props, "CorrelationData", None) if props else None
        incoming = Incoming(
            topic=message.topic,
            payload=bytes(message.payload),
            qos=message.qos,
            mid=message.mid,
            retained=bool(message.retain),
            response_topic=response_topic,
            correlation_data=bytes(correlation) if correlation is not None else None,
        )
        if self._on_message is not None:
            self._call(self._on_message, incoming)

    # -- on the loop -------------------------------------------------------------------------

    def _connect_result(self, code: int, reason: str, session_present: bool) -> None:
        if code >= FAILURE:
            if self.refusal != reason:
                log.error(
                    "the MQTT broker at %s:%d refused the connection: %s%s",
                    self._config.host,
                    self._config.port,
                    reason,
                    _HINTS.get(code, ""),
                )
            self.refusal = reason
            return
        self.refusal = None
        log.info(
            "connected to the MQTT broker at %s:%d (session %s)",
            self._config.host,
            self._config.port,
            "resumed" if session_present else "new",
        )
        if self._subscriptions:
            self._client.subscribe([(topic, 1) for topic in self._subscriptions])
        if self._will_topic:
            self.publish(self._will_topic, b"online", retain=True)
        self._connected.set()
        if self._on_connected is not None:
            self._on_connected()

    def _disconnected(self, reason: str) -> None:
        if self._connected.is_set() and not self._closing:
            log.warning("lost the MQTT broker (%s); reconnecting", reason)
        self._connected.clear()

    def _published(self, mid: int, code: int) -> None:
        future = self._pending.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(code)


_HINTS = {
    0x86: " (check mqtt.username and the password in mqtt.password_file)",
    0x87: " (the broker does not allow this user; check its ACL)",
    0x8C: " (check mqtt.username and the password in mqtt.password_file)",
}


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]  # paho leaves it untyped


def reason_text(code: int) -> str:
    """A reason code's name, for logs and error messages."""
    return str(ReasonCode(PacketTypes.PUBACK, identifier=code))
