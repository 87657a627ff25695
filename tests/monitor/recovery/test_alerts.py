"""Alert identity and payload: sortable ULIDs, a bounded payload that is still valid JSON."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from monitor.recovery.alerts import (
    MAX_ALERT_BYTES,
    Alert,
    AlertDraft,
    EventType,
    Severity,
    new_alert_id,
)

T0 = datetime(2026, 11, 24, 16, tzinfo=UTC)


def test_alert_ids_are_26_crockford_characters_sorting_by_time() -> None:
    ids = [new_alert_id(T0 + timedelta(milliseconds=n), os.urandom(10)) for n in range(50)]
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)
    assert ids == sorted(ids)
    with pytest.raises(ValueError, match="10 bytes"):
        new_alert_id(T0, b"short")


def test_the_payload_carries_the_contract_fields() -> None:
    draft = AlertDraft(EventType.TARGET_MET, Severity.INFO, 1, "Done", "Well done.", key="k")
    body = json.loads(Alert("01ABC", "p1", T0, draft).payload())
    assert body == {
        "id": "01ABC",
        "event_type": "target_met",
        "severity": "info",
        "priority": 1,
        "title": "Done",
        "message": "Well done.",
        "created_at": "2026-11-24T16:00:00+00:00",
        "person": "p1",
        "requires_ack": False,
        "data": {},
        "schema": 1,
    }


def test_an_oversized_alert_is_cut_down_to_the_limit_and_stays_json() -> None:
    draft = AlertDraft(
        EventType.WARNING_SYMPTOM,
        Severity.CRITICAL,
        5,
        "Stop",
        "ü" * 10_000,
        key="k",
        data={"note": "x" * 10_000},
    )
    payload = Alert("01ABC", "p1", T0, draft).payload()
    assert len(payload) <= MAX_ALERT_BYTES
    body = json.loads(payload)
    assert body["data"] == {"truncated": True}
    assert body["event_type"] == "warning_symptom"
