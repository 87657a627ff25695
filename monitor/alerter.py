"""Raising an alert: give it an id, store it and its outbox message at once, wake the outbox."""

from __future__ import annotations

import logging
import os

from monitor.alerts import Alert, AlertDraft, new_alert_id
from monitor.clock import Clock
from monitor.outbox import Outbox
from monitor.store import Store, StoredAlert

log = logging.getLogger(__name__)


class Alerter:
    """Turns alert drafts into stored, queued alerts; each occasion (draft key) only once."""

    def __init__(self, store: Store, outbox: Outbox, clock: Clock, base_topic: str) -> None:
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._base = base_topic

    async def raise_alert(self, person: str, draft: AlertDraft) -> Alert | None:
        """Store and queue an alert; None if this occasion was already alerted."""
        now = self._clock.now()
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
        )
        if not await self._store.add_alert(stored, f"{self._base}/{person}/alert", message):
            log.debug("%s: %s already alerted", person, draft.key)
            return None
        log.info("%s: alert %s (%s, %s)", person, alert.id, draft.event_type, draft.severity)
        self._outbox.wake()
        return alert
