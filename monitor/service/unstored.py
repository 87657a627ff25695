"""Symptom reports the store could not take: their alerts go out at once, the reports wait.

A symptom report always becomes an alert, whatever fails (issue 11). When its transaction
fails (a full disk, a locked file), the alerts it calls for are built by the same code as on
the stored path (Planned.react, Alerter.prepare: same drafts, payloads and topics) and
published directly at QoS 1 from memory. The report is held in a bounded list and stored
once storage works again, with those alerts under the SAME alert ids and, for each topic the
broker confirmed, no outbox row, so nothing is sent a second time. A topic the broker did
not confirm is queued in the outbox again with the same alert id: a consumer that saw the
first copy drops the second by its id.

An alert sent before its report was stored has `data.report` 0 (no report id yet); the
stored copy keeps the bytes that were sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from monitor.errors import StoreError
from monitor.mqtt.client import FAILURE, MqttError
from monitor.recovery.symptoms import SymptomKind
from monitor.service.reactions import Planned, Reactions
from monitor.store.alerts import QueuedAlert
from monitor.store.reports import NewReport, Reaction, ReportStored

log = logging.getLogger(__name__)

# Reports held at most: a symptom report is a rare, deliberate act (a few a day), so 100 covers
# an outage of weeks; beyond it the oldest is forgotten (its alerts were sent) and logged.
MAX_HELD = 100
# While reports are held, storing them is tried again this often (seconds), besides before
# each command: the same 5 s the reading queue retries at (docs/reliability.md).
RETRY_INTERVAL_S = 5.0


class ReportStore(Protocol):
    """Where held reports go (monitor.store.database.Store is one)."""

    async def store_report(
        self, report: NewReport, react: Reaction | None = None
    ) -> ReportStored: ...


class Publisher(Protocol):
    """The MQTT side (monitor.mqtt.client.MqttClient is one)."""

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> asyncio.Future[int]: ...


@dataclass(slots=True)
class Held:
    """A symptom report not stored yet, and the alerts already sent for it."""

    report: NewReport
    symptom: SymptomKind
    sent: list[QueuedAlert]
    confirmed: set[tuple[str, str]] = field(default_factory=set)  # (alert id, topic)


class Unstored:
    """Sends the alerts of symptom reports that could not be stored; stores them later."""

    def __init__(self, reactions: Reactions, store: ReportStore, mqtt: Publisher) -> None:
        self._reactions = reactions
        self._store = store
        self._mqtt = mqtt
        self._held: deque[Held] = deque()
        self.forgotten = 0  # held reports dropped beyond MAX_HELD, never stored

    def __len__(self) -> int:
        return len(self._held)

    def holding(self, report: NewReport) -> list[QueuedAlert] | None:
        """The alerts already sent for this report (a second delivery), if it is held."""
        for held in self._held:
            if (held.report.person, held.report.dedup) == (report.person, report.dedup):
                return held.sent
        return None

    def send(self, planned: Planned, report: NewReport, symptom: SymptomKind) -> list[QueuedAlert]:
        """Publish the alerts `planned` calls for at QoS 1, hold the report; the alerts sent."""
        queued = [q for q in planned.react(0) if q.alert.held_back is None]
        held = Held(report, symptom, queued)
        for alert in queued:
            for topic in alert.topics:
                try:
                    future = self._mqtt.publish(topic, alert.message, qos=1)
                except MqttError as exc:
                    # Still held: the outbox sends it once the report is stored.
                    log.warning("%s: alert %s not sent: %s", report.person, alert.alert.id, exc)
                    continue
                future.add_done_callback(functools.partial(_confirmed, held, alert, topic))
            log.warning(
                "%s: alert %s sent although its report could not be stored",
                report.person,
                alert.alert.id,
            )
        self._held.append(held)
        if len(self._held) > MAX_HELD:
            lost = self._held.popleft()
            self.forgotten += 1
            # Once per run: a flood must not flood the log too (the count is kept).
            log.log(
                logging.ERROR if self.forgotten == 1 else logging.DEBUG,
                "%s: a symptom report could not be stored and is forgotten (its alerts were "
                "sent); more than %d waited for storage",
                lost.report.person,
                MAX_HELD,
            )
        return queued

    async def store(self, now: datetime) -> list[tuple[Held, ReportStored]]:
        """Store held reports, oldest first, each with its alerts as sent; StoreError (the
        rest stay held) if storage still fails."""
        done: list[tuple[Held, ReportStored]] = []
        while self._held:
            held = self._held[0]
            report = held.report
            planned = await self._reactions.plan(report.person, held.symptom, report.at, now)
            react = functools.partial(_as_sent, planned, held)
            stored = await self._store.store_report(report, react)
            self._held.popleft()
            planned.settle(stored)
            log.info("%s: a held symptom report was stored (report %d)", report.person, stored.id)
            done.append((held, stored))
        return done


class SentUnstoredError(Exception):
    """A symptom report could not be stored, and its alerts were sent anyway."""

    def __init__(self, error: StoreError, alerts: Sequence[QueuedAlert]) -> None:
        super().__init__(str(error))
        self.error = error
        self.alerts = alerts


def alert_list(alerts: Sequence[QueuedAlert]) -> list[dict[str, str]]:
    """The alerts a report raised, as a command's answer lists them: id and title, sent only."""
    return [
        {"id": q.alert.id, "title": str(q.alert.body().get("title", ""))}
        for q in alerts
        if q.alert.held_back is None
    ]


def _as_sent(planned: Planned, held: Held, report_id: int) -> list[QueuedAlert]:
    """The alerts for the stored report: each one already sent keeps its id, time and bytes,
    and is queued only on the topics the broker did not confirm."""
    unsent = list(held.sent)
    result = []
    for queued in planned.react(report_id):
        twin = next((s for s in unsent if _occasion(s) == _occasion(queued)), None)
        if twin is None:
            result.append(queued)  # an alert the report calls for now, not then: sent normally
            continue
        unsent.remove(twin)
        alert = dataclasses.replace(
            queued.alert,
            id=twin.alert.id,
            created_at=twin.alert.created_at,
            payload=twin.alert.payload,
        )
        topics = tuple(t for t in twin.topics if (twin.alert.id, t) not in held.confirmed)
        result.append(QueuedAlert(alert, topics, twin.message))
    return result


def _occasion(queued: QueuedAlert) -> str:
    # The key without the report id it names (which the held alert did not have).
    return queued.alert.key.split(":", 1)[0]


def _confirmed(held: Held, alert: QueuedAlert, topic: str, future: asyncio.Future[int]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    if future.result() < FAILURE:
        held.confirmed.add((alert.alert.id, topic))
