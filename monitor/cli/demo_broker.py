"""The demo on a shared broker (`demo --broker`): a namespace of its own, and nothing left behind.

A real install may share the broker: the demo must not touch its topics, its Home Assistant
device or its session. So the demo runs under a base topic, client id and person id of its own
(the person id names the Home Assistant discovery node), and afterwards clears every retained
message it left (status, diagnostics, state, discovery) and ends the session the broker kept
for its service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

from monitor.config import Config
from monitor.mqtt.client import Incoming, MqttClient

# Real seconds the broker may take to answer before the clean-up gives up (it says so).
SWEEP_TIMEOUT_S = 30.0


def own_namespace(config: Config, host: str, port: int) -> Config:
    """`config` on broker `host:port`, under a base topic, client id and person ids of its own.

    The suffix is 8 random hex digits, so that two demos (or a demo and an install) never meet.
    """
    token = secrets.token_hex(4)
    mqtt = dataclasses.replace(
        config.mqtt,
        host=host,
        port=port,
        base_topic=f"{config.mqtt.base_topic}-demo-{token}",
        client_id=f"{config.mqtt.client_id}-{token}",
    )
    persons = tuple(dataclasses.replace(p, id=f"{p.id}-{token}") for p in config.persons)
    return dataclasses.replace(config, mqtt=mqtt, persons=persons)


async def sweep(config: Config) -> list[str]:
    """Clear the retained messages of `config`'s namespace and its service's session.

    Returns the topics cleared: every retained topic under the base topic, and every retained
    discovery document that names it. Connecting once with the service's client id and a clean
    start, without a session expiry, ends the session the broker kept for the service.
    """
    base = config.mqtt.base_topic
    prefix = config.mqtt.discovery_prefix
    marker_topic = f"{base}/demo-sweep"
    nonce = secrets.token_bytes(8)
    retained: set[str] = set()
    marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def received(message: Incoming) -> None:
        if message.topic == marker_topic and message.payload == nonce:
            if not marker.done():
                marker.set_result(None)
        elif message.retained and message.payload and _ours(message, base):
            retained.add(message.topic)

    topics = [f"{base}/#", *([f"{prefix}/#"] if prefix else [])]
    client = MqttClient(
        config.mqtt,
        client_id=config.mqtt.client_id,
        persistent=False,
        manual_ack=False,
        subscriptions=topics,
        on_message=received,
    )
    async with client, asyncio.timeout(SWEEP_TIMEOUT_S):
        await client.wait_connected()
        await client.wait_subscribed()
        # Retained messages come right after the subscription; the marker comes after them.
        await client.publish(marker_topic, nonce)
        await marker
        cleared = sorted(retained)
        for topic in cleared:
            await client.publish(topic, b"", retain=True)  # PUBACK: the broker dropped it
    return cleared


def _ours(message: Incoming, base: str) -> bool:
    return message.topic.startswith(f"{base}/") or f'"{base}/'.encode() in message.payload
