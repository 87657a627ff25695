"""Command parsing: every kind accepted in its documented forms, every rule's refusal code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.mqtt.commands import (
    ERROR_CODES,
    MAX_COMMAND_BYTES,
    Command,
    CommandError,
    command_subscriptions,
    error_topic,
    parse_command,
    reply_allowed,
)

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
PERSONS = {"p1", "p2"}
ALERT_ID = "01JD5Z0000ABCDEFGHJKMNPQRS"


def parse(topic: str, payload: bytes | str, response_topic: str | None = None) -> Command:
    raw = payload.encode() if isinstance(payload, str) else payload
    return parse_command(
        f"recovery/{topic}",
        raw,
        base="recovery",
        persons=PERSONS,
        now=NOW,
        response_topic=response_topic,
    )


def refusal(topic: str, payload: bytes | str, response_topic: str | None = None) -> str:
    with pytest.raises(CommandError) as caught:
        parse(topic, payload, response_topic)
    assert caught.value.code in ERROR_CODES
    return caught.value.code


@pytest.mark.parametrize(
    ("topic", "payload", "fields"),
    [
        ("p1/report/pain", "4", {"score": 4}),
        ("p1/report/pain", "4.5", {"score": 4.5}),
        ("p1/report/pain", '{"score": 0}', {"score": 0}),
        ("p1/report/function", "10", {"score": 10}),
        ("p1/report/symptom", '{"symptom": "night_pain"}', {"symptom": "night_pain"}),
        (
            "p1/report/symptom",
            '{"symptom": "leg_weakness", "note": "after stairs"}',
            {"symptom": "leg_weakness", "note": "after stairs"},
        ),
        (
            "p1/report/session",
            '{"kind": "manual", "minutes": 12}',
            {"kind": "manual", "minutes": 12},
        ),
        (
            "p1/report/exercise",
            '{"kind": "bird_dog", "sets": 2, "reps": 10}',
            {"kind": "bird_dog", "sets": 2, "reps": 10},
        ),
        (
            "p1/report/note",
            '{"note": "slept badly\\nbetter now"}',
            {"note": "slept badly\nbetter now"},
        ),
        ("p1/alert/ack", json.dumps({"id": ALERT_ID}), {"alert": ALERT_ID}),
        ("p2/alert/ack", '{"all": true}', {"all": True}),
    ],
)
def test_valid_commands_are_parsed(topic: str, payload: str, fields: dict[str, object]) -> None:
    command = parse(topic, payload)
    assert command.fields == fields
    assert command.person == topic.split("/")[0]
    assert command.at == NOW


def test_at_and_request_id_are_taken_from_the_payload() -> None:
    at = NOW - timedelta(hours=3)
    command = parse("p1/report/pain", json.dumps({"score": 3, "at": at.isoformat(), "id": "a-1"}))
    assert command.at == at
    assert command.request_id == "a-1"


MALFORMED = [
    ("p1/report/pain", "{not json", "invalid_json"),
    ("p1/report/pain", "NaN", "invalid_json"),
    ("p1/report/pain", '"4"', "invalid_json"),
    ("p1/report/symptom", "[1, 2]", "invalid_json"),
    ("p1/report/pain", '{"score": "4"}', "invalid_field"),
    ("p1/report/pain", "true", "invalid_field"),
    ("p1/report/pain", '{"score": true}', "invalid_field"),
    ("p1/report/pain", "11", "out_of_range"),
    ("p1/report/function", "-1", "out_of_range"),
    ("p1/report/session", '{"kind": "manual", "minutes": 0}', "out_of_range"),
    ("p1/report/session", '{"kind": "manual", "minutes": 2.5}', "invalid_field"),
    ("p1/report/session", '{"kind": "jogging", "minutes": 5}', "invalid_field"),
    ("p1/report/session", '{"kind": "manual"}', "missing_field"),
    ("p1/report/symptom", '{"symptom": "headache"}', "unknown_symptom"),
    ("p1/report/symptom", '{"note": "no kind"}', "missing_field"),
    ("p1/report/symptom", '{"symptom": "night_pain", "note": "' + "x" * 501 + '"}', "too_large"),
    ("p1/report/note", '{"note": "bell\\u0007"}', "invalid_field"),
    ("p1/report/note", '{"note": "   "}', "invalid_field"),
    ("p1/report/pain", '{"score": 3, "mood": "ok"}', "unknown_field"),
    ("p1/report/pain", b'{"score": 3, "x": "' + b"y" * MAX_COMMAND_BYTES + b'"}', "too_large"),
    ("p1/report/pain", b"\xff\xfe4", "invalid_utf8"),
    ("p1/report/pain", '{"score": 3, "at": "2026-11-24T16:00:00+00:00"}', "in_future"),
    ("p1/report/pain", '{"score": 3, "at": "2026-11-01T10:00:00+00:00"}', "too_old"),
    ("p1/report/pain", '{"score": 3, "at": "2026-11-24T10:00:00"}', "invalid_field"),
    ("p1/report/pain", '{"score": 3, "at": "yesterday"}', "invalid_field"),
    ("p1/report/pain", '{"score": 3, "id": "has space"}', "invalid_field"),
    ("p9/report/pain", "3", "unknown_person"),
    ("P1/report/pain", "3", "bad_topic"),
    ("p1/report/mood", "3", "bad_topic"),
    ("p1/alert/ack", '{"id": "not-an-alert"}', "invalid_field"),
    ("p1/alert/ack", '{"all": false}', "invalid_field"),
    ("p1/alert/ack", json.dumps({"all": True, "id": ALERT_ID}), "invalid_field"),
]


@pytest.mark.parametrize(("topic", "payload", "code"), MALFORMED)
def test_malformed_commands_are_refused_with_their_code(
    topic: str, payload: str | bytes, code: str
) -> None:
    assert refusal(topic, payload) == code


def test_a_future_time_within_the_skew_is_accepted() -> None:
    soon = (NOW + timedelta(minutes=4)).isoformat()
    assert parse("p1/report/pain", json.dumps({"score": 1, "at": soon})).at > NOW


def test_an_unknown_symptom_is_quoted_back_short() -> None:
    with pytest.raises(CommandError) as caught:
        parse("p1/report/symptom", json.dumps({"symptom": "z" * 300}))
    assert len(caught.value.detail) < 300
    assert "night_pain" in caught.value.detail


@pytest.mark.parametrize(
    ("response_topic", "allowed"),
    [
        ("recovery/p1/reply/phone-1", True),
        ("recovery/p1/reply/a/b", True),
        ("recovery/p1/reply/", False),
        ("recovery/p2/reply/x", False),
        ("recovery/p1/state", False),
        ("homeassistant/device/recovery_p1/config", False),
        ("recovery/p1/reply/+", False),
        ("recovery/p1/reply/#", False),
        ("recovery/p1/reply/a//b", False),
        ("recovery/p1/reply/" + "x" * 300, False),
    ],
)
def test_answers_only_go_below_the_persons_reply_topic(response_topic: str, allowed: bool) -> None:
    assert reply_allowed(response_topic, "recovery", "p1") is allowed
    if allowed:
        parse("p1/report/pain", "3", response_topic)
    else:
        assert refusal("p1/report/pain", "3", response_topic) == "bad_response_topic"


def test_error_topics_and_subscriptions() -> None:
    assert error_topic("recovery/p1/report/pain", "recovery") == "recovery/p1/error"
    assert error_topic("recovery/P!/report/pain", "recovery") == "recovery/error"
    assert command_subscriptions("home/recovery") == [
        "home/recovery/+/report/+",
        "home/recovery/+/alert/ack",
    ]


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("p1/report/note", '{"note": "\\ud800"}'),  # the reported case
        ("p1/report/note", '{"note": "ok \\udfff then"}'),
        ("p1/report/symptom", '{"symptom": "night_pain", "note": "\\udc00"}'),
        ("p1/report/session", '{"kind": "manual", "minutes": 5, "note": "x\\ud83d"}'),
        ("p1/report/symptom", '{"symptom": "night_pain", "id": "\\ud800"}'),
        ("p1/report/note", '{"note": "fine", "\\ud800": 1}'),  # a key
        ("p1/report/note", '{"note": "fine", "x": [[{"y": "\\udbff"}]]}'),  # deep
    ],
)
def test_text_that_is_not_unicode_is_refused(topic: str, payload: str) -> None:
    assert refusal(topic, payload) == "invalid_field"


def test_a_surrogate_pair_is_one_character_and_accepted() -> None:
    command = parse("p1/report/note", '{"note": "\\ud83d\\ude00"}')
    assert command.fields["note"] == "\U0001f600"
