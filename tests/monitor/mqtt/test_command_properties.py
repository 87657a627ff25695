"""The command parser is total: any topic, any bytes, any depth, any number size -> a Command or
a CommandError with a documented code, never another exception (issue 11, case 3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.mqtt.commands import (
    ERROR_CODES,
    REPORT_KINDS,
    Command,
    CommandError,
    parse_command,
)

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
BASE = "recovery"
TOPICS = [f"{BASE}/p1/report/{kind}" for kind in REPORT_KINDS] + [f"{BASE}/p1/alert/ack"]
FIELDS = ["score", "symptom", "note", "kind", "minutes", "sets", "reps", "id", "at", "all"]

huge = st.integers(min_value=10**15, max_value=10**1800) | st.integers(
    min_value=-(10**1800), max_value=-(10**15)
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | huge
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def nested(depth: int, leaf: str = "1") -> str:
    """A JSON array nested `depth` deep around `leaf`."""
    return "[" * depth + leaf + "]" * depth


def deep_text(depth: int) -> str:
    return nested(depth)


payload_texts = (
    json_values.map(json.dumps)
    | st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, json_values)).map(json.dumps)
    | st.integers(1, 3000).map(deep_text)
    | st.tuples(st.sampled_from(FIELDS), st.integers(1, 3000)).map(
        lambda fd: json.dumps({fd[0]: 0}).replace("0", nested(fd[1]))
    )
    | st.tuples(st.sampled_from(FIELDS), st.integers(16, 1900)).map(
        lambda fd: f'{{"{fd[0]}": {"9" * fd[1]}}}'
    )
    | st.integers(16, 5000).map(lambda n: "7" * n)
)
payloads = st.binary(max_size=3000) | payload_texts.map(str.encode)


def outcome(topic: str, payload: bytes) -> Command | CommandError:
    """What the parser makes of a message; any other exception escapes (and fails the test)."""
    try:
        return parse_command(topic, payload, base=BASE, persons={"p1"}, now=NOW)
    except CommandError as error:
        return error


def check(topic: str, payload: bytes) -> None:
    result = outcome(topic, payload)
    if isinstance(result, CommandError):
        assert result.code in ERROR_CODES
        assert str(result)
    else:
        assert isinstance(result, Command)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(TOPICS), payload=payloads)
def test_every_command_topic_takes_any_payload_without_crashing(topic: str, payload: bytes) -> None:
    check(topic, payload)


@settings(max_examples=200, deadline=None)
@given(topic=st.text(max_size=60), payload=st.binary(max_size=64))
def test_any_topic_takes_any_payload_without_crashing(topic: str, payload: bytes) -> None:
    check(topic, payload)


def test_the_reported_cases() -> None:
    """A bare 400-digit number on pain and a 1000-deep array: refused, each with its code."""
    cases: list[tuple[str, Any, str]] = [
        (f"{BASE}/p1/report/pain", "1" * 400, "out_of_range"),
        (f"{BASE}/p1/report/pain", nested(1000), "invalid_json"),
    ]
    for topic, text, code in cases:
        result = outcome(topic, text.encode())
        assert isinstance(result, CommandError)
        assert result.code == code
