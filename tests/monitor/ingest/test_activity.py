"""Per-minute activity: walking minutes from counters, two wearables on one person, rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.readings import Battery, CounterEpoch, LinkState, Motion, Reading, StepCount
from monitor.clock import SimulatedClock
from monitor.days import day_bounds, minute_of
from monitor.ingest.activity import (
    ActivityProcessor,
    DeviceMinute,
    PersonMinute,
    combine,
    totals,
    walking_seconds,
)
from monitor.ingest.pipeline import Ingest
from monitor.store.database import Store
from simulators.motion import Activity, Placement, Sampling, Segment, simulate

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)
M0 = minute_of(T0)


def minutes(*counted: int) -> list[PersonMinute]:
    return [PersonMinute(M0 + i, n, n, 0.0, n > 0) for i, n in enumerate(counted)]


@pytest.mark.parametrize(
    ("counted", "walked_minutes"),
    [
        ((100, 100, 100), 3.0),  # a steady walk
        ((40, 100, 100, 100, 100, 100, 100, 60), 7.0),  # 7 minutes, started and ended mid-minute
        ((61, 100, 39), 2.0),  # a 2-minute walk whose first part-minute passes 60 steps
        ((30, 70, 70, 70, 40), 4.0),  # a slow walker: 280 steps at 70 steps/minute
        ((20, 0, 15, 0, 30), 0.0),  # pottering about: no walking
        ((10, 100, 100), 2.0),  # a few steps well below the walk's cadence are not walking
        ((59,), 0.0),
        ((60,), 1.0),
    ],
)
def test_walking_minutes_from_counted_steps(
    counted: tuple[int, ...], walked_minutes: float
) -> None:
    assert sum(walking_seconds(minutes(*counted))) / 60 == pytest.approx(walked_minutes, abs=0.01)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 200), max_size=30))
def test_walking_is_never_more_than_a_minute_a_minute(counted: list[int]) -> None:
    seconds = walking_seconds(minutes(*counted))
    assert all(0.0 <= s <= 60.0 for s in seconds)
    assert all(s == 0 for s, n in zip(seconds, counted, strict=True) if n == 0)


def test_two_wearables_on_one_person_are_not_added_together() -> None:
    watch = [
        DeviceMinute("p1", "watch", M0, steps=100),
        DeviceMinute("p1", "watch", M0 + 1, steps=80),
    ]
    band = [DeviceMinute("p1", "band", M0, steps=95), DeviceMinute("p1", "band", M0 + 2, steps=50)]
    combined = combine(watch + band)
    assert [(m.minute - M0, m.steps) for m in combined] == [(0, 100), (1, 80), (2, 50)]
    day = totals(combined, T0, T0 + timedelta(hours=1))
    assert day.steps == 230
    assert day.movement_minutes == 3


def test_inferred_gap_walking_counts_without_counted_steps() -> None:
    gap = [
        DeviceMinute("p1", "watch", M0 + i, inferred_steps=66, inferred_walking_s=40.0)
        for i in range(30)
    ]
    day = totals(combine(gap), T0, T0 + timedelta(hours=1))
    assert day.steps == 66 * 30
    assert day.walking_minutes == pytest.approx(20.0)


def test_device_status_follows_link_and_battery_readings() -> None:
    processor = ActivityProcessor(LONDON)
    assert processor.status("p1", "watch").connected is False
    done = processor.process(readings_of_a_morning()[:2])
    status = processor.status("p1", "watch")
    assert (status.connected, status.battery, status.last_seen) == (True, 90, T0)
    assert done.status_changed == {("p1", "watch")}
    saved = ActivityProcessor(LONDON, processor.to_json())
    assert saved.status("p1", "watch") == status


def test_a_setup_problem_shows_on_the_device_status_until_readings_flow() -> None:
    # Issue 13: a failure that is not the radio's comes as LinkState(problem=what to do).
    processor = ActivityProcessor(LONDON)
    problem = "setting the wearable up failed: ...; this is not a radio problem: ..."
    down = Reading("p1", "watch", T0, LinkState(False, "ValueError: x", problem=problem))
    done = processor.process([down])
    assert processor.status("p1", "watch").problem == problem
    assert done.status_changed == {("p1", "watch")}
    up = Reading("p1", "watch", T0 + timedelta(hours=1), LinkState(True, "connected"))
    steps = Reading("p1", "watch", T0 + timedelta(hours=1), StepCount(10, CounterEpoch.LOCAL_DAY))
    assert processor.status("p1", "watch").problem == problem
    done = processor.process([up, steps])
    assert processor.status("p1", "watch").problem is None
    assert done.status_changed == {("p1", "watch")}


def readings_of_a_morning() -> list[Reading]:
    """A watch that connects, counts a walk, drops out of range, comes back, and reboots."""
    out: list[Reading] = []

    def add(minutes_in: float, value: object) -> None:
        at = T0 + timedelta(minutes=minutes_in)
        out.append(Reading("p1", "watch", at, value))  # type: ignore[arg-type]

    add(0, LinkState(True))
    add(0, Battery(90))
    total = 3000
    add(0, StepCount(total, CounterEpoch.LOCAL_DAY))
    for minute in range(1, 11):  # a ten-minute walk, notified every 10 s
        for tick in range(1, 7):
            total += 17
            add(minute - 1 + tick / 6, StepCount(total, CounterEpoch.LOCAL_DAY))
    add(11, LinkState(False, "out of range"))
    add(40, LinkState(True))
    add(40, StepCount(total + 2000, CounterEpoch.LOCAL_DAY))
    add(50, LinkState(False, "reboot"))
    add(50.2, LinkState(True))
    add(50.2, StepCount(12, CounterEpoch.LOCAL_DAY))
    return out


async def test_rebuilding_from_the_raw_log_gives_identical_minutes(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    async with Store.open(tmp_path / "monitor.db") as store:
        ingest = Ingest(store, LONDON, clock)
        # In several batches, as they would arrive.
        readings = readings_of_a_morning()
        for start in range(0, len(readings), 7):
            await ingest._ingest(readings[start : start + 7])
            if start % 21 == 0:
                await ingest.save()
        await ingest.save()
        live = await store.device_minutes("p1", 0, 10**9)
        assert await ingest.rebuild() > 0
        rebuilt = await store.device_minutes("p1", 0, 10**9)
    assert rebuilt == live
    day = totals(combine(live), T0 - timedelta(hours=10), T0 + timedelta(hours=2))
    # Since midnight: 3000 before connecting, 1020 walked live, 2000 out of range, 12 after
    # the reboot.
    assert day.steps == 3000 + 1020 + 2000 + 12


async def test_readings_stored_but_not_processed_are_processed_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "monitor.db"
    readings = readings_of_a_morning()
    async with Store.open(path) as store:
        ingest = Ingest(store, LONDON, SimulatedClock(T0))
        await ingest._ingest(readings[:20])
        await ingest.save()
        await ingest._ingest(readings[20:30])  # processed, but killed before it was saved
        await store.append_readings(readings[30:])  # stored, but killed before processing
    async with Store.open(path) as store:
        ingest = Ingest(store, LONDON, SimulatedClock(T0))
        await ingest._resume()  # what run() does first
        resumed = await store.device_minutes("p1", 0, 10**9)
    async with Store.open(tmp_path / "fresh.db") as store:
        ingest = Ingest(store, LONDON, SimulatedClock(T0))
        await ingest._ingest(readings)
        await ingest.save()
        straight = await store.device_minutes("p1", 0, 10**9)
    assert resumed == straight


async def test_ingest_drops_and_counts_readings_beyond_its_queue(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "monitor.db") as store:
        ingest = Ingest(store, LONDON, SimulatedClock(T0), max_queued=10)
        for number in range(25):
            ingest.put(Reading("p1", "watch", T0, StepCount(number, CounterEpoch.POWER_ON)))
        assert ingest.queued == 10
        assert ingest.dropped[("p1", "watch")] == 15


def test_the_long_dst_day_counts_both_of_its_one_oclock_hours() -> None:
    autumn = datetime(2026, 10, 25, tzinfo=UTC).date()
    start, end = day_bounds(autumn, LONDON)
    # A walk in each 01:00-02:00 local hour of the day the clocks go back (00:xx and 01:xx UTC).
    first = [DeviceMinute("p1", "watch", minute_of(start) + 60 + i, steps=100) for i in range(10)]
    second = [DeviceMinute("p1", "watch", minute_of(start) + 120 + i, steps=100) for i in range(10)]
    day = totals(combine(first + second), start, end)
    assert (end - start) == timedelta(hours=25)
    assert day.steps == 2000
    assert day.walking_minutes == pytest.approx(20.0)


_counter_events = st.lists(
    st.tuples(
        st.sampled_from(["count", "link up", "link down"]), st.integers(0, 400), st.integers(1, 900)
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_counter_events)
def test_steps_today_never_go_down_whatever_the_counter_does(
    events: list[tuple[str, int, int]],
) -> None:
    processor = ActivityProcessor(LONDON)
    now = T0
    total = 0
    credited: dict[int, int] = {}
    steps_so_far = 0
    for kind, value, seconds in events:
        now += timedelta(seconds=seconds)
        if kind.startswith("link"):
            reading = Reading("p1", "watch", now, LinkState(kind == "link up"))
        else:
            total = value if value < total else total + value  # resets too
            reading = Reading("p1", "watch", now, StepCount(total, CounterEpoch.LOCAL_DAY))
        for minute in processor.process([reading]).minutes:
            assert minute.steps >= 0
            assert minute.inferred_steps >= 0
            credited[minute.minute] = credited.get(minute.minute, 0) + minute.total_steps
        running = sum(credited.values())
        assert running >= steps_so_far
        steps_so_far = running


def test_raw_motion_becomes_steps_walking_and_movement_minutes() -> None:
    """A wrist band streaming 25 Hz motion, one sample per notification, through the processor."""
    start = T0.timestamp()
    recording = simulate(
        [
            Segment(Activity.STILL, 60.0),
            Segment(Activity.WALKING, 300.0, cadence_spm=90.0),
            Segment(Activity.TYPING, 120.0),
        ],
        Placement.WRIST,
        seed=7,
        sampling=Sampling(rate_hz=25.0),
        start_s=start,
    )
    processor = ActivityProcessor(LONDON)
    amounts: list[DeviceMinute] = []
    readings = [
        Reading(
            "p1",
            "band",
            datetime.fromtimestamp(float(t), UTC),
            Motion((tuple(float(v) for v in xyz),), 25.0),  # type: ignore[arg-type]
        )
        for t, xyz in zip(recording.t, recording.xyz, strict=True)
    ]
    # As notifications arrive in ingest batches, with a restart from saved state halfway.
    for first in range(0, len(readings), 40):
        if first == 6000:
            processor = ActivityProcessor(LONDON, processor.to_json())
        amounts += processor.process(readings[first : first + 40]).minutes
    # The last minute closes only once later samples arrive; the walk's minutes are all out.
    day = totals(combine(amounts), T0, T0 + timedelta(minutes=10))
    assert day.steps == pytest.approx(recording.steps, rel=0.05)
    assert day.walking_minutes == pytest.approx(5.0, abs=0.5)
    assert 5 <= day.movement_minutes <= 7
