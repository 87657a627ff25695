"""The TOML config: loaded into frozen dataclasses and validated in full before anything starts.

Every problem is reported with its dotted key (`person[0].walking.cap_minutes`) and a reason;
all problems in a file are reported at once, not only the first.
"""

from __future__ import annotations

import hashlib
import ipaddress
import platform
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from devices.settings import DeviceConfig
from monitor.errors import ConfigError, ConfigProblem

# The plan cannot start within six weeks of back surgery (recovery-domain.md, precautions).
SURGERY_WAIT = timedelta(weeks=6)

# Conditions that need a physician's clearance before the plan may run (recovery-domain.md).
PRECAUTIONS = frozenset(
    {"disc_herniation_leg_symptoms", "severe_osteoporosis", "unexplained_weight_loss_or_fever"}
)

# Wearable profiles the device layer knows; devices/profiles keeps a registry with the same names.
PROFILES = frozenset({"infinitime", "thingy52", "rsc", "heart_rate", "polar_pmd"})


class PainType(StrEnum):
    """How long the pain has lasted when the plan starts."""

    ACUTE = "acute"
    SUBACUTE = "subacute"
    CHRONIC = "chronic"


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Where the service keeps its data and which local time its days follow."""

    database: Path
    timezone: ZoneInfo
    raw_motion_days: int = 3
    log_level: str = "info"


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """How to reach the broker and where to publish."""

    host: str = "localhost"
    port: int = 1883
    base_topic: str = "recovery"
    discovery_prefix: str = "homeassistant"
    client_id: str = "recovery-monitor"
    keepalive_s: int = 30
    username: str | None = None
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    allow_plaintext_credentials: bool = False


@dataclass(frozen=True, slots=True)
class WalkingPlan:
    """The walking progression: start, daily increase, cap (minutes)."""

    start_minutes: int = 5
    daily_increase_minutes: int = 2
    cap_minutes: int = 30


@dataclass(frozen=True, slots=True)
class WakingWindow:
    """The part of the local day in which the person is expected to be up and about."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Whether a local clock time falls in the window."""
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """When and where the rules speak up: thresholds, quiet hours, cooldown, escalation.

    Defaults come from recovery-domain.md where it gives a number; docs/rules.md lists each.
    """

    quiet_hours: tuple[time, time] | None = None  # None: outside waking_hours
    nudge_cooldown_minutes: int = 60
    long_sitting_minutes: int = 120
    offline_minutes: int = 60
    battery_low_percent: int = 15
    missed_days: int = 3
    missed_days_escalate: int = 5
    escalation_topic: str | None = None  # a full MQTT topic, also sent escalated alerts


@dataclass(frozen=True, slots=True)
class PersonConfig:
    """One person following a plan, and their wearables (possibly none: reports only)."""

    id: str
    pain_type: PainType
    plan_start: date
    waking_hours: WakingWindow = WakingWindow(time(8), time(21))
    checkpoints: tuple[time, ...] = (time(12), time(16), time(19))
    surgery_date: date | None = None
    precautions: tuple[str, ...] = ()
    clearance: bool = False
    walking: WalkingPlan = field(default_factory=WalkingPlan)
    devices: tuple[DeviceConfig, ...] = ()
    alerts: AlertSettings = field(default_factory=AlertSettings)


@dataclass(frozen=True, slots=True)
class Config:
    """A whole, validated config."""

    service: ServiceConfig
    mqtt: MqttConfig
    persons: tuple[PersonConfig, ...]

    def person(self, person_id: str) -> PersonConfig:
        """The person with this id; KeyError if there is none."""
        for person in self.persons:
            if person.id == person_id:
                return person
        raise KeyError(person_id)


def default_client_id(base_topic: str, database: Path) -> str:
    """The MQTT client id of an install that sets none: `recovery-monitor-` and 10 hex digits
    of SHA-256 over this machine's name, the database path and the base topic.

    Stable across restarts (the broker keeps our session under it), and different for two
    installs sharing a broker: one client id for both would have each take over the other's
    session on every connect.
    """
    install = f"{platform.node()}\0{database}\0{base_topic}"
    return f"recovery-monitor-{hashlib.sha256(install.encode()).hexdigest()[:10]}"


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine itself (traffic to it never crosses a network)."""
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plaintext_credentials_problem(mqtt: MqttConfig) -> str | None:
    """Why these settings would send a password in clear over a network, or None if they don't."""
    if mqtt.username is None or mqtt.tls or mqtt.allow_plaintext_credentials:
        return None
    if is_loopback(mqtt.host):
        return None
    return (
        f"the username and password would cross the network to {mqtt.host} unencrypted: set "
        "tls = true (with ca_file), or allow_plaintext_credentials = true if the network is "
        "trusted"
    )


def password_file_warning(path: Path) -> str | None:
    """The one-line warning when others may read the MQTT password file (None: 0600 or unreadable).

    Said by `run` (in the log) and by `check-config` (on stderr), the same words.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None  # a missing file is a config problem of its own
    if not mode & 0o077:
        return None
    return f"the MQTT password file {path} can be read by other users: run chmod 600 {path}"


def bundled_config(name: str) -> Path:
    """A config file shipped with recovery-monitor (`default.toml`, `demo.toml`)."""
    installed = Path(__file__).parent / "_config_files" / name
    if installed.is_file():
        return installed
    return Path(__file__).resolve().parents[1] / "config" / name


def load_config(path: Path) -> Config:
    """Read and validate a config file; ConfigError lists every problem, each with its key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("(file)", exc.strerror or str(exc))]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [ConfigProblem("(file)", "not UTF-8 text")]) from exc
    return parse_config(text, source=str(path), base_dir=path.parent)


def parse_config(text: str, *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate TOML text into a Config; relative file paths are taken from `base_dir`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigProblem("(syntax)", str(exc))]) from exc
    from monitor.config_reader import ConfigReader  # it builds this module's types

    reader = ConfigReader(base_dir or Path.cwd())
    config = reader.config(raw)
    if reader.problems or config is None:
        raise ConfigError(source, reader.problems)
    return config
