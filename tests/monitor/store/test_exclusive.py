"""One service or `rebuild` per database; bad database paths are one line, never a traceback."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.store import connection
from monitor.store.database import Store
from monitor.store.exclusive import lock_path


async def test_a_second_exclusive_open_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    async with Store.open(path, exclusive=True):
        assert stat.S_IMODE(lock_path(path).stat().st_mode) == 0o600
        with pytest.raises(StoreError) as refused:
            async with Store.open(path, exclusive=True):
                pytest.fail("a second exclusive open succeeded")
        assert str(refused.value) == (
            f"another recovery-monitor is using {path} (pid {lock_path(path).read_text().strip()}"
            "); stop it first"
        )
        assert lock_path(path).read_text().strip().isdigit()
        # Readers (report, log) do not take the lock: this open succeeds.
        async with Store.open(path):
            pass
    # Released on close: the next one gets it.
    async with Store.open(path, exclusive=True):
        pass


def _database_threads() -> list[threading.Thread]:
    """aiosqlite's connection threads still running (its worker function names them)."""
    return [t for t in threading.enumerate() if "connection_worker" in t.name]


def _bad_databases(tmp_path: Path) -> list[tuple[Path, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    folder = tmp_path / "folder"
    folder.mkdir()
    return [
        (Path("/proc/nope/x.db"), "cannot create the folder /proc/nope"),
        (a_file / "x.db", f"cannot create the folder {a_file}"),
        (folder, f"the database {folder} is a folder"),
    ]


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("exclusive", [False, True])
async def test_a_database_path_that_cannot_be_used_is_one_store_error(
    tmp_path: Path, case: int, exclusive: bool, caplog: pytest.LogCaptureFixture
) -> None:
    path, said = _bad_databases(tmp_path)[case]
    with pytest.raises(StoreError) as failed:
        async with Store.open(path, exclusive=exclusive):
            pytest.fail(f"{path} opened")
    assert said in str(failed.value)
    assert "\n" not in str(failed.value)
    assert not _database_threads()  # none left behind
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_failed_sqlite_open_leaves_no_thread_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite itself refusing (here a folder, let past the earlier check) still closes cleanly."""
    monkeypatch.setattr(connection, "_check_existing_file", lambda path: None)
    with pytest.raises(StoreError, match=f"cannot open the database {tmp_path}"):
        async with Store.open(tmp_path):
            pytest.fail("a folder opened")
    assert not _database_threads()
