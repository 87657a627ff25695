"""Ingest against a fake of the store tables it needs: group commits, unsaved minutes, settling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from devices.readings import CounterEpoch, LinkState, Reading, StepCount
from monitor.clock import SimulatedClock
from monitor.ingest.activity import DeviceMinute
from monitor.ingest.pipeline import Ingest, IngestStore
from monitor.store.rawlog import RawRow

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)


class FakeTables:
    """The raw log, minutes and processor state in memory; counts the commits of readings."""

    def __init__(self) -> None:
        self.rows: list[RawRow] = []
        self.commits: list[int] = []  # rows per append
        self.minutes: dict[tuple[str, str, int], DeviceMinute] = {}
        self.state: dict[str, Any] | None = None
        self.upto = 0
        self.saves = 0

    async def append_rows(self, rows: Sequence[RawRow]) -> int:
        first = len(self.rows) + 1
        self.rows.extend(rows)
        self.commits.append(len(rows))
        return first

    async def raw_after(self, raw_id: int, limit: int = 5000) -> list[tuple[int, RawRow]]:
        return [(i + 1, r) for i, r in enumerate(self.rows)][raw_id : raw_id + limit]

    async def processed_upto(self) -> int:
        return self.upto

    async def processor_state(self) -> dict[str, Any] | None:
        return self.state

    async def apply_activity(
        self, minutes: Iterable[DeviceMinute], state: dict[str, Any], upto: int
    ) -> None:
        for m in minutes:
            slot = (m.person, m.device, m.minute)
            self.minutes[slot] = m.plus(self.minutes[slot]) if slot in self.minutes else m
        self.state, self.upto = state, upto
        self.saves += 1

    async def clear_activity(self) -> None:
        self.minutes.clear()
        self.state, self.upto = None, 0

    async def device_minutes(self, person: str, start: int, end: int) -> list[DeviceMinute]:
        return sorted(
            (m for (p, _, n), m in self.minutes.items() if p == person and start <= n < end),
            key=lambda m: (m.minute, m.device),
        )


def _walk(count: int) -> list[Reading]:
    """A watch connecting, then counting 20 steps every 10 s."""
    out = [Reading("p1", "watch", T0, LinkState(True))]
    out += [
        Reading(
            "p1",
            "watch",
            T0 + timedelta(seconds=10 * i),
            StepCount(1000 + 20 * i, CounterEpoch.LOCAL_DAY),
        )
        for i in range(count)
    ]
    return out


async def test_readings_arriving_together_are_committed_together_and_settle_saves_them() -> None:
    tables = FakeTables()
    store: IngestStore = tables
    ingest = Ingest(store, LONDON, SimulatedClock(T0))
    worker = asyncio.create_task(ingest.run())
    try:
        for reading in _walk(30):
            ingest.put(reading)
        await ingest.settle()
        # One commit for the lot (the clock stands still: only settling let them through).
        assert tables.commits == [31]
        assert ingest.queued == 0
        assert tables.saves == 1
        assert sum(m.steps for m in tables.minutes.values()) == 20 * 29
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_minutes_not_yet_saved_are_read_with_the_saved_ones_once() -> None:
    tables = FakeTables()
    ingest = Ingest(tables, LONDON, SimulatedClock(T0))
    readings = _walk(30)
    await ingest._ingest(readings[:16])
    await ingest.save()
    await ingest._ingest(readings[16:])  # processed, not saved
    saved_only = sum(m.steps for m in await tables.device_minutes("p1", 0, 10**9))
    both = await ingest.device_minutes("p1", 0, 10**9)
    assert saved_only < 20 * 29
    assert sum(m.steps for m in both) == 20 * 29
    assert len({(m.minute, m.device) for m in both}) == len(both), "one row per minute"
    await ingest.save()
    assert await ingest.device_minutes("p1", 0, 10**9) == await tables.device_minutes(
        "p1", 0, 10**9
    )


async def test_a_reading_waits_at_most_the_commit_window_of_the_service_clock() -> None:
    tables = FakeTables()
    clock = SimulatedClock(T0)
    # A window no real wait reaches in a test, so only the service clock ends it here.
    ingest = Ingest(tables, LONDON, clock, commit_within_s=600.0)
    worker = asyncio.create_task(ingest.run())
    try:
        ingest.put(_walk(1)[0])
        for _ in range(20):
            await asyncio.sleep(0)
        assert tables.commits == [], "gathering"
        await clock.advance(600.0)
        async with asyncio.timeout(10):
            while not tables.commits:  # noqa: ASYNC110 - the worker commits in its own time
                await asyncio.sleep(0.001)
        assert tables.commits == [1]
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
