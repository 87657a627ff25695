"""The MQTT connection: the only module that imports paho.

paho's network loop runs in its own thread and reconnects by itself; each paho callback only
hands its result to the asyncio loop (`call_soon_threadsafe`), so everything else runs on the
loop. MQTT v5 with a persistent session: QoS 1 messages in flight when the connection drops are
resent by paho after it reconnects, and commands sent to us while we were away are kept by the
broker until we are back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from monitor.config import MqttConfig, plaintext_credentials_problem
from monitor.errors import MonitorError

log = logging.getLogger(__name__)

# The broker keeps our session (subscriptions, and commands queued for us) this long while we
# are away: long enough for a reboot or a week's holiday of the home server.
SESSION_EXPIRY_S = 7 * 24 * 3600
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# A reason code at or above this is a failure (MQTT v5, section 2.4).
FAILURE = 0x80
# PUBACK 0x10: accepted, but nobody is subscribed to the topic, so nobody will read it.
NO_MATCHING_SUBSCRIBERS = 0x10
# At most this many QoS 1 messages are sent to us unacknowledged (MQTT v5 Receive Maximum): a
# flood of commands waits in the broker, not in our memory.
RECEIVE_MAXIMUM = 100
# PUBACK-style reason code for a message we did not send because the broker's Maximum Packet
# Size (its CONNACK) is smaller (MQTT v5 0x95, "Packet too large").
PACKET_TOO_LARGE = 0x95
# MQTT v5 DISCONNECT 0x8E: another client connected with our client id.
SESSION_TAKEN_OVER = 0x8E
# Mosquitto 2.0.11 closes a taken-over connection without a reason: this many losses, each within
# TAKEOVER_WINDOW_S of being accepted, in a row, are read as two clients sharing one client id.
TAKEOVER_LOSSES = 3
TAKEOVER_WINDOW_S = 5.0


class MqttError(MonitorError):
    """A message could not be handed to the MQTT client at all."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A topic filter to subscribe to; `no_local` keeps our own publications from coming back."""

    topic: str
    qos: int = 1
    no_local: bool = False


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
        subscriptions: Sequence[str | Subscription] = (),
        on_message: Callable[[Incoming], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        on_refused: Callable[[str, int], None] | None = None,
        persistent: bool = True,
        manual_ack: bool = True,
    ) -> None:
        problem = plaintext_credentials_problem(config)
        if problem is not None:
            raise MqttError(f"refusing to connect: {problem}")
        self._config = config
        self._will_topic = will_topic
        self._subscriptions = tuple(
            s if isinstance(s, Subscription) else Subscription(s) for s in subscriptions
        )
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_refused = on_refused
        self._persistent = persistent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()
        self._attempted = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._subscribe_mid: int | None = None
        self.granted: tuple[int, ...] = ()  # the reason codes of the last SUBACK, in filter order
        self._pending: dict[int, tuple[str, asyncio.Future[int]]] = {}
        self._closing = False
        self._client_id = client_id
        # The broker's Maximum Packet Size from its last CONNACK; None: it set none.
        self.max_packet_size: int | None = None
        self._connected_at = 0.0  # loop time of the last accepted connection
        self._quick_losses = 0  # connections lost within TAKEOVER_WINDOW_S of being accepted
        self._takeover_said = False  # the takeover line was logged for this run of losses
        # Why the broker last refused us, or why it could not be reached, if either happened.
        self.refusal: str | None = None
        self._broker_refused = False  # the last attempt ended in a refusing CONNACK
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
        self._client.on_connect_fail = self._paho_connect_fail
        self._client.on_disconnect = self._paho_disconnect
        self._client.on_publish = self._paho_publish
        self._client.on_subscribe = self._paho_subscribe
        self._client.on_message = self._paho_message

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted the connection and it is still up."""
        return self._connected.is_set()

    @property
    def in_flight(self) -> int:
        """Messages handed to the client and not yet acknowledged by the broker (PUBACK)."""
        return len(self._pending)

    async def wait_connected(self) -> None:
        """Return once connected (at once if already)."""
        await self._connected.wait()

    async def first_attempt(self) -> str | None:
        """Wait for the first connection attempt: None once connected, else why it failed.

        For short-lived clients (the `log` command) that should give up rather than retry.
        """
        await self._attempted.wait()
        return None if self.connected else self.refusal

    async def wait_subscribed(self) -> tuple[int, ...]:
        """Wait for the broker's answer to our subscriptions; its reason codes, in order."""
        await self._subscribed.wait()
        return self.granted

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        properties = _properties(PacketTypes.CONNECT)
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
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
        for _, future in self._pending.values():
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
        response_topic: str | None = None,
    ) -> asyncio.Future[int]:
        """Hand a message to the client; the future gives the broker's reason code on PUBACK.

        While disconnected the message waits in the client and goes out after reconnecting.
        A QoS 0 message has no PUBACK: its future gives 0 once it has been written out.
        """
        properties = _properties(PacketTypes.PUBLISH)
        if expiry_s is not None:
            properties.MessageExpiryInterval = expiry_s
        if correlation_data is not None:
            properties.CorrelationData = correlation_data
        if response_topic is not None:
            properties.ResponseTopic = response_topic
        size = publish_packet_size(topic, payload, qos=qos, properties=properties)
        if self.max_packet_size is not None and size > self.max_packet_size:
            return self._too_large(topic, size)
        try:
            info = self._client.publish(
                topic, payload, qos=qos, retain=retain, properties=properties
            )
        except ValueError as exc:  # paho refuses wildcards, oversized or malformed topics
            raise MqttError(f"cannot publish to {topic!r}: {exc}") from exc
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise MqttError(f"cannot publish to {topic}: {paho.error_string(info.rc)}")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # paho may confirm this mid on its thread before we get here; that confirmation is
        # queued behind this code on the event loop, so registering now is never too late.
        self._pending[info.mid] = (topic, future)
        return future

    def drop_connection(self, reason: str) -> None:
        """Close the socket under a connection that is up but stuck; paho reconnects by itself.

        For the liveness watchdog (monitor.mqtt.outbox): a clean disconnect would stop paho's
        reconnecting, a closed socket is handled as a lost broker.
        """
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            log.warning("dropping the MQTT connection to recover: %s", reason)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def fits(self, topic: str, payload: bytes, *, qos: int = 1) -> bool:
        """Whether a message (without properties) is within the broker's Maximum Packet Size."""
        if self.max_packet_size is None:
            return True
        return publish_packet_size(topic, payload, qos=qos) <= self.max_packet_size

    def _too_large(self, topic: str, size: int) -> asyncio.Future[int]:
        """Not sent: the broker would drop the connection, and paho would resend it for ever."""
        log.error(
            "not sent: a %d-byte message on %s is over the broker's maximum packet size of %d "
            "bytes (raise max_packet_size in the broker's config)",
            size,
            topic,
            self.max_packet_size,
        )
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(PACKET_TOO_LARGE)
        if self._on_refused is not None:
            asyncio.get_running_loop().call_soon(self._on_refused, topic, PACKET_TOO_LARGE)
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
        sock = client.socket()
        if isinstance(sock, socket.socket):
            # Small packets in quick succession (a PUBACK, then an alert) would otherwise wait
            # for the broker's delayed ACK under Nagle's algorithm: ~40 ms a hop.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        maximum = getattr(properties, "MaximumPacketSize", None) if properties else None
        self._call(self._connect_result, reason.value, str(reason), flags.session_present, maximum)

    def _paho_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        # paho calls this from inside its `except OSError` block: the error is the current one.
        error = sys.exception()
        self._call(self._unreachable, _describe_failure(error, tls=self._config.tls))

    def _paho_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._call(self._disconnected, str(reason), reason.value)

    def _paho_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._call(self._published, mid, reason.value)

    def _paho_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._call(self._suback, mid, tuple(reason.value for reason in reasons))

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

    def _connect_result(
        self, code: int, reason: str, session_present: bool, maximum: int | None = None
    ) -> None:
        if code >= FAILURE:
            text = (
                f"the MQTT broker at {self._config.host}:{self._config.port} refused the "
                f"connection: {reason}{self._hint(code)}"
            )
            if self.refusal != text:
                log.error("%s", text)
            self.refusal = text
            self._broker_refused = True
            self._attempted.set()
            return
        self.refusal = None
        self._broker_refused = False
        self.max_packet_size = maximum
        self._connected_at = asyncio.get_running_loop().time()
        log.info(
            "connected to the MQTT broker at %s:%d (session %s)",
            self._config.host,
            self._config.port,
            "resumed" if session_present else "new",
        )
        if self._subscriptions:
            self._subscribed.clear()
            _, self._subscribe_mid = self._client.subscribe(
                [
                    (s.topic, SubscribeOptions(qos=s.qos, noLocal=s.no_local))
                    for s in self._subscriptions
                ]
            )
        else:
            self._subscribed.set()
        if self._will_topic:
            self.publish(self._will_topic, b"online", retain=True)
        self._connected.set()
        self._attempted.set()
        if self._on_connected is not None:
            self._on_connected()

    def _unreachable(self, reason: str) -> None:
        text = f"cannot reach the MQTT broker at {self._config.host}:{self._config.port}: {reason}"
        if self.refusal != text:
            log.warning("%s; retrying", text)
        self.refusal = text
        self._broker_refused = False
        self._quick_losses = 0  # the broker was away: not a takeover
        self._attempted.set()

    def _suback(self, mid: int, codes: tuple[int, ...]) -> None:
        if mid != self._subscribe_mid:
            return
        self.granted = codes
        for subscription, code in zip(self._subscriptions, codes, strict=False):
            if code >= FAILURE:
                log.error(
                    "the MQTT broker refused our subscription to %s: %s (check its ACL)",
                    subscription.topic,
                    reason_text(code, PacketTypes.SUBACK),
                )
        self._subscribed.set()

    def _disconnected(self, reason: str, code: int = 0) -> None:
        if self._closing:
            self._connected.clear()
            return
        if self._connected.is_set():
            if not self._taken_over(code):  # a takeover says so in its own line
                log.warning("lost the MQTT broker (%s); reconnecting", reason)
        elif not self._broker_refused:
            # Closed before it accepted us: most often a TLS listener spoken to in plain text.
            hint = "" if self._config.tls else " (does the broker expect TLS? see mqtt.tls)"
            self._unreachable(f"the broker closed the connection before accepting it{hint}")
        self._connected.clear()

    def _taken_over(self, code: int) -> bool:
        """Whether this loss looks like a session takeover; says so in one line when it starts.

        MQTT v5 brokers may say so (0x8E); Mosquitto 2.0.11 just closes the connection, so a run
        of connections each lost within seconds of being accepted, with no failed attempt in
        between (a restarting broker refuses us for a while), is read the same way.
        """
        quick = asyncio.get_running_loop().time() - self._connected_at < TAKEOVER_WINDOW_S
        self._quick_losses = self._quick_losses + 1 if quick else 0
        if not quick:
            self._takeover_said = False
        if code != SESSION_TAKEN_OVER and self._quick_losses < TAKEOVER_LOSSES:
            return False
        if not self._takeover_said:
            self._takeover_said = True
            where = f"{self._config.host}:{self._config.port}"
            why = (
                f"another MQTT client connected to {where} with our client id {self._client_id!r}"
                if code == SESSION_TAKEN_OVER
                else f"the broker at {where} closed our connection {self._quick_losses} times in "
                "a row right after accepting it, as it does when another MQTT client connects "
                f"with our client id {self._client_id!r}"
            )
            log.error(
                "session taken over%s: %s; give each install its own mqtt.client_id (leave it "
                "unset for a unique default)",
                "" if code == SESSION_TAKEN_OVER else ", most likely",
                why,
            )
        else:
            log.debug("lost the MQTT broker again right after connecting (session taken over?)")
        return True

    def _published(self, mid: int, code: int) -> None:
        entry = self._pending.pop(mid, None)
        if entry is None:
            return
        topic, future = entry
        if code >= FAILURE and self._on_refused is not None:
            self._on_refused(topic, code)
        if not future.done():
            future.set_result(code)

    def _hint(self, code: int) -> str:
        if code not in (0x86, 0x87, 0x8C):
            return ""
        if self._config.username is None:
            return " (the broker wants a username: set mqtt.username and mqtt.password_file)"
        # Mosquitto answers a wrong password with 0x87 (not authorised) as well as 0x86.
        return (
            f" (wrong username or password for {self._config.username!r}: check mqtt.username, "
            "the password in mqtt.password_file and the broker's password file)"
        )


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]  # paho leaves it untyped


def publish_packet_size(
    topic: str, payload: bytes, *, qos: int, properties: Properties | None = None
) -> int:
    """The bytes a PUBLISH takes on the wire (MQTT v5, section 3.3): fixed header, topic,
    packet id (QoS > 0), properties (default: none), payload."""
    properties = properties or _properties(PacketTypes.PUBLISH)
    packed: bytes = properties.pack()  # type: ignore[no-untyped-call]  # paho leaves it untyped
    body = 2 + len(topic.encode()) + (2 if qos > 0 else 0) + len(packed) + len(payload)
    return 1 + _varint_size(body) + body


def _varint_size(value: int) -> int:
    """Bytes of an MQTT variable byte integer (1 to 4)."""
    return 1 if value < 128 else 2 if value < 16_384 else 3 if value < 2_097_152 else 4


def reason_text(code: int, packet_type: int = PacketTypes.PUBACK) -> str:
    """A reason code's name, for logs and error messages (any packet's name for the code)."""
    for kind in (packet_type, PacketTypes.DISCONNECT):
        try:
            return str(ReasonCode(kind, identifier=code))
        except ValueError:  # not a code of this packet type
            continue
    return f"reason code 0x{code:02X}"


def _describe_failure(error: BaseException | None, *, tls: bool) -> str:
    """Why a connection attempt failed, in words a person can act on."""
    if tls and isinstance(error, ConnectionResetError):
        return "the connection was reset during the TLS handshake (does this port speak TLS?)"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate not trusted ({error.verify_message}): check mqtt.ca_file and that "
            "the broker's certificate names this host"
        )
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed ({error.reason or error}): check the mqtt.tls settings"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the broker running, and is this its port?)"
    if error is None:
        return "connection failed"
    return str(error) or type(error).__name__
