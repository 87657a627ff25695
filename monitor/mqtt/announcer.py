"""Home Assistant at run time: discovery on every connect and on HA's birth; departed persons;
alerts raised while Home Assistant was away offered again when it is back.

Discovery documents are published retained whenever we connect, once the broker's retained
messages have had a moment to arrive (so that what is ours and no longer used is cleared first,
and Home Assistant never sees an old and a new entity side by side). When Home Assistant
announces itself (`online` on `<prefix>/status`), discovery and every person's state are sent
again after a short random delay, so that many services do not answer at the same instant.

Home Assistant subscribes with a clean session: an alert published while it restarts reaches the
broker but never Home Assistant. Its last will (`offline` on the same topic) says when it left;
when it is back, every alert raised since then that nobody has acknowledged is published again
on the person's alert topic, with its own id, after discovery and states.

A person who has left the config is found through the broker's retained messages: at every
connect we subscribe to `<base>/+/state` and `<prefix>/device/+/config`, and each retained one
of ours that names a person no longer configured is cleared (an empty retained message): the
discovery documents first, then the state, so that Home Assistant's entities are gone before
their state topic empties (an empty state would fail each entity's template). A discovery
document of ours on a node no longer used (the old `recovery_<pid>` form, a spare piece) is
cleared too.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime
from typing import Protocol

from monitor.clock import Clock
from monitor.config import Config, PersonConfig
from monitor.mqtt.client import Incoming, Subscription
from monitor.mqtt.discovery import Departed, Discovery, birth_topic, departed, discovery_messages
from monitor.store.alerts import StoredAlert

log = logging.getLogger(__name__)

# Home Assistant's own default is to wait a little after its birth before it expects discovery.
BIRTH_DELAY_S = (1.0, 5.0)
# After connecting, the broker's retained messages arrive within this (real) time on a home
# network; what they show to clear is cleared before discovery goes out.
SETTLE_S = 0.5


class Publisher(Protocol):
    """What the announcer needs of the MQTT connection."""

    @property
    def max_packet_size(self) -> int | None:
        """The broker's Maximum Packet Size (CONNACK), None when it set none."""
        ...

    def fits(self, topic: str, payload: bytes, *, qos: int = 1) -> bool:
        """Whether this message is within the broker's Maximum Packet Size."""
        ...

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[int]:
        """Hand a message to the connection."""
        ...

    async def wait_connected(self) -> None:
        """Return once connected."""
        ...

    async def wait_subscribed(self) -> tuple[int, ...]:
        """Return once the broker has answered our subscriptions."""
        ...


class StateSender(Protocol):
    """Publishes a person's retained state now."""

    async def publish(self, person: PersonConfig) -> None:
        """Publish one person's state."""
        ...


class AlertHistory(Protocol):
    """The alerts that were sent, to offer the unacknowledged ones again."""

    async def alerts(self, person: str, since: datetime | None = None) -> list[StoredAlert]:
        """A person's sent alerts created at or after `since`, oldest first."""
        ...


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
        mqtt: Publisher,
        state: StateSender,
        alerts: AlertHistory,
        clock: Clock,
        expire_after_s: int,
        birth_delay_s: tuple[float, float] = BIRTH_DELAY_S,
        settle_s: float = SETTLE_S,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._prefix = config.mqtt.discovery_prefix
        self._mqtt = mqtt
        self._state = state
        self._alerts = alerts
        self._clock = clock
        self._expire_after_s = expire_after_s
        self._birth_delay_s = birth_delay_s
        self._settle_s = settle_s
        self._rng = rng or random.Random()
        self._persons = {person.id for person in config.persons}
        self._birth = asyncio.Event()
        self._connect = asyncio.Event()
        self._watched = [s.topic for s in announcer_subscriptions(config)]
        self._plan: dict[str, Discovery] = {}
        self._settled = False
        self._held: list[Departed] = []  # departed persons' states, cleared after discovery
        self._away_since: datetime | None = None  # Home Assistant's last will, if not back yet
        self._returned_from: datetime | None = None  # the absence to make up for at its birth
        self.announced = 0  # discovery rounds sent
        self.births_answered = 0  # Home Assistant births answered (discovery, states, alerts)
        self.cleared: list[str] = []  # retained topics cleared, in order
        self.offered_again: list[str] = []  # ids of alerts offered again after HA's return

    @property
    def away_since(self) -> datetime | None:
        """When Home Assistant's will said it left, while it is not back; else None."""
        return self._away_since

    def wants(self, topic: str) -> bool:
        """Whether a received message is for the announcer (not a command)."""
        return any(_matches(pattern, topic) for pattern in self._watched)

    def connected(self) -> None:
        """Connected: plan discovery for the broker's packet size; publish it once settled."""
        self._plan = self._make_plan()
        self._settled = False
        self._connect.set()

    def received(self, message: Incoming) -> None:
        """Home Assistant's birth or will, or a retained message that may be ours to clear."""
        if self._prefix and message.topic == birth_topic(self._prefix):
            self._home_assistant(message)
            return
        if not message.retained:
            return
        current = [topic for plan in self._plan.values() for topic, _ in plan.messages]
        gone = departed(
            message.topic,
            message.payload,
            mqtt=self._config.mqtt,
            persons=self._persons,
            current=current if self._plan else None,
        )
        if gone is None:
            return
        if gone.discovery or self._settled:
            self._clear(gone)
        else:
            self._held.append(gone)

    async def run(self) -> None:
        """Announce after each connect and each Home Assistant birth, for ever."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._after_connects(), name="announce on connect")
            group.create_task(self._after_births(), name="announce on birth")

    async def _after_connects(self) -> None:
        while True:
            await self._connect.wait()
            self._connect.clear()
            await self._mqtt.wait_subscribed()
            # Real time: the broker's retained messages are on their way.
            await asyncio.sleep(self._settle_s)
            self._announce()
            self._settled = True
            held, self._held = self._held, []
            for gone in held:
                self._clear(gone)

    async def _after_births(self) -> None:
        while True:
            await self._birth.wait()
            # Real time: this spreads load on the broker, it is not part of the plan's day.
            await asyncio.sleep(self._rng.uniform(*self._birth_delay_s))
            self._birth.clear()
            await self._mqtt.wait_connected()
            self._announce()
            for person in self._config.persons:
                await self._state.publish(person)
            since, self._returned_from = self._returned_from, None
            if since is not None:
                await self._offer_again(since)
            self.births_answered += 1

    def _home_assistant(self, message: Incoming) -> None:
        if message.payload == b"offline":
            # A retained will: it left at some unknown time; at least from now on it misses.
            if self._away_since is None:
                self._away_since = self._clock.now()
                log.info("Home Assistant is offline: alerts from now on are offered again")
            return
        # A retained "online" is an old announcement, not a restart.
        if message.payload == b"online" and not message.retained:
            # Once per announcement answered: anyone who may publish here cannot flood the log.
            level = logging.DEBUG if self._birth.is_set() else logging.INFO
            log.log(level, "Home Assistant is online: discovery and states follow shortly")
            if self._away_since is not None:
                earlier = self._returned_from or self._away_since
                self._returned_from = min(earlier, self._away_since)
                self._away_since = None
            self._birth.set()

    async def _offer_again(self, since: datetime) -> None:
        """Publish again each unacknowledged alert raised at or after `since` (same id)."""
        base = self._config.mqtt.base_topic
        for person in self._config.persons:
            missed = [a for a in await self._alerts.alerts(person.id, since) if a.acked_at is None]
            for alert in missed:
                self._mqtt.publish(f"{base}/{person.id}/alert", alert.payload.encode(), qos=1)
                self.offered_again.append(alert.id)
            if missed:
                log.info(
                    "%s: %d alert(s) raised while Home Assistant was away offered again",
                    person.id,
                    len(missed),
                )

    def _make_plan(self) -> dict[str, Discovery]:
        if not self._prefix:
            return {}
        plan = {
            person.id: discovery_messages(
                self._config, person, expire_after_s=self._expire_after_s, fits=self._mqtt.fits
            )
            for person in self._config.persons
        }
        left_out = {pid: found.left_out for pid, found in plan.items() if found.left_out}
        if left_out:
            log.error(
                "Home Assistant discovery: %s do not fit the broker's maximum packet size "
                "(%s bytes) and are left out; raise max_packet_size in the broker's config",
                "; ".join(f"{pid}: {', '.join(keys)}" for pid, keys in left_out.items()),
                self._mqtt.max_packet_size,
            )
        return plan

    def _announce(self) -> None:
        if not self._prefix:
            return
        if not self._plan:
            self._plan = self._make_plan()
        for person in self._config.persons:
            for topic, payload in self._plan[person.id].messages:
                self._mqtt.publish(topic, payload, retain=True)
        self.announced += 1

    def _clear(self, gone: Departed) -> None:
        if gone.departed:
            log.info("%s is no longer in the config: clearing %s", gone.person, gone.topic)
        else:
            log.info("clearing %s: a discovery document of ours no longer used", gone.topic)
        self._mqtt.publish(gone.topic, b"", retain=True)
        self.cleared.append(gone.topic)


def _matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching for the single-level `+` wildcards used here."""
    wanted, parts = pattern.split("/"), topic.split("/")
    return len(wanted) == len(parts) and all(
        w in ("+", p) for w, p in zip(wanted, parts, strict=True)
    )
