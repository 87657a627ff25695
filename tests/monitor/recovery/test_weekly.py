"""The weekly summary: walking against target, adherence, and the trend, in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from monitor.recovery.alerts import EventType, Severity
from monitor.recovery.weekly import is_week_end, weekly_summary

SUNDAY = date(2026, 11, 29)  # plan day 7 of a plan started on Monday 23 November


@dataclass(frozen=True)
class Day:
    day: date
    target_minutes: float
    walked_minutes: float


def week(walked: list[float], targets: list[float], last: date = SUNDAY) -> list[Day]:
    first = last - timedelta(days=len(walked) - 1)
    return [
        Day(first + timedelta(days=i), t, w)
        for i, (w, t) in enumerate(zip(walked, targets, strict=True))
    ]


def scores(values: list[float]) -> dict[date, float]:
    return {SUNDAY - timedelta(days=6 - i): v for i, v in enumerate(values)}


@pytest.mark.parametrize(
    ("plan_day", "end"),
    [(None, False), (0, False), (1, False), (6, False), (7, True), (8, False), (14, True)],
)
def test_a_plan_week_closes_every_seventh_plan_day(plan_day: int | None, end: bool) -> None:
    assert is_week_end(plan_day) is end


@pytest.mark.parametrize(
    ("days", "pain", "function", "words", "adherence"),
    [
        (
            week([5, 7, 9, 0, 11, 12, 13], [5, 7, 9, 11, 11, 11, 13]),
            scores([6, 6, 5, 5, 5, 4, 4]),
            scores([3, 3, 4, 5, 5, 6, 6]),
            "You walked 57 of 67 target minutes and met the target on 6 of 7 days (86%). "
            "Pain down from 5.7 to 4.3 over 7 days; function improving.",
            86,
        ),
        (
            week([0.4] * 7, [5] * 7),
            {},
            {},
            "You walked 3 of 35 target minutes and met the target on 0 of 7 days (0%). "
            "Not enough pain scores yet to show a trend; not enough function scores yet.",
            0,
        ),
        (
            # Days before the week (a longer history) do not count.
            week([30] * 10, [30] * 10),
            {},
            {},
            "You walked 210 of 210 target minutes and met the target on 7 of 7 days (100%). "
            "Not enough pain scores yet to show a trend; not enough function scores yet.",
            100,
        ),
        (
            [],
            {},
            {},
            "No walking day was recorded this week. Not enough pain scores yet to show a trend; "
            "not enough function scores yet.",
            None,
        ),
    ],
)
def test_the_summary_says_the_week_in_plain_words(
    days: list[Day],
    pain: dict[date, float],
    function: dict[date, float],
    words: str,
    adherence: int | None,
) -> None:
    draft = weekly_summary(SUNDAY, 7, days, pain, function)
    assert draft.event_type is EventType.WEEKLY_SUMMARY
    assert draft.event_type.value == "weekly_summary"
    assert draft.severity is Severity.INFO
    assert not draft.requires_ack
    assert draft.title == "Week 1 of the plan"
    assert draft.message == words
    assert draft.data["adherence_percent"] == adherence
    assert draft.key == "weekly_summary:2026-11-29"
    assert weekly_summary(SUNDAY + timedelta(days=7), 14, days, pain, function).key != draft.key
