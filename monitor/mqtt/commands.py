"""Commands that phones and Home Assistant send, validated; pure, no I/O.

Topics: `<base>/<pid>/report/<kind>` (symptom, pain, function, session, exercise, note) and
`<base>/<pid>/alert/ack`. Payloads are JSON objects, or a bare number for pain and function.
Every rejection carries a stable code (ERROR_CODES) and a human reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from monitor.errors import ParseError
from monitor.recovery.symptoms import SymptomKind

MAX_COMMAND_BYTES = 2048
MAX_NOTE_CHARS = 500
# A phone's clock may run a little ahead of ours; beyond this a report is "from the future".
FUTURE_SKEW = timedelta(minutes=5)
# Reports about the past are accepted up to this far back.
MAX_AGE = timedelta(days=7)

REPORT_KINDS = ("symptom", "pain", "function", "session", "exercise", "note")
SESSION_KINDS = ("manual", "device")
EXERCISE_KINDS = ("cat_cow", "pelvic_tilt", "bird_dog", "dead_bug")
# Answers to a command go only to a response topic under `<base>/<pid>/reply/`, so nobody can make
# the service publish where they could not publish themselves (a confused deputy).
REPLY_SEGMENT = "reply"
MAX_RESPONSE_TOPIC_CHARS = 200
# How much of a sender's own text an error message quotes back.
MAX_ECHO_CHARS = 40
_PERSON = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ALERT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
# Control characters other than tab and newline have no place in a note.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A lone UTF-16 surrogate ("\\ud800" in JSON) is no Unicode character: text holding one cannot be
# stored as UTF-8, nor sent on.
_SURROGATE = re.compile("[\ud800-\udfff]")

# Numbers beyond this are refused before any arithmetic (every range here is far smaller), so a
# 400-digit integer is `out_of_range`, not an OverflowError when compared with a float.
MAX_MAGNITUDE = 10**9


class ErrorCode(StrEnum):
    """Every code a rejection can carry: stable, for machines (docs/mqtt.md explains each)."""

    BAD_TOPIC = "bad_topic"
    UNKNOWN_PERSON = "unknown_person"
    BAD_RESPONSE_TOPIC = "bad_response_topic"
    TOO_LARGE = "too_large"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_FIELD = "unknown_field"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_SYMPTOM = "unknown_symptom"
    IN_FUTURE = "in_future"
    TOO_OLD = "too_old"
    UNKNOWN_ALERT = "unknown_alert"
    RATE_LIMITED = "rate_limited"
    RETAINED_COMMAND = "retained_command"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INTERNAL_ERROR = "internal_error"


ERROR_CODES = tuple(code.value for code in ErrorCode)


class CommandError(ParseError):
    """A command that was refused: `code` is stable for machines, the message is for people."""

    def __init__(self, code: ErrorCode | str, detail: str) -> None:
        super().__init__(detail)
        self.code = ErrorCode(code)
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sent:
    """What every command has: who it is about, when it happened, the sender's request id."""

    person: str
    at: datetime
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreReport(_Sent):
    """A pain or function score, 0-10."""

    kind: Literal["pain", "function"]
    score: float

    @property
    def fields(self) -> dict[str, Any]:
        """The report as stored."""
        return {"score": self.score}


@dataclass(frozen=True, slots=True, kw_only=True)
class SymptomReported(_Sent):
    """A warning symptom or red flag, with an optional note."""

    symptom: SymptomKind
    note: str | None = None
    kind: Literal["symptom"] = "symptom"

    @property
    def fields(self) -> dict[str, Any]:
        """The report as stored."""
        stored: dict[str, Any] = {"symptom": self.symptom.value}
        if self.note is not None:
            stored["note"] = self.note
        return stored


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionReport(_Sent):
    """A massage session: manual or with the device, how many minutes."""

    session: str  # one of SESSION_KINDS
    minutes: int
    kind: Literal["session"] = "session"

    @property
    def fields(self) -> dict[str, Any]:
        """The report as stored."""
        return {"kind": self.session, "minutes": self.minutes}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExerciseReport(_Sent):
    """An exercise done, with what of minutes, sets and repetitions was given."""

    exercise: str  # one of EXERCISE_KINDS
    minutes: int | None = None
    sets: int | None = None
    reps: int | None = None
    kind: Literal["exercise"] = "exercise"

    @property
    def fields(self) -> dict[str, Any]:
        """The report as stored."""
        given = {"minutes": self.minutes, "sets": self.sets, "reps": self.reps}
        return {"kind": self.exercise, **{k: v for k, v in given.items() if v is not None}}


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteReport(_Sent):
    """A free-text note."""

    note: str
    kind: Literal["note"] = "note"

    @property
    def fields(self) -> dict[str, Any]:
        """The report as stored."""
        return {"note": self.note}


@dataclass(frozen=True, slots=True, kw_only=True)
class AckAlert(_Sent):
    """One alert acknowledged, by its id."""

    alert_id: str
    kind: Literal["ack"] = "ack"

    @property
    def fields(self) -> dict[str, Any]:
        """The command's fields."""
        return {"alert": self.alert_id}


@dataclass(frozen=True, slots=True, kw_only=True)
class AckAll(_Sent):
    """Every alert waiting for it, up to the command's time, acknowledged."""

    kind: Literal["ack"] = "ack"

    @property
    def fields(self) -> dict[str, Any]:
        """The command's fields."""
        return {"all": True}


# A valid command: made only by `parse_command`, matched with `match`.
Report = ScoreReport | SymptomReported | SessionReport | ExerciseReport | NoteReport
Command = Report | AckAlert | AckAll


def command_subscriptions(base: str) -> list[str]:
    """The topic filters that commands arrive on."""
    return [f"{base}/+/report/+", f"{base}/+/alert/ack"]


def person_of(topic: str, base: str) -> str | None:
    """The person id a command topic names, if it names a well-formed one."""
    if not topic.startswith(base + "/"):
        return None
    candidate = topic[len(base) + 1 :].split("/", 1)[0]
    return candidate if _PERSON.match(candidate) else None


def error_topic(topic: str, base: str) -> str:
    """Where a refusal of a command on `topic` is published: its person's error topic."""
    person = person_of(topic, base)
    return f"{base}/{person}/error" if person else f"{base}/error"


def reply_prefix(base: str, person: str) -> str:
    """The topic prefix that a command's v5 response topic must start with."""
    return f"{base}/{person}/{REPLY_SEGMENT}/"


def reply_allowed(response_topic: str, base: str, person: str | None) -> bool:
    """Whether the service may publish its answer to a command on `response_topic`."""
    if person is None or len(response_topic) > MAX_RESPONSE_TOPIC_CHARS:
        return False
    prefix = reply_prefix(base, person)
    rest = response_topic[len(prefix) :]
    return (
        response_topic.startswith(prefix)
        and rest != ""
        and not any(c in rest for c in "+#\x00")
        and "//" not in rest
    )


def parse_command(
    topic: str,
    payload: bytes,
    *,
    base: str,
    persons: Collection[str],
    now: datetime,
    response_topic: str | None = None,
) -> Command:
    """Validate a command; CommandError says which rule it broke, whatever the payload holds.

    Total: no other exception escapes for any topic and payload (tests/monitor/mqtt/
    test_command_properties.py): nesting too deep for the parser is `invalid_json`.
    """
    try:
        return _parse(topic, payload, base, persons, now, response_topic)
    except RecursionError:
        raise CommandError("invalid_json", "payload is nested too deeply") from None


def _parse(
    topic: str,
    payload: bytes,
    base: str,
    persons: Collection[str],
    now: datetime,
    response_topic: str | None,
) -> Command:
    kind = _kind_of(topic, base)
    person = person_of(topic, base)
    if person is None:
        raise CommandError("bad_topic", f"{topic} is not a command topic")
    if person not in persons:
        raise CommandError("unknown_person", f"no person {person!r} is configured")
    if response_topic is not None and not reply_allowed(response_topic, base, person):
        raise CommandError(
            "bad_response_topic",
            f"the response topic must start with {reply_prefix(base, person)} (no wildcards)",
        )
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(
            "too_large", f"payload of {len(payload)} bytes exceeds {MAX_COMMAND_BYTES}"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError("invalid_utf8", f"payload is not UTF-8 ({exc.reason})") from exc
    body = _body(kind, text)
    request_id = _optional(body, "id", _request_id)
    at = _optional(body, "at", _moment) or now
    if at > now + FUTURE_SKEW:
        raise CommandError("in_future", f"'at' {at.isoformat()} is in the future")
    if at < now - MAX_AGE:
        raise CommandError("too_old", f"'at' {at.isoformat()} is more than 7 days ago")
    fields = _FIELDS[kind](body)
    unknown = sorted(set(body) - set(fields) - {"id", "at"})
    if unknown:
        raise CommandError("unknown_field", f"unknown field(s): {', '.join(unknown)}")
    return _typed(kind, fields, person=person, at=at, request_id=request_id)


def _typed(
    kind: str, fields: dict[str, Any], *, person: str, at: datetime, request_id: str | None
) -> Command:
    """The typed command for a kind's validated fields."""
    match kind:
        case "pain" | "function":
            return ScoreReport(
                kind=kind, score=fields["score"], person=person, at=at, request_id=request_id
            )
        case "symptom":
            symptom = SymptomKind(fields["symptom"])
            return SymptomReported(
                symptom=symptom,
                note=fields.get("note"),
                person=person,
                at=at,
                request_id=request_id,
            )
        case "session":
            return SessionReport(
                session=fields["kind"],
                minutes=fields["minutes"],
                person=person,
                at=at,
                request_id=request_id,
            )
        case "exercise":
            return ExerciseReport(
                exercise=fields["kind"],
                minutes=fields.get("minutes"),
                sets=fields.get("sets"),
                reps=fields.get("reps"),
                person=person,
                at=at,
                request_id=request_id,
            )
        case "note":
            return NoteReport(note=fields["note"], person=person, at=at, request_id=request_id)
        case _ if fields.get("all"):
            return AckAll(person=person, at=at, request_id=request_id)
        case _:
            return AckAlert(alert_id=fields["alert"], person=person, at=at, request_id=request_id)


def _kind_of(topic: str, base: str) -> str:
    parts = topic[len(base) + 1 :].split("/") if topic.startswith(base + "/") else []
    if len(parts) == 3 and parts[1] == "report" and parts[2] in REPORT_KINDS:
        return parts[2]
    if len(parts) == 3 and parts[1:] == ["alert", "ack"]:
        return "ack"
    raise CommandError("bad_topic", f"{topic} is not a command topic")


def _body(kind: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise CommandError("invalid_json", f"payload is not JSON: {exc}") from exc
    if kind in ("pain", "function") and isinstance(value, int | float):
        return {"score": value}
    if not isinstance(value, dict):
        raise CommandError("invalid_json", "payload must be a JSON object")
    _unicode_only(value)
    return value


def _unicode_only(value: Any) -> None:
    """Refuse (`invalid_field`) any text, key or value at any depth, that is not a sequence of
    Unicode scalar values; iterative, since the parser allows deep nesting."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise CommandError("invalid_field", "text holds a lone surrogate (not Unicode)")
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _score(body: dict[str, Any]) -> dict[str, Any]:
    return {"score": _number(body, "score", 0, 10, required=True)}


def _symptom(body: dict[str, Any]) -> dict[str, Any]:
    raw = _required(body, "symptom")
    try:
        kind = SymptomKind(raw)
    except ValueError:
        known = ", ".join(k.value for k in SymptomKind)
        raise CommandError(
            "unknown_symptom", f"{_echo(raw)} is not a symptom (known: {known})"
        ) from None
    fields: dict[str, Any] = {"symptom": kind.value}
    note = _optional(body, "note", _text)
    if note is not None:
        fields["note"] = note
    return fields


def _session(body: dict[str, Any]) -> dict[str, Any]:
    kind = _choice(body, "kind", SESSION_KINDS)
    return {
        "kind": kind,
        "minutes": int(_number(body, "minutes", 1, 600, required=True, whole=True)),
    }


def _exercise(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": _choice(body, "kind", EXERCISE_KINDS)}
    for name, high in (("minutes", 240), ("sets", 50), ("reps", 500)):
        if name in body:
            fields[name] = int(_number(body, name, 1, high, required=True, whole=True))
    return fields


def _note(body: dict[str, Any]) -> dict[str, Any]:
    note = _text(_required(body, "note"), "note")
    if not note.strip():
        raise CommandError("invalid_field", "'note' must not be empty")
    return {"note": note}


def _ack(body: dict[str, Any]) -> dict[str, Any]:
    if "all" in body:
        if "id" in body:
            raise CommandError("invalid_field", "give either 'id' or 'all', not both")
        if body["all"] is not True:
            raise CommandError("invalid_field", "'all' must be true")
        return {"all": True}
    alert_id = _required(body, "id")
    if not isinstance(alert_id, str) or not _ALERT_ID.match(alert_id):
        raise CommandError("invalid_field", "'id' must be an alert id (26 characters)")
    return {"alert": alert_id}


_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pain": _score,
    "function": _score,
    "symptom": _symptom,
    "session": _session,
    "exercise": _exercise,
    "note": _note,
    "ack": _ack,
}


def _required(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise CommandError("missing_field", f"'{name}' is required")
    return body[name]


def _optional(body: dict[str, Any], name: str, parse: Callable[[Any, str], Any]) -> Any:
    return parse(body[name], name) if name in body else None


def _number(
    body: dict[str, Any], name: str, low: float, high: float, *, required: bool, whole: bool = False
) -> float:
    value = _required(body, name) if required else body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError("invalid_field", f"'{name}' must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise CommandError("invalid_field", f"'{name}' must be a number")
    if abs(value) > MAX_MAGNITUDE:
        raise CommandError("out_of_range", f"'{name}' must be between {low:g} and {high:g}")
    if whole and value != int(value):
        raise CommandError("invalid_field", f"'{name}' must be a whole number")
    if not low <= value <= high:
        raise CommandError("out_of_range", f"'{name}' must be between {low:g} and {high:g}")
    return float(value) if not float(value).is_integer() else int(value)


def _choice(body: dict[str, Any], name: str, options: tuple[str, ...]) -> str:
    value = _required(body, name)
    if value not in options:
        raise CommandError("invalid_field", f"'{name}' must be one of {', '.join(options)}")
    return str(value)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise CommandError("invalid_field", f"'{name}' must be text")
    if len(value) > MAX_NOTE_CHARS:
        raise CommandError("too_large", f"'{name}' is longer than {MAX_NOTE_CHARS} characters")
    if _CONTROL.search(value):
        raise CommandError("invalid_field", f"'{name}' contains control characters")
    return value


def _request_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        raise CommandError("invalid_field", f"'{name}' must be 1-64 of A-Z a-z 0-9 . _ : -")
    return value


def _echo(value: Any) -> str:
    """A sender's value quoted back in an error, cut short."""
    text = repr(value) if isinstance(value, str | int | float | bool) else type(value).__name__
    if len(text) > 4 * MAX_ECHO_CHARS:
        text = text[: 4 * MAX_ECHO_CHARS]
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 1] + "…"


def _moment(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise CommandError("invalid_field", f"'{name}' must be an RFC 3339 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError("invalid_field", f"'{name}' is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise CommandError("invalid_field", f"'{name}' needs a UTC offset (e.g. Z or +01:00)")
    return moment
