"""The person's own reports, typed: daily scores, symptoms, massage sessions and exercises.

Pure: built from stored reports (whatever their source: phone, Home Assistant, command line);
local days come from the time zone passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from monitor.days import local_date
from monitor.recovery.symptoms import SymptomKind


class ReportLike(Protocol):
    """What a stored report offers (monitor.store.database.StoredReport)."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SymptomReport:
    """One report of a warning symptom or red flag."""

    id: int
    kind: SymptomKind
    at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """One massage session the person reported."""

    day: date
    kind: str  # manual | device
    minutes: int


def daily_scores(reports: Iterable[ReportLike], kind: str, tz: ZoneInfo) -> dict[date, float]:
    """A score per local day (pain or function): the day's last report of that kind counts."""
    scores: dict[date, float] = {}
    for report in sorted(reports, key=lambda r: (r.at, r.id)):
        if report.kind == kind and isinstance(report.payload.get("score"), int | float):
            scores[local_date(report.at, tz)] = float(report.payload["score"])
    return scores


def symptom_reports(reports: Iterable[ReportLike]) -> list[SymptomReport]:
    """The symptom reports among `reports`, oldest first."""
    found: list[SymptomReport] = []
    for report in reports:
        if report.kind != "symptom":
            continue
        try:
            kind = SymptomKind(str(report.payload.get("symptom")))
        except ValueError:
            continue
        found.append(SymptomReport(report.id, kind, report.at))
    return sorted(found, key=lambda s: (s.at, s.id))


def sessions(reports: Iterable[ReportLike], tz: ZoneInfo) -> list[Session]:
    """The massage sessions among `reports`, oldest first."""
    return [
        Session(local_date(r.at, tz), str(r.payload.get("kind")), int(r.payload.get("minutes", 0)))
        for r in sorted(reports, key=lambda r: (r.at, r.id))
        if r.kind == "session"
    ]


def exercise_counts(reports: Iterable[ReportLike], tz: ZoneInfo) -> dict[date, dict[str, int]]:
    """How many times each exercise was reported on each local day."""
    counts: dict[date, dict[str, int]] = {}
    for report in reports:
        if report.kind != "exercise":
            continue
        day = counts.setdefault(local_date(report.at, tz), {})
        kind = str(report.payload.get("kind"))
        day[kind] = day.get(kind, 0) + 1
    return counts


def exercises_done(counts: Mapping[str, int], asked: Mapping[str, int]) -> int:
    """Exercise sessions that count towards a day's plan: each kind at most as often as asked."""
    return sum(min(counts.get(kind, 0), times) for kind, times in asked.items())
