"""Raising an alert: apply the policy, give it an id, store it and its outbox messages at once.

Each occasion (draft key) is raised once per person, ever: a second draft with the same key is
dropped, whether the first was sent or held back by the policy (monitor.recovery.policy).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.clock import Clock
from monitor.config import AlertSettings, PersonConfig, WakingWindow
from monitor.recovery.alerts import ALWAYS_SENT, Alert, AlertDraft, new_alert_id
from monitor.recovery.policy import PastAlert, decide, destinations, history_since
from monitor.store.alerts import QueuedAlert, StoredAlert

log = logging.getLogger(__name__)

# For an alert about someone not in the config (which only tests do): the default policy, with
# the default waking window of config.PersonConfig.
_DEFAULT_WAKING = WakingWindow(time(8), time(21))


class AlertStore(Protocol):
    """The alert repository the alerter needs (monitor.store.alerts.AlertTables is one)."""

    async def has_alert(self, person: str, key: str) -> bool: ...

    async def alerts(
        self,
        person: str,
        since: datetime | None = None,
        event_type: str | None = None,
        *,
        held_back: bool = False,
        until: datetime | None = None,
    ) -> list[StoredAlert]: ...

    async def add_alerts(self, alerts: Sequence[QueuedAlert]) -> list[QueuedAlert]: ...


class Waker(Protocol):
    """What is told that the outbox has something new (monitor.mqtt.outbox.Outbox is one)."""

    def wake(self) -> None: ...


class Alerter:
    """Turns alert drafts into stored, queued alerts; each occasion (draft key) only once."""

    def __init__(
        self,
        store: AlertStore,
        outbox: Waker,
        clock: Clock,
        base_topic: str,
        *,
        persons: Sequence[PersonConfig] = (),
        tz: ZoneInfo | None = None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._base = base_topic
        self._persons = {p.id: p for p in persons}
        self._tz = tz or ZoneInfo("UTC")

    async def raise_alert(
        self, person: str, draft: AlertDraft, *, at: datetime | None = None
    ) -> Alert | None:
        """Store and queue an alert; None if this occasion was already raised or is held back.

        `at` is the moment the draft judges (a checkpoint, a watch tick); the policy decides as
        of then, so a late judgement reaches the same decision. Default: now.
        """
        if await self._store.has_alert(person, draft.key):
            log.debug("%s: %s already raised", person, draft.key)
            return None
        now = self._clock.now()
        settings, waking = self._settings(person)
        held_back = None
        if draft.event_type not in ALWAYS_SENT:
            moment = at or now
            since = history_since(moment, settings, self._tz)
            past = await self._store.alerts(person, since=since, held_back=True)
            decision = decide(
                draft,
                moment,
                settings=settings,
                waking=waking,
                tz=self._tz,
                history=[_past(alert) for alert in past],
            )
            held_back = decision.reason.value if decision.reason else None
        queued = self.prepare(person, draft, now, held_back=held_back)
        if not await self._store.add_alerts([queued]):
            log.debug("%s: %s already raised", person, draft.key)
            return None
        return self.announce(queued, draft)

    def prepare(
        self, person: str, draft: AlertDraft, now: datetime, *, held_back: str | None = None
    ) -> QueuedAlert:
        """The alert a draft becomes, with its id and outbox topics, ready to store; no I/O.

        Only for drafts the policy does not judge (ALWAYS_SENT) unless `held_back` is given.
        """
        settings, _ = self._settings(person)
        alert = Alert(new_alert_id(now, os.urandom(10)), person, now, draft)
        message = alert.payload()
        stored = StoredAlert(
            id=alert.id,
            person=person,
            key=draft.key,
            event_type=draft.event_type.value,
            severity=draft.severity.value,
            created_at=now,
            payload=message.decode(),
            acked_at=None,
            held_back=held_back,
        )
        topics = destinations(draft, f"{self._base}/{person}/alert", settings)
        return QueuedAlert(stored, tuple(topics), message)

    def announce(self, queued: QueuedAlert, draft: AlertDraft) -> Alert | None:
        """After a prepared alert was stored: log it and wake the outbox; the Alert if sent."""
        stored = queued.alert
        person = stored.person
        if stored.held_back is not None:
            # Which alert it was is health data: only at debug level.
            log.info("%s: an alert was held back by the alert policy", person)
            log.debug("%s: %s held back (%s)", person, draft.event_type, stored.held_back)
            return None
        log.info("%s: alert %s raised", person, stored.id)
        log.debug("%s: alert %s is %s (%s)", person, stored.id, draft.event_type, draft.severity)
        if len(queued.topics) > 1:
            log.info("%s: alert %s also goes to the escalation topic", person, stored.id)
        self._outbox.wake()
        return Alert(stored.id, person, stored.created_at, draft)

    def _settings(self, person: str) -> tuple[AlertSettings, WakingWindow]:
        config = self._persons.get(person)
        if config is None:
            return AlertSettings(), _DEFAULT_WAKING
        return config.alerts, config.waking_hours


def _past(alert: StoredAlert) -> PastAlert:
    return PastAlert(
        alert.event_type,
        alert.created_at,
        alert.acked_at,
        alert.held_back is not None,
        alert.device,
    )
