"""Reading the parsed TOML into `monitor.config` types, collecting every problem with its key."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.settings import DeviceConfig
from monitor.config import (
    PRECAUTIONS,
    PROFILES,
    SURGERY_WAIT,
    AlertSettings,
    Config,
    MqttConfig,
    PainType,
    PersonConfig,
    ServiceConfig,
    WakingWindow,
    WalkingPlan,
    default_client_id,
    plaintext_credentials_problem,
)
from monitor.errors import ConfigProblem

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
_TOPIC_SEGMENT = re.compile(r"^[^/+#\x00]+(/[^/+#\x00]+)*$")
# The base topic is also never a system topic ('$'), nor holds control characters, which a
# broker's ACL and a person reading the log would see differently.
_BASE_TOPIC_FORBIDDEN = re.compile(r"[$\x00-\x1f\x7f]")


T = TypeVar("T")


class _Missing:
    pass


_MISSING = _Missing()


class ConfigReader:
    """Walks the parsed TOML, collecting problems instead of stopping at the first."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[ConfigProblem] = []
        self._path: list[str] = []

    # -- plumbing -------------------------------------------------------------------------

    def _key(self, name: str | None = None) -> str:
        parts = [*self._path, name] if name else self._path
        return ".".join(parts).replace(".[", "[") or "(top level)"

    def problem(self, name: str | None, reason: str) -> None:
        self.problems.append(ConfigProblem(self._key(name), reason))

    @contextmanager
    def within(self, name: str) -> Iterator[None]:
        self._path.append(name)
        try:
            yield
        finally:
            self._path.pop()

    def table(self, raw: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
        for unknown in sorted(set(raw) - allowed):
            self.problem(unknown, f"unknown key (allowed here: {', '.join(sorted(allowed))})")
        return raw

    def get(
        self, raw: dict[str, Any], name: str, kind: type[T] | tuple[type, ...], default: Any
    ) -> Any:
        value = raw.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                self.problem(name, "is required")
            return None if default is _MISSING else default
        # TOML booleans are ints to Python; never accept one for the other.
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.problem(name, f"must be {wanted}, not {_describe(value)}")
            return None if default is _MISSING else default
        return value

    def subtable(self, raw: dict[str, Any], name: str) -> dict[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            self.problem(name, f"must be a table, not {_describe(value)}")
            return {}
        return value

    def int_in(
        self, raw: dict[str, Any], name: str, default: int | _Missing, low: int, high: int
    ) -> int:
        value = self.get(raw, name, int, default)
        if value is None:
            return low
        if not low <= value <= high:
            self.problem(name, f"must be between {low} and {high}, not {value}")
        return int(value)

    def clock_time(self, raw: dict[str, Any], name: str, text: str) -> time | None:
        match = _CLOCK_TIME.match(text)
        if not match:
            self.problem(name, f"{text!r} is not a time of day as HH:MM (00:00-23:59)")
            return None
        return time(int(match[1]), int(match[2]))

    def path(self, raw: dict[str, Any], name: str, *, must_exist: bool) -> Path | None:
        value = self.get(raw, name, str, None)
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        if must_exist and not path.is_file():
            self.problem(name, f"no readable file at {path}")
        return path

    def a_date(self, raw: dict[str, Any], name: str, *, required: bool) -> date | None:
        value = raw.get(name, _MISSING)
        if value is _MISSING:
            if required:
                self.problem(name, "is required (a date such as 2026-11-20)")
            return None
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.problem(name, f"must be a date such as 2026-11-20, not {_describe(value)}")
        return None

    # -- sections ---------------------------------------------------------------------------

    def config(self, raw: dict[str, Any]) -> Config | None:
        self.table(raw, {"service", "mqtt", "person"})
        with self.within("service"):
            service = self.service(self.subtable(raw, "service"))
        with self.within("mqtt"):
            mqtt = self.mqtt(self.subtable(raw, "mqtt"))
        persons = self.persons(raw.get("person", []))
        if service is None or mqtt is None:
            return None
        given = raw.get("mqtt")
        if not (isinstance(given, dict) and "client_id" in given):
            mqtt = replace(mqtt, client_id=default_client_id(mqtt.base_topic, service.database))
        return Config(service=service, mqtt=mqtt, persons=persons)

    def service(self, raw: dict[str, Any]) -> ServiceConfig | None:
        self.table(raw, {"database", "timezone", "raw_motion_days", "log_level"})
        database = self.path(raw, "database", must_exist=False)
        if database is None and "database" not in raw:
            database = Path("~/.local/share/recovery-monitor/monitor.db").expanduser()
        tz_name = self.get(raw, "timezone", str, "UTC")
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem("timezone", f"{tz_name!r} is not an IANA time zone (e.g. Europe/London)")
            timezone = ZoneInfo("UTC")
        raw_days = self.int_in(raw, "raw_motion_days", 3, 0, 365)
        log_level = self.get(raw, "log_level", str, "info")
        if log_level not in {"debug", "info", "warning", "error"}:
            self.problem("log_level", "must be one of debug, info, warning, error")
        if database is None:
            return None
        problem = _database_path_problem(database)
        if problem is not None:
            self.problem("database", problem)
        return ServiceConfig(database, timezone, raw_days, log_level)

    def mqtt(self, raw: dict[str, Any]) -> MqttConfig | None:
        fields = {
            "host", "port", "base_topic", "discovery_prefix", "client_id", "keepalive",
            "username", "password_file", "tls", "ca_file", "cert_file", "key_file",
            "allow_plaintext_credentials",
        }  # fmt: skip
        self.table(raw, fields)
        host = self.get(raw, "host", str, "localhost")
        port = self.int_in(raw, "port", 1883, 1, 65535)
        base = self.get(raw, "base_topic", str, "recovery")
        if not _TOPIC_SEGMENT.match(base) or _BASE_TOPIC_FORBIDDEN.search(base):
            self.problem(
                "base_topic",
                "must be a topic without wildcards (+ #), '$', control characters, "
                "or leading/trailing '/'",
            )
        prefix = self.get(raw, "discovery_prefix", str, "homeassistant")
        if prefix and not _TOPIC_SEGMENT.match(prefix):
            self.problem("discovery_prefix", 'must be a topic without wildcards, or "" for none')
        # Unset: a default of this install's own, filled in by `config` (it needs the database).
        client_id = self.get(raw, "client_id", str, "recovery-monitor")
        keepalive = self.int_in(raw, "keepalive", 30, 5, 3600)
        username = self.get(raw, "username", str, None)
        password_file = self.path(raw, "password_file", must_exist=True)
        if password_file is not None and username is None:
            self.problem("password_file", "is set but username is not")
        if password_file is not None and password_file.is_file() and not _first_line(password_file):
            self.problem("password_file", f"{password_file} is empty: put the password on line 1")
        tls = self.get(raw, "tls", bool, False)
        ca_file = self.path(raw, "ca_file", must_exist=True)
        cert_file = self.path(raw, "cert_file", must_exist=True)
        key_file = self.path(raw, "key_file", must_exist=True)
        if (cert_file is None) != (key_file is None):
            self.problem("cert_file", "cert_file and key_file go together: set both or neither")
        if (ca_file or cert_file) and not tls:
            self.problem("tls", "must be true when ca_file, cert_file or key_file is set")
        allow_plain = self.get(raw, "allow_plaintext_credentials", bool, False)
        mqtt = MqttConfig(
            host=host, port=port, base_topic=base, discovery_prefix=prefix, client_id=client_id,
            keepalive_s=keepalive, username=username, password_file=password_file, tls=tls,
            ca_file=ca_file, cert_file=cert_file, key_file=key_file,
            allow_plaintext_credentials=allow_plain,
        )  # fmt: skip
        problem = plaintext_credentials_problem(mqtt)
        if problem is not None:
            self.problem("tls", problem)
        return mqtt

    def persons(self, raw: Any) -> tuple[PersonConfig, ...]:
        if not isinstance(raw, list):
            self.problem("person", "must be an array of tables ([[person]])")
            return ()
        persons: list[PersonConfig] = []
        seen: set[str] = set()
        addresses: set[str] = set()
        for index, entry in enumerate(raw):
            with self.within(f"person[{index}]"):
                if not isinstance(entry, dict):
                    self.problem(None, "must be a table")
                    continue
                person = self.person(entry, addresses)
            if person is None:
                continue
            if person.id in seen:
                self.problems.append(
                    ConfigProblem(f"person[{index}].id", f"{person.id!r} is used twice")
                )
            seen.add(person.id)
            persons.append(person)
        return tuple(persons)

    def person(self, raw: dict[str, Any], addresses: set[str]) -> PersonConfig | None:
        allowed = {
            "id", "pain_type", "plan_start", "surgery_date", "precautions", "clearance",
            "waking_hours", "checkpoints", "walking", "device", "alerts",
        }  # fmt: skip
        self.table(raw, allowed)
        person_id = self.get(raw, "id", str, _MISSING)
        if person_id is not None and not _ID.match(person_id):
            self.problem("id", "must be 1-32 of a-z, 0-9, _ and -, starting with a letter or digit")
        pain = self.get(raw, "pain_type", str, _MISSING)
        pain_type = None
        if pain is not None:
            try:
                pain_type = PainType(pain)
            except ValueError:
                self.problem("pain_type", f"{pain!r} is not one of acute, subacute, chronic")
        plan_start = self.a_date(raw, "plan_start", required=True)
        surgery = self.a_date(raw, "surgery_date", required=False)
        if surgery and plan_start and plan_start < surgery + SURGERY_WAIT:
            earliest = surgery + SURGERY_WAIT
            self.problem(
                "plan_start",
                f"{plan_start} is within 6 weeks of surgery on {surgery}: the plan can start "
                f"on {earliest} at the earliest",
            )
        precautions = self.precautions(raw)
        clearance = self.get(raw, "clearance", bool, False)
        if precautions and not clearance:
            self.problem(
                "precautions",
                f"{', '.join(precautions)} need a physician's clearance before the plan may run; "
                "set clearance = true once a physician has cleared it",
            )
        waking = self.waking(raw)
        checkpoints = self.checkpoints(raw, waking)
        with self.within("walking"):
            walking = self.walking(self.subtable(raw, "walking"))
        devices = self.devices(raw.get("device", []), addresses)
        with self.within("alerts"):
            alerts = self.alert_settings(self.subtable(raw, "alerts"))
        if person_id is None or pain_type is None or plan_start is None or waking is None:
            return None
        return PersonConfig(
            id=person_id, pain_type=pain_type, plan_start=plan_start, waking_hours=waking,
            checkpoints=checkpoints, surgery_date=surgery, precautions=precautions,
            clearance=clearance, walking=walking, devices=devices, alerts=alerts,
        )  # fmt: skip

    def precautions(self, raw: dict[str, Any]) -> tuple[str, ...]:
        value = self.get(raw, "precautions", list, [])
        found: list[str] = []
        for item in value:
            if not isinstance(item, str) or item not in PRECAUTIONS:
                known = ", ".join(sorted(PRECAUTIONS))
                self.problem("precautions", f"{item!r} is not a known precaution ({known})")
            else:
                found.append(item)
        return tuple(found)

    def waking(self, raw: dict[str, Any]) -> WakingWindow | None:
        text = self.get(raw, "waking_hours", str, "08:00-21:00")
        start_text, sep, end_text = text.partition("-")
        if not sep:
            self.problem("waking_hours", f"{text!r} is not a range such as 08:00-21:00")
            return None
        start = self.clock_time(raw, "waking_hours", start_text.strip())
        end = self.clock_time(raw, "waking_hours", end_text.strip())
        if start is None or end is None:
            return None
        if start >= end:
            self.problem(
                "waking_hours",
                "must start before it ends on the same day (a window across midnight is not "
                "supported)",
            )
            return None
        return WakingWindow(start, end)

    def checkpoints(self, raw: dict[str, Any], waking: WakingWindow | None) -> tuple[time, ...]:
        value = self.get(raw, "checkpoints", list, ["12:00", "16:00", "19:00"])
        times: list[time] = []
        for item in value:
            if not isinstance(item, str):
                self.problem("checkpoints", f"{_describe(item)} is not a time such as 12:00")
                continue
            moment = self.clock_time(raw, "checkpoints", item)
            if moment is None:
                continue
            if waking is not None and not waking.contains(moment):
                self.problem("checkpoints", f"{item} lies outside waking_hours")
            times.append(moment)
        if len(set(times)) != len(times):
            self.problem("checkpoints", "has the same time twice")
        return tuple(sorted(set(times)))

    def walking(self, raw: dict[str, Any]) -> WalkingPlan:
        self.table(raw, {"start_minutes", "daily_increase_minutes", "cap_minutes"})
        start = self.int_in(raw, "start_minutes", 5, 1, 240)
        increase = self.int_in(raw, "daily_increase_minutes", 2, 0, 60)
        cap = self.int_in(raw, "cap_minutes", 30, 1, 240)
        if cap < start:
            self.problem("cap_minutes", f"({cap}) must not be below start_minutes ({start})")
        return WalkingPlan(start, increase, cap)

    def alert_settings(self, raw: dict[str, Any]) -> AlertSettings:
        self.table(
            raw,
            {
                "quiet_hours", "nudge_cooldown_minutes", "long_sitting_minutes", "offline_minutes",
                "battery_low_percent", "missed_days", "missed_days_escalate", "escalation_topic",
            },
        )  # fmt: skip
        quiet = None
        if "quiet_hours" in raw:
            text = self.get(raw, "quiet_hours", str, "")
            start_text, sep, end_text = text.partition("-")
            start = self.clock_time(raw, "quiet_hours", start_text.strip()) if sep else None
            end = self.clock_time(raw, "quiet_hours", end_text.strip()) if sep else None
            if not sep:
                self.problem("quiet_hours", f"{text!r} is not a range such as 21:30-07:30")
            elif start is not None and end is not None:
                if start == end:
                    self.problem("quiet_hours", "must not start and end at the same time")
                quiet = (start, end)
        cooldown = self.int_in(raw, "nudge_cooldown_minutes", 60, 0, 1440)
        sitting = self.int_in(raw, "long_sitting_minutes", 120, 15, 720)
        offline = self.int_in(raw, "offline_minutes", 60, 5, 1440)
        battery = self.int_in(raw, "battery_low_percent", 15, 0, 99)
        missed = self.int_in(raw, "missed_days", 3, 2, 60)
        escalate = self.int_in(raw, "missed_days_escalate", 5, 2, 90)
        if escalate < missed:
            self.problem(
                "missed_days_escalate", f"({escalate}) must not be below missed_days ({missed})"
            )
        topic = self.get(raw, "escalation_topic", str, None)
        if topic is not None and (not _TOPIC_SEGMENT.match(topic) or topic.startswith("$")):
            self.problem(
                "escalation_topic",
                f"{topic!r} must be a full MQTT topic without wildcards, leading '/' or '$'",
            )
        return AlertSettings(
            quiet_hours=quiet, nudge_cooldown_minutes=cooldown, long_sitting_minutes=sitting,
            offline_minutes=offline, battery_low_percent=battery, missed_days=missed,
            missed_days_escalate=escalate, escalation_topic=topic,
        )  # fmt: skip

    def devices(self, raw: Any, addresses: set[str]) -> tuple[DeviceConfig, ...]:
        if not isinstance(raw, list):
            self.problem("device", "must be an array of tables ([[person.device]])")
            return ()
        devices: list[DeviceConfig] = []
        for index, entry in enumerate(raw):
            with self.within(f"device[{index}]"):
                if not isinstance(entry, dict):
                    self.problem(None, "must be a table")
                    continue
                device = self.device(entry, index, addresses)
            if device is not None:
                devices.append(device)
        ids = [d.id for d in devices]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            self.problem("device", f"id {duplicate!r} is used twice; give each wearable an id")
        return tuple(devices)

    def device(self, raw: dict[str, Any], index: int, addresses: set[str]) -> DeviceConfig | None:
        self.table(raw, {"id", "profile", "address", "name", "motion_rate_hz"})
        profile = self.get(raw, "profile", str, _MISSING)
        if profile is not None and profile not in PROFILES:
            self.problem("profile", f"{profile!r} is not one of {', '.join(sorted(PROFILES))}")
            profile = None
        address = self.get(raw, "address", str, None)
        name = self.get(raw, "name", str, None)
        if address is None and name is None:
            self.problem(None, "needs an address (AA:BB:CC:DD:EE:FF) or a name to find it by")
        if address is not None:
            if not _ADDRESS.match(address):
                self.problem("address", f"{address!r} is not a Bluetooth address AA:BB:CC:DD:EE:FF")
            elif address.upper() in addresses:
                self.problem("address", f"{address} is configured twice")
            addresses.add(address.upper())
        rate = raw.get("motion_rate_hz")
        if rate is not None:
            rate = self.int_in(raw, "motion_rate_hz", _MISSING, 5, 200)
        device_id = self.get(raw, "id", str, f"{profile or 'device'}-{index + 1}")
        if not _ID.match(device_id):
            self.problem("id", "must be 1-32 of a-z, 0-9, _ and -")
        if profile is None:
            return None
        return DeviceConfig(device_id, profile, address.upper() if address else None, name, rate)


_TYPE_NAMES = {str: "text", int: "a whole number", bool: "true or false", list: "a list"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _first_line(path: Path) -> str:
    """The first line of a small text file, or "" if it has none (or cannot be read)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return "-"  # unreadable: reported where it is read, with the reason
    return lines[0] if lines else ""


def _database_path_problem(path: Path) -> str | None:
    """Why the service could not create or open a database at `path`, when that shows already.

    Its folder, if there, must be writable: the database, its -wal and -shm files and its .lock
    are created there (monitor.store.connection). A folder not there yet is created by `run`
    (perhaps as another user, so only a file in its way is a problem now); one that cannot be
    (under /proc, say) shows only when `run` tries.
    """
    if path.is_dir():
        return f"{path} is a folder: name a file in it, e.g. {path / 'monitor.db'}"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder: {path} cannot be created under it"
    if folder == path.parent and not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"the folder {folder} is not writable by this user: the database cannot be made there"
        )
    return None
