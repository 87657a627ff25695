"""What went wrong between the service and the broker, where a user can see it.

Every publish the broker refuses (MQTT v5 PUBACK reason code, e.g. 0x87 when an ACL denies it) is
logged and counted, and the counts are kept on the retained `<base>/diagnostics` topic, with the
commands accepted, refused and left unanswered, and the readings a flooding wearable had
dropped. Home Assistant shows each person's undelivered
alerts from it (monitor/mqtt/discovery.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from monitor.clock import Clock
from monitor.mqtt.client import MqttClient, reason_text
from monitor.mqtt.discovery import DIAGNOSTICS_SUFFIX

log = logging.getLogger(__name__)


class Diagnostics:
    """Counts refused publishes and publishes the counts, at most once per `interval_s`."""

    def __init__(
        self,
        base: str,
        *,
        mqtt: MqttClient,
        clock: Clock,
        command_counts: Callable[[], Mapping[str, int]] | None = None,
        dropped_readings: Callable[[], Mapping[str, int]] | None = None,
        interval_s: float = 5.0,
    ) -> None:
        self._base = base
        self._topic = f"{base}/{DIAGNOSTICS_SUFFIX}"
        self._mqtt = mqtt
        self._clock = clock
        self._command_counts = command_counts
        self._dropped_readings = dropped_readings
        self._interval_s = interval_s
        self._since = clock.now()
        self._wake = asyncio.Event()
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
        """Something counted has changed: publish the diagnostics soon."""
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
        """Publish the diagnostics whenever they change, at most once per interval."""
        while True:
            await self._wake.wait()
            await self._mqtt.wait_connected()
            self._wake.clear()
            payload = json.dumps(self.document(), separators=(",", ":")).encode()
            self._mqtt.publish(self._topic, payload, retain=True)
            # Real time, not the service clock: this paces network traffic, not the plan.
            await asyncio.sleep(self._interval_s)

    def _alert_person(self, topic: str) -> str | None:
        parts = topic.split("/")
        prefix = self._base.split("/")
        ours = len(parts) == len(prefix) + 2 and parts[: len(prefix)] == prefix
        return parts[-2] if ours and parts[-1] == "alert" else None
