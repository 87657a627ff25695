"""Alerts: what a rule decides to say, and the bounded JSON payload that goes out over MQTT."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# Alert payloads stay far below the broker's max_packet_size (a message above it is poison: the
# broker drops the connection and the client resends it for ever).
MAX_ALERT_BYTES = 4096
ALERT_SCHEMA = 1

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Severity(StrEnum):
    """How much an alert matters."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EventType(StrEnum):
    """Every kind of alert the service sends (architecture.md)."""

    BEHIND_SCHEDULE = "behind_schedule"
    TARGET_MISSED = "target_missed"
    MISSED_DAYS = "missed_days"
    LONG_SITTING = "long_sitting"
    TARGET_MET = "target_met"
    WARNING_SYMPTOM = "warning_symptom"
    SYMPTOM_PERSISTING = "symptom_persisting"
    RED_FLAG = "red_flag"
    NO_IMPROVEMENT = "no_improvement"
    FUNCTION_DECLINING = "function_declining"
    DEVICE_OFFLINE = "device_offline"
    BATTERY_LOW = "battery_low"
    WEEKLY_SUMMARY = "weekly_summary"  # recovery-domain.md: the weekly summary, in plain words


# recovery-domain.md: a symptom alert always goes out, whatever the quiet hours or cooldowns.
ALWAYS_SENT = frozenset(
    {EventType.WARNING_SYMPTOM, EventType.SYMPTOM_PERSISTING, EventType.RED_FLAG}
)


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """What a rule wants said; `key` identifies the occasion, so it is said once."""

    event_type: EventType
    severity: Severity
    priority: int  # 1 (lowest) to 5 (highest)
    title: str
    message: str
    key: str
    requires_ack: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert with its identity: the id consumers de-duplicate by, and when it was raised."""

    id: str
    person: str
    created_at: datetime
    draft: AlertDraft

    def payload(self) -> bytes:
        """The alert as UTF-8 JSON, never larger than MAX_ALERT_BYTES."""
        body: dict[str, Any] = {
            "id": self.id,
            "event_type": self.draft.event_type.value,
            "severity": self.draft.severity.value,
            "priority": self.draft.priority,
            "title": self.draft.title,
            "message": self.draft.message,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "person": self.person,
            "requires_ack": self.draft.requires_ack,
            "data": dict(self.draft.data),
            "schema": ALERT_SCHEMA,
        }
        encoded = _dump(body)
        if len(encoded) > MAX_ALERT_BYTES:
            body["data"] = {"truncated": True}
            encoded = _dump(body)
        while len(encoded) > MAX_ALERT_BYTES and len(body["message"]) > 1:
            body["message"] = body["message"][: len(body["message"]) // 2] + "…"
            encoded = _dump(body)
        return encoded


def new_alert_id(at: datetime, entropy: bytes) -> str:
    """A ULID: 48 bits of milliseconds then 80 bits of entropy, in Crockford base32, sortable."""
    if len(entropy) != 10:
        raise ValueError("a ULID needs 10 bytes of entropy")
    millis = int(at.timestamp() * 1000)
    number = (millis << 80) | int.from_bytes(entropy, "big")
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
