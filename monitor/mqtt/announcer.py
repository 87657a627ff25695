"""Home Assistant at run time: discovery on every connect and on HA's birth; departed persons.

Discovery documents are published retained whenever we connect. When Home Assistant announces
itself (`online` on `<prefix>/status`), discovery and every person's state are sent again after a
short random delay, so that many services do not answer at the same instant.

A person who has left the config is found through the broker's retained messages: at every
connect we subscribe to `<base>/+/state` and `<prefix>/device/+/config`, and each retained one
of ours that names a person no longer configured is cleared (an empty retained message), which
also removes the device from Home Assistant.
"""

from __future__ import annotations

import asyncio
import logging
import random

from monitor.config import Config
from monitor.mqtt.client import Incoming, MqttClient, Subscription
from monitor.mqtt.discovery import birth_topic, departed, discovery_payload, discovery_topic
from monitor.mqtt.state import StatePublisher

log = logging.getLogger(__name__)

# Home Assistant's own default is to wait a little after its birth before it expects discovery.
BIRTH_DELAY_S = (1.0, 5.0)


def announcer_subscriptions(config: Config) -> list[Subscription]:
    """The filters the announcer listens on (QoS 0: only retained messages and HA's birth)."""
    mqtt = config.mqtt
    # no_local: our own state and discovery publications need not come back to us.
    subscriptions = [Subscription(f"{mqtt.base_topic}/+/state", qos=0, no_local=True)]
    if mqtt.discovery_prefix:
        subscriptions += [
            Subscription(birth_topic(mqtt.discovery_prefix), qos=0),
            Subscription(f"{mqtt.discovery_prefix}/device/+/config", qos=0, no_local=True),
        ]
    return subscriptions


class Announcer:
    """Keeps Home Assistant's picture of each person right: present, current, or removed."""

    def __init__(
        self,
        config: Config,
        *,
        mqtt: MqttClient,
        state: StatePublisher,
        expire_after_s: int,
        birth_delay_s: tuple[float, float] = BIRTH_DELAY_S,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._prefix = config.mqtt.discovery_prefix
        self._mqtt = mqtt
        self._state = state
        self._expire_after_s = expire_after_s
        self._birth_delay_s = birth_delay_s
        self._rng = rng or random.Random()
        self._persons = {person.id for person in config.persons}
        self._birth = asyncio.Event()
        self._watched = [s.topic for s in announcer_subscriptions(config)]
        self.announced = 0  # discovery rounds sent
        self.cleared: list[str] = []  # retained topics cleared for departed persons

    def wants(self, topic: str) -> bool:
        """Whether a received message is for the announcer (not a command)."""
        return any(_matches(pattern, topic) for pattern in self._watched)

    def connected(self) -> None:
        """Publish every person's discovery document (retained)."""
        self._announce()

    def received(self, message: Incoming) -> None:
        """Home Assistant's birth, or a retained message that may name a departed person."""
        if self._prefix and message.topic == birth_topic(self._prefix):
            # A retained "online" is an old announcement, not a restart.
            if message.payload == b"online" and not message.retained:
                log.info("Home Assistant is online: discovery and states follow shortly")
                self._birth.set()
            return
        if not message.retained:
            return
        gone = departed(
            message.topic, message.payload, mqtt=self._config.mqtt, persons=self._persons
        )
        if gone is None:
            return
        log.info("%s is no longer in the config: clearing %s", gone.person, gone.topic)
        self._mqtt.publish(gone.topic, b"", retain=True)
        self.cleared.append(gone.topic)

    async def run(self) -> None:
        """Answer each Home Assistant birth with discovery and states, for ever."""
        while True:
            await self._birth.wait()
            # Real time: this spreads load on the broker, it is not part of the plan's day.
            await asyncio.sleep(self._rng.uniform(*self._birth_delay_s))
            self._birth.clear()
            await self._mqtt.wait_connected()
            self._announce()
            for person in self._config.persons:
                await self._state.publish(person)

    def _announce(self) -> None:
        if not self._prefix:
            return
        for person in self._config.persons:
            payload = discovery_payload(self._config, person, expire_after_s=self._expire_after_s)
            self._mqtt.publish(discovery_topic(self._prefix, person.id), payload, retain=True)
        self.announced += 1


def _matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching for the single-level `+` wildcards used here."""
    wanted, parts = pattern.split("/"), topic.split("/")
    return len(wanted) == len(parts) and all(
        w in ("+", p) for w, p in zip(wanted, parts, strict=True)
    )
