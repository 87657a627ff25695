"""The service's error types: one root, narrow subclasses, messages that say what to do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from devices.errors import MonitorError, ParseError

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "DamagedStoreError",
    "MonitorError",
    "ParseError",
    "StoreError",
]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file: where (a dotted key) and why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class ConfigError(MonitorError):
    """A config file that cannot be used; lists every problem found, each naming its key."""

    def __init__(self, source: str, problems: Sequence[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s) in the config:\n{lines}")


class StoreError(MonitorError):
    """The database cannot be used; the message says what to do about it."""


class DamagedStoreError(StoreError):
    """The database file is damaged: the service stops rather than write into it or loop."""
