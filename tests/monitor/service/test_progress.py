"""Progress against a fake of the store tables it reads: targets in one pass, same as day by day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import PainType, PersonConfig
from monitor.days import at_local, minute_of
from monitor.ingest.activity import DeviceMinute
from monitor.recovery.plan import target_met
from monitor.service.progress import Progress, ProgressStore
from monitor.store.days import DayResult
from monitor.store.reports import StoredReport

LONDON = ZoneInfo("Europe/London")
START = date(2026, 3, 20)  # the plan runs through the spring DST change
PERSON = PersonConfig("p1", PainType.ACUTE, START)


class FakeTables:
    """Minutes, judged days and reports in memory; counts the reads."""

    def __init__(self) -> None:
        self.minutes: list[DeviceMinute] = []
        self.results: list[DayResult] = []
        self.reports_: list[StoredReport] = []
        self.reads = 0

    async def device_minutes(self, person: str, start: int, end: int) -> list[DeviceMinute]:
        self.reads += 1
        return sorted(
            (m for m in self.minutes if m.person == person and start <= m.minute < end),
            key=lambda m: m.minute,
        )

    async def day_results(self, person: str, since: date | None = None) -> list[DayResult]:
        self.reads += 1
        return [r for r in self.results if r.person == person and r.day >= (since or date.min)]

    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]:
        self.reads += 1
        wanted = set(kinds)
        return [
            r
            for r in self.reports_
            if r.person == person and r.kind in wanted and since <= r.at < until
        ]


def _walked(tables: FakeTables, day: date, minutes: int) -> None:
    first = minute_of(at_local(day, time(10), LONDON))
    tables.minutes += [DeviceMinute("p1", "watch", first + i, steps=100) for i in range(minutes)]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.booleans(), st.booleans()), min_size=1, max_size=40)
)
async def test_targets_for_a_range_in_one_pass_are_those_asked_day_by_day(
    days: list[tuple[int, bool, bool]],
) -> None:
    """Each day: minutes walked, whether the scheduler recorded it, whether a symptom came."""
    tables = FakeTables()
    for number, (walked, recorded, symptom) in enumerate(days):
        day = START + timedelta(days=number)
        if recorded:
            tables.results.append(DayResult("p1", day, 0.0, float(walked), 0, 0, False))
        else:
            _walked(tables, day, walked)
        if symptom:
            at = at_local(day, time(11), LONDON)
            tables.reports_.append(StoredReport(number, "p1", "symptom", at, {}))
    store: ProgressStore = tables
    last = START + timedelta(days=len(days))
    tables.reads = 0
    ranged = await Progress(store, LONDON).walking_targets(PERSON, START, last)
    assert tables.reads <= 3, "a constant number of reads"
    one_by_one = Progress(store, LONDON)
    for day, target in ranged.items():
        assert target == await one_by_one.walking_target(PERSON, day)
    assert set(ranged) == {START + timedelta(days=i) for i in range(len(days) + 1)}


async def test_day_activities_in_one_read_match_each_day_read_alone() -> None:
    tables = FakeTables()
    for number in range(10):
        _walked(tables, START + timedelta(days=number), 3 + number)
    progress = Progress(tables, LONDON)
    spans = [(START + timedelta(days=i), datetime(2100, 1, 1, tzinfo=UTC)) for i in range(10)]
    tables.reads = 0
    together = await progress.day_activities(PERSON, spans)
    assert tables.reads == 1
    for day, _ in spans:
        assert together[day] == await progress.day_activity(PERSON, day)


@pytest.mark.parametrize(
    ("walked", "target", "met"),
    [(5.0, 5.0, True), (4.99, 5.0, False), (12.0, 5.0, True), (0.0, 0.0, True), (0.0, 5.0, False)],
)
def test_a_day_meets_its_target_when_it_walked_at_least_the_target(
    walked: float, target: float, met: bool
) -> None:
    assert target_met(walked, target) is met
