"""Commands in: validate, store, then act; answer every command, refuse bad ones with a reason.

A command is acknowledged to the broker only after it has been stored (or refused), so one that
arrives just before a crash is delivered again rather than lost; storing is de-duplicated, so a
second delivery changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from monitor.alerter import Alerter
from monitor.clock import Clock
from monitor.commands import Command, CommandError, parse_command, person_of
from monitor.config import Config
from monitor.days import local_date
from monitor.mqtt import Incoming, MqttClient
from monitor.store import Store
from monitor.symptoms import SymptomKind, symptom_alert

log = logging.getLogger(__name__)

# The same payload on the same topic within this window, without an explicit request id, is a
# second delivery of one command (a QoS 1 redelivery, or a button pressed twice).
DUPLICATE_WINDOW = timedelta(minutes=10)
MAX_WAITING = 1000


class Intake:
    """Handles commands one at a time, in the order they arrive."""

    def __init__(
        self,
        config: Config,
        *,
        store: Store,
        alerter: Alerter,
        mqtt: MqttClient,
        clock: Clock,
        on_change: Callable[[str], None],
    ) -> None:
        self._config = config
        self._base = config.mqtt.base_topic
        self._persons = {p.id for p in config.persons}
        self._store = store
        self._alerter = alerter
        self._mqtt = mqtt
        self._clock = clock
        self._on_change = on_change
        self._queue: asyncio.Queue[Incoming] = asyncio.Queue(MAX_WAITING)
        self.rejected = 0

    def submit(self, message: Incoming) -> None:
        """Queue a received command; never blocks. Unacknowledged, an overflow is redelivered."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("too many commands waiting; %s will be delivered again", message.topic)

    async def run(self) -> None:
        """Handle queued commands, for ever."""
        while True:
            message = await self._queue.get()
            await self.handle(message)

    async def handle(self, message: Incoming) -> None:
        """Validate, store and act on one command, then acknowledge and answer it."""
        now = self._clock.now()
        try:
            command = parse_command(
                message.topic, message.payload, base=self._base, persons=self._persons, now=now
            )
            answer = await self._apply(command, message, now)
        except CommandError as error:
            self.rejected += 1
            self._refuse(message, error, now)
        else:
            self._reply(message, {"ok": True, "topic": message.topic, **answer})
        self._mqtt.ack(message)

    async def _apply(self, command: Command, message: Incoming, now: datetime) -> dict[str, Any]:
        person = command.person
        if command.kind == "ack":
            if not await self._store.ack_alert(person, command.fields["alert"], now):
                raise CommandError("unknown_alert", f"no alert {command.fields['alert']} to ack")
            log.info("%s: alert %s acknowledged", person, command.fields["alert"])
            self._on_change(person)
            return {"acknowledged": command.fields["alert"]}
        if command.request_id is not None:
            dedup, since = f"id:{command.request_id}", None
        else:
            digest = hashlib.sha256(message.topic.encode() + b"\0" + message.payload).hexdigest()
            dedup, since = f"sha256:{digest}", now - DUPLICATE_WINDOW
        report_id = await self._store.add_report(
            person, command.kind, command.at, now, command.fields, dedup, since
        )
        if report_id is None:
            log.info("%s: a %s report arrived twice; the second is ignored", person, command.kind)
            return {"duplicate": True}
        log.info("%s: %s report stored", person, command.kind)
        if command.kind == "symptom":
            kind = SymptomKind(command.fields["symptom"])
            day = local_date(command.at, self._config.service.timezone).isoformat()
            await self._alerter.raise_alert(person, symptom_alert(kind, report_id, day))
        self._on_change(person)
        return {"report": report_id}

    def _refuse(self, message: Incoming, error: CommandError, now: datetime) -> None:
        log.warning("refused a command on %s: %s", message.topic, error.code)
        body = {
            "topic": message.topic,
            "error": error.code,
            "detail": error.detail,
            "received_at": now.isoformat(),
        }
        person = person_of(message.topic, self._base)
        topic = f"{self._base}/{person}/error" if person else f"{self._base}/error"
        self._mqtt.publish(topic, _json(body))
        self._reply(message, {"ok": False, **body})

    def _reply(self, message: Incoming, body: dict[str, Any]) -> None:
        if message.response_topic:
            self._mqtt.publish(
                message.response_topic, _json(body), correlation_data=message.correlation_data
            )


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
