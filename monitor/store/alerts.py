"""Alerts and their outbox: stored together, leaving the outbox only when the broker confirms."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.store.connection import Connection, _ts


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored: its identity and JSON payload."""

    id: str
    person: str
    key: str
    event_type: str
    severity: str
    created_at: datetime
    payload: str
    acked_at: datetime | None
    held_back: str | None = None  # why the policy did not send it; None: sent

    def body(self) -> dict[str, Any]:
        """The stored payload decoded (an empty dict if it is not a JSON object): the one
        place a stored alert is read back."""
        try:
            decoded = json.loads(self.payload)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}

    @property
    def device(self) -> str | None:
        """The wearable the alert is about, if it names one."""
        data = self.body().get("data")
        device = data.get("device") if isinstance(data, dict) else None
        return device if isinstance(device, str) else None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message waiting for the broker's acknowledgement."""

    seq: int
    alert_id: str
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    """An alert ready to be stored with its outbox messages: one per topic, the same bytes."""

    alert: StoredAlert
    topics: tuple[str, ...]
    message: bytes


def insert_alert(db: sqlite3.Connection, queued: QueuedAlert) -> bool:
    """Inside a transaction: store an alert and its outbox rows; False if its key was seen.

    An alert held back by the policy (`held_back`) is stored but not queued.
    """
    alert = queued.alert
    cursor = db.execute(
        "INSERT INTO alert (id, person, key, event_type, severity, created_at, payload, "
        "held_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (person, key) DO NOTHING",
        (
            alert.id,
            alert.person,
            alert.key,
            alert.event_type,
            alert.severity,
            _ts(alert.created_at),
            alert.payload,
            alert.held_back,
        ),
    )
    if cursor.rowcount == 0:
        return False
    if alert.held_back is None:
        db.executemany(
            "INSERT INTO outbox (alert_id, topic, payload) VALUES (?, ?, ?)",
            [(alert.id, topic, queued.message) for topic in queued.topics],
        )
    return True


class AlertTables(Connection):
    """alert and outbox."""

    # -- alerts and the outbox ---------------------------------------------------------------------

    async def add_alert(
        self, alert: StoredAlert, topic: str, message: bytes, *, also: Sequence[str] = ()
    ) -> bool:
        """Store an alert and queue it for sending, atomically; False if its key was seen before.

        The message is queued once for `topic` and once for each topic in `also` (same alert
        id); an alert held back by the policy (`alert.held_back`) is stored but not queued.
        """
        queued = QueuedAlert(alert, (topic, *also), message)
        return await self.atomic(lambda db: insert_alert(db, queued))

    async def add_alerts(self, alerts: Sequence[QueuedAlert]) -> list[QueuedAlert]:
        """Store several alerts in one transaction; those whose key was new, in order."""
        return await self.atomic(lambda db: [q for q in alerts if insert_alert(db, q)])

    async def has_alert(self, person: str, key: str) -> bool:
        """Whether an alert with this de-duplication key was ever raised for the person."""
        rows = await self._all("SELECT 1 FROM alert WHERE person = ? AND key = ?", (person, key))
        return bool(rows)

    async def alerts(
        self,
        person: str,
        since: datetime | None = None,
        event_type: str | None = None,
        *,
        held_back: bool = False,
        until: datetime | None = None,
    ) -> list[StoredAlert]:
        """A person's sent alerts (and held-back ones too if `held_back`), oldest first.

        Optionally only those created in [since, until) and of one type.
        """
        rows = await self._all(
            "SELECT id, person, key, event_type, severity, created_at, payload, acked_at, "
            "held_back FROM alert WHERE person = ? AND created_at >= ? "
            "AND (? IS NULL OR created_at < ?) AND (? IS NULL OR event_type = ?) "
            "AND (? OR held_back IS NULL) ORDER BY created_at, id",
            (
                person,
                _ts(since) if since else "",
                *(2 * [_ts(until) if until else None]),
                event_type,
                event_type,
                held_back,
            ),
        )
        return [
            StoredAlert(
                r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]), r[6],
                datetime.fromisoformat(r[7]) if r[7] else None, r[8],
            )
            for r in rows
        ]  # fmt: skip

    async def ack_alert(self, person: str, alert_id: str, at: datetime) -> bool:
        """Mark an alert acknowledged; False if there is no such alert for the person."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE alert SET acked_at = coalesce(acked_at, ?) WHERE person = ? AND id = ?",
                (_ts(at), person, alert_id),
            )
            return cursor.rowcount > 0

    async def ack_waiting(self, person: str, *, until: datetime, at: datetime) -> list[str]:
        """Acknowledge every alert up to `until` that waits for it; their ids, oldest first."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT id FROM alert WHERE person = ? AND acked_at IS NULL AND created_at <= ? "
                "AND json_extract(payload, '$.requires_ack') = 1 ORDER BY created_at, id",
                (person, _ts(until)),
            ) as cursor:
                ids = [str(row[0]) for row in await cursor.fetchall()]
            await db.executemany(
                "UPDATE alert SET acked_at = ? WHERE id = ?", [(_ts(at), i) for i in ids]
            )
        return ids

    async def outbox(self, limit: int = 100, exclude: Iterable[int] = ()) -> list[OutboxItem]:
        """Messages not yet acknowledged by the broker nor refused by it, oldest first."""
        skip = sorted(set(exclude))
        marks = ",".join("?" * len(skip))
        rows = await self._all(  # the query holds only '?' marks, never values
            "SELECT seq, alert_id, topic, payload FROM outbox WHERE failed_reason IS NULL "  # noqa: S608
            f"AND seq NOT IN ({marks}) ORDER BY seq LIMIT ?",
            (*skip, limit),
        )
        return [OutboxItem(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def outbox_size(self) -> int:
        """How many messages wait in the outbox (refused ones included)."""
        rows = await self._all("SELECT count(*) FROM outbox")
        return int(rows[0][0])

    async def delivered(self, seq: int) -> None:
        """The broker acknowledged a message: it leaves the outbox."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    async def refused(self, seq: int, reason: str) -> None:
        """The broker refused a message: keep it, marked, until a restart tries again."""
        async with self.transaction() as db:
            await db.execute("UPDATE outbox SET failed_reason = ? WHERE seq = ?", (reason, seq))

    async def retry_refused(self) -> None:
        """Give refused messages another chance (at start-up, when the broker may have changed)."""
        async with self.transaction() as db:
            await db.execute("UPDATE outbox SET failed_reason = NULL")
