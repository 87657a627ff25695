"""The store on real SQLite files: private, migrated, refusing what it cannot use, never losing."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices.readings import Battery, CounterEpoch, Motion, Reading, StepCount
from monitor.clock import SimulatedClock
from monitor.errors import StoreError
from monitor.ingest.activity import DeviceMinute
from monitor.store.alerts import StoredAlert
from monitor.store.database import Store
from monitor.store.housekeeping import prune_raw_motion
from monitor.store.rawlog import unpack
from monitor.store.schema import MIGRATIONS

NOON = datetime(2026, 11, 24, 12, tzinfo=UTC)


async def test_the_database_is_created_private_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "monitor.db"
    async with Store.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_reopening_keeps_everything_and_migrates_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    reading = Reading("p1", "watch", NOON, StepCount(10, CounterEpoch.LOCAL_DAY))
    async with Store.open(path) as store:
        await store.append_readings([reading])
    async with Store.open(path) as store:
        rows = await store.raw_after(0)
    assert [unpack(*row) for _, row in rows] == [[reading]]


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    async with Store.open(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer recovery-monitor"):
        async with Store.open(path):
            pass


async def test_a_corrupted_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    path.write_bytes(b"this is not a database " * 100)
    path.chmod(0o600)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="left untouched"):
        async with Store.open(path):
            pass
    assert path.read_bytes() == before


async def test_readings_round_trip_through_the_raw_log_motion_packed_per_device(
    tmp_path: Path,
) -> None:
    readings = [
        Reading("p1", "band", NOON, Motion(((0.0, 0.0, 1.0),), 10.0)),
        Reading("p1", "watch", NOON, Battery(80)),
        Reading(
            "p1", "band", NOON + timedelta(milliseconds=100), Motion(((0.5, 0.25, 1.0),), 10.0)
        ),
    ]
    async with Store.open(tmp_path / "monitor.db") as store:
        stored = await store.append_readings(readings)
        assert len(stored) == 2  # both motion notifications share one row
        back = [r for _, row in await store.raw_after(0) for r in unpack(*row)]
    assert sorted(back, key=lambda r: (r.device, r.received_at)) == sorted(
        readings, key=lambda r: (r.device, r.received_at)
    )


async def test_minute_amounts_add_up_and_the_watermark_moves_with_them(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "monitor.db") as store:
        minute = DeviceMinute("p1", "watch", 100, steps=30)
        await store.apply_activity([minute], {"counters": []}, upto=7)
        await store.apply_activity([minute, DeviceMinute("p1", "watch", 101, steps=5)], {}, 9)
        rows = await store.device_minutes("p1", 0, 1000)
        assert [(r.minute, r.steps) for r in rows] == [(100, 60), (101, 5)]
        assert await store.processed_upto() == 9
        await store.clear_activity()
        assert await store.device_minutes("p1", 0, 1000) == []
        assert await store.processed_upto() == 0


def _alert(number: int, key: str) -> StoredAlert:
    return StoredAlert(f"01ID{number:022d}", "p1", key, "behind_schedule", "info", NOON, "{}", None)


async def test_an_alert_key_is_stored_once_and_its_message_leaves_the_outbox_on_delivery(
    tmp_path: Path,
) -> None:
    async with Store.open(tmp_path / "monitor.db") as store:
        assert await store.add_alert(_alert(1, "k"), "recovery/p1/alert", b"one")
        assert not await store.add_alert(_alert(2, "k"), "recovery/p1/alert", b"two")
        assert await store.add_alert(_alert(3, "other"), "recovery/p1/alert", b"three")
        queued = await store.outbox()
        assert [item.payload for item in queued] == [b"one", b"three"]
        assert [i.payload for i in await store.outbox(exclude=[queued[0].seq])] == [b"three"]
        await store.delivered(queued[0].seq)
        await store.refused(queued[1].seq, "Not authorized")
        assert await store.outbox() == []
        assert await store.outbox_size() == 1  # refused, kept
        await store.retry_refused()
        assert [i.payload for i in await store.outbox()] == [b"three"]


async def test_acknowledging_an_alert_is_recorded_once(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "monitor.db") as store:
        await store.add_alert(_alert(1, "k"), "t", b"x")
        assert await store.ack_alert("p1", _alert(1, "k").id, NOON)
        assert await store.ack_alert("p1", _alert(1, "k").id, NOON + timedelta(hours=1))
        assert not await store.ack_alert("p1", "01NOSUCHALERT000000000000", NOON)
        (alert,) = await store.alerts("p1")
        assert alert.acked_at == NOON


async def test_report_duplicates_are_caught_within_their_window(tmp_path: Path) -> None:
    async with Store.open(tmp_path / "monitor.db") as store:
        first = await store.add_report("p1", "pain", NOON, NOON, {"score": 5}, "h", NOON)
        again = await store.add_report(
            "p1", "pain", NOON, NOON + timedelta(minutes=5), {"score": 5}, "h", NOON
        )
        later = await store.add_report(
            "p1",
            "pain",
            NOON,
            NOON + timedelta(hours=1),
            {"score": 5},
            "h",
            NOON + timedelta(minutes=50),
        )
        by_id = await store.add_report("p1", "pain", NOON, NOON, {"score": 5}, "id:a", None)
        by_id_again = await store.add_report(
            "p1", "pain", NOON, NOON + timedelta(days=3), {}, "id:a", None
        )
        assert first is not None
        assert again is None
        assert later is not None
        assert by_id is not None
        assert by_id_again is None
        stored = await store.reports("p1", ["pain"], NOON, NOON + timedelta(days=1))
        assert len(stored) == 3


async def test_raw_motion_past_its_window_is_pruned_once_processed_and_rebuild_keeps_it(
    tmp_path: Path,
) -> None:
    old = NOON - timedelta(days=5)
    readings = [
        Reading("p1", "band", old, Motion(((0.0, 0.0, 1.0),), 10.0)),
        Reading("p1", "watch", old, StepCount(100, CounterEpoch.POWER_ON)),
        Reading("p1", "band", NOON, Motion(((0.0, 0.0, 1.0),), 10.0)),
    ]
    async with Store.open(tmp_path / "monitor.db") as store:
        stored = await store.append_readings(readings)
        clock = SimulatedClock(NOON)
        assert await prune_raw_motion(store, clock, keep_days=3) == 0, "nothing processed yet"
        old_minute = int(old.timestamp() // 60)
        await store.apply_activity(
            [DeviceMinute("p1", "band", old_minute, motion_steps=40, enmo_samples=600)],
            {},
            upto=stored[-1][0],
        )
        assert await prune_raw_motion(store, clock, keep_days=3) == 1
        kinds = sorted(row[3] for _, row in await store.raw_after(0))
        assert kinds == ["motion", "step_count"]  # the recent motion and every count stay
        await store.clear_activity()
        kept = await store.device_minutes("p1", 0, 10**9)
        assert [(m.minute, m.motion_steps) for m in kept] == [(old_minute, 40)]
        assert await store.processed_upto() == 0
