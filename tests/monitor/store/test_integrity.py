"""The database is checked at open: an empty or damaged file is refused and left untouched."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.clock import SimulatedClock
from monitor.config import parse_config
from monitor.errors import DamagedStoreError
from monitor.service.app import App
from monitor.store.database import Store
from tests.conftest import config_toml

NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)
PAGE = 4096


async def filled(path: Path, reports: int = 3000) -> None:
    """A database with enough reports to span many pages."""
    async with Store.open(path) as store:
        for number in range(reports):
            note = {"note": f"report {number} " + "x" * 200}
            await store.add_report("p1", "note", NOON, NOON, note, f"n{number}", None)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def test_a_zero_length_file_is_refused_not_taken_for_a_fresh_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "monitor.db"
    path.touch(mode=0o600)
    with pytest.raises(DamagedStoreError, match=r"is empty \(0 bytes\)"):
        async with Store.open(path):
            pass
    assert path.stat().st_size == 0, "left untouched"


async def test_random_bytes_over_two_pages_are_found_at_open_and_the_file_left_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "monitor.db"
    await filled(path)
    pages = path.stat().st_size // PAGE
    assert pages > 20
    middle = pages // 2
    noise = random.Random(7).randbytes(2 * PAGE)
    with path.open("r+b") as file:
        file.seek(middle * PAGE)
        file.write(noise)
    damaged = path.read_bytes()
    with pytest.raises(DamagedStoreError, match="not a usable recovery-monitor database"):
        async with Store.open(path, integrity_check=True) as store:
            await store.add_report("p1", "pain", NOON, NOON, {"score": 3}, "new", None)
    assert path.read_bytes() == damaged, "nothing was written into the damaged file"


async def test_a_database_others_can_read_draws_a_one_line_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "monitor.db"
    async with Store.open(path):
        pass
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        async with Store.open(path):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "can be read by other users (mode 644)" in warnings[0]
    assert "\n" not in warnings[0]


async def test_a_part_that_meets_damage_stops_the_service_instead_of_looping(
    tmp_path: Path,
) -> None:
    config = parse_config(config_toml(database=tmp_path / "m.db", port=1883), base_dir=tmp_path)
    app = App(config, clock=SimulatedClock(NOON, speed=0))
    starts = 0

    async def damaged() -> None:
        nonlocal starts
        starts += 1
        raise DamagedStoreError("the database is damaged: database disk image is malformed")

    with pytest.raises(DamagedStoreError):
        await app._supervise("ingest", damaged)
    assert starts == 1
