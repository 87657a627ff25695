"""What went wrong between the service and the broker, where a user can see it.

Every publish the broker refuses (MQTT v5 PUBACK reason code, e.g. 0x87 when an ACL denies it) is
logged and counted, and the counts are kept on the retained `<base>/diagnostics` topic, with the
commands accepted, refused and left unanswered, and the readings a flooding wearable had
dropped. Home Assistant shows each person's undelivered
alerts from it (monitor/mqtt/discovery.py).

They are published at start-up and after every connect (so a healthy install reads 0, never
`unknown`, and an old install's counts do not linger), and again whenever they change: at once
when something is refused, otherwise within `refresh_s` (commands and readings move often).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from monitor.clock import Clock
from monitor.mqtt.client import PACKET_TOO_LARGE, reason_text
from monitor.mqtt.discovery import DIAGNOSTICS_SUFFIX

log = logging.getLogger(__name__)

# Counts that move without a refusal (commands, dropped readings) are published this often at
# most (real seconds), and only when they changed.
REFRESH_S = 60.0


class Publisher(Protocol):
    """What the diagnostics need of the MQTT connection."""

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[int]:
        """Hand a message to the connection."""
        ...

    async def wait_connected(self) -> None:
        """Return once connected."""
        ...


class Diagnostics:
    """Counts refused publishes and publishes the counts, at most once per `interval_s`."""

    def __init__(
        self,
        base: str,
        *,
        mqtt: Publisher,
        clock: Clock,
        command_counts: Callable[[], Mapping[str, int]] | None = None,
        dropped_readings: Callable[[], Mapping[str, int]] | None = None,
        interval_s: float = 5.0,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self._base = base
        self._topic = f"{base}/{DIAGNOSTICS_SUFFIX}"
        self._mqtt = mqtt
        self._clock = clock
        self._command_counts = command_counts
        self._dropped_readings = dropped_readings
        self._interval_s = interval_s
        self._refresh_s = refresh_s
        self._since = clock.now()
        # Set from the start: the first publication goes out as soon as we are connected.
        self._wake = asyncio.Event()
        self._wake.set()
        self.published = 0
        self.refused = 0
        self.undelivered_alerts: dict[str, int] = {}
        self.last_refusal: dict[str, Any] | None = None

    def publish_refused(self, topic: str, code: int) -> None:
        """The broker refused a message we published on `topic` with reason `code`."""
        reason = reason_text(code)
        if topic == self._topic:
            # Our own report cannot go out: saying so on the same topic would loop.
            log.error("the broker refused the diagnostics on %s: %s (0x%02X)", topic, reason, code)
            return
        self.refused += 1
        person = self._alert_person(topic)
        if person is not None:
            # The outbox logs the alert itself (id, topic, reason) and keeps it for a retry.
            self.undelivered_alerts[person] = self.undelivered_alerts.get(person, 0) + 1
        elif code == PACKET_TOO_LARGE:
            pass  # the client said so in its own line, with the size and the limit
        else:
            log.error(
                "the broker refused a message on %s: %s (0x%02X); check its ACL for this user",
                topic,
                reason,
                code,
            )
        self.last_refusal = {
            "topic": topic,
            "reason": reason,
            "code": code,
            "at": self._clock.now().isoformat(),
        }
        self.touch()

    def touch(self) -> None:
        """Something counted has changed, or we (re)connected: publish the diagnostics soon."""
        self._wake.set()

    def document(self) -> dict[str, Any]:
        """The diagnostics as published."""
        return {
            "since": self._since.isoformat(),
            "refused_messages": self.refused,
            "undelivered_alerts": dict(sorted(self.undelivered_alerts.items())),
            "last_refusal": self.last_refusal,
            "commands": dict(self._command_counts()) if self._command_counts else {},
            "readings_dropped": dict(self._dropped_readings()) if self._dropped_readings else {},
        }

    async def run(self) -> None:
        """Publish at start, when touched and when changed; at most once per interval."""
        last: bytes | None = None
        while True:
            try:
                # Real time, not the service clock: this paces network traffic, not the plan.
                async with asyncio.timeout(self._refresh_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            touched = self._wake.is_set()
            await self._mqtt.wait_connected()
            self._wake.clear()
            payload = json.dumps(self.document(), separators=(",", ":")).encode()
            if touched or payload != last:
                self._mqtt.publish(self._topic, payload, retain=True)
                self.published += 1
                last = payload
            await asyncio.sleep(self._interval_s)

    def _alert_person(self, topic: str) -> str | None:
        parts = topic.split("/")
        prefix = self._base.split("/")
        ours = len(parts) == len(prefix) + 2 and parts[: len(prefix)] == prefix
        return parts[-2] if ours and parts[-1] == "alert" else None
