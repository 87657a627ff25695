"""The one SQLite connection (WAL) under one lock: open, migrate, transactions, durability.

The only module that opens aiosqlite. Every statement runs under one lock, so one task's
transaction never interleaves with another's. The database file is created 0600. The tables
are reached through the classes in `readings`, `days`, `alerts` and `reports`, which `Store`
(in `database`) combines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import aiosqlite

from monitor.errors import StoreError
from monitor.store.schema import MIGRATIONS

# What is committed reaches the disk (safe from a power cut) within these many real seconds: the
# WAL is fsynced then. Commands, alerts and the timetable within URGENT_WITHIN_S, as before;
# readings and derived minutes within DURABLE_WITHIN_S, because they arrive every second all day
# and each fsync rewrites the WAL's last, partly filled 4 KiB block: syncing them every second
# would cost ~350 MB a day of writes on its own (86,400 x 4 KiB), every 30 s ~12 MB. (A lost
# count is made good by the next one: counters are cumulative.) A commit survives a killed
# process at once; readings are committed within COMMIT_WITHIN_S of arriving (ingest/pipeline).
URGENT_WITHIN_S = 0.5
DURABLE_WITHIN_S = 30.0
# Pages of new databases. Every commit appends each page it changed to the WAL, and steady state
# is about one commit a second (the raw log's last page): 1 KiB pages make that ~90 MB a day
# where SQLite's default 4 KiB would make ~360 MB (measured by bench/steady.py).
PAGE_SIZE = 512


class Connection:
    """The database connection and its plumbing; the table classes build on it."""

    def __init__(self, path: Path, db: aiosqlite.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = asyncio.Lock()
        self._writes = 0  # transactions committed
        self._durable_writes = 0  # of them, known to be on the disk
        self._written = asyncio.Event()  # set by a commit not yet on the disk
        self._urgent = asyncio.Event()  # set by such a commit other than readings' (bulk)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[Self]:
        """Open (creating 0600 if absent) and migrate the database; close it on exit."""
        _create_private(path)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        store = cls(path, db)
        try:
            await store._prepare()
            yield store
        finally:
            await db.close()

    async def _prepare(self) -> None:
        try:
            # Takes effect only on a new, empty database (an existing one keeps its pages).
            await self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            await self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives a killed process at once; `keep_durable` fsyncs the WAL
            # soon after (see DURABLE_WITHIN_S), after which it also survives a power cut; SQLite
            # checkpoints on its own schedule (every 1000 WAL pages). FULL would fsync every
            # commit: 1-4 ms each here, more on an SD card, on the path of every alert, and a
            # rewritten 4 KiB block each time.
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA busy_timeout=5000")
            await self._db.execute("PRAGMA foreign_keys=ON")
            (version,) = await self._one("PRAGMA user_version")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a usable recovery-monitor database ({exc}); it was left "
                "untouched: restore it from a backup or move it aside to start afresh"
            ) from exc
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer recovery-monitor (schema {version}, this "
                f"one knows {len(MIGRATIONS)}): upgrade recovery-monitor"
            )
        for number in range(version, len(MIGRATIONS)):
            # One script per migration, its own transaction included, so that a migration
            # is applied whole or not at all.
            script = f"BEGIN;\n{MIGRATIONS[number]}\nPRAGMA user_version={number + 1};\nCOMMIT;"
            await self._db.executescript(script)

    # -- plumbing ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self, *, bulk: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """Run statements as one transaction, alone on the connection; roll back on error.

        `bulk` (readings, derived minutes) is put on the disk within DURABLE_WITHIN_S; anything
        else within URGENT_WITHIN_S.

        Safe under cancellation: aiosqlite runs statements in the order they were queued, so a
        BEGIN or COMMIT cut short by a cancellation still runs, and the rollback queued after
        it undoes whatever is left open.
        """
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                await self._db.execute("COMMIT")
                self._writes += 1
                self._written.set()
                if not bulk:
                    self._urgent.set()
            except BaseException as exc:
                await asyncio.shield(self._rollback())
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise

    async def _rollback(self) -> None:
        # An error here means nothing was open: the transaction never began, or had committed.
        with contextlib.suppress(sqlite3.OperationalError):
            await self._db.execute("ROLLBACK")

    async def keep_durable(
        self, every_s: float = DURABLE_WITHIN_S, urgent_s: float = URGENT_WITHIN_S
    ) -> None:
        """Put what was committed on the disk within `every_s` real seconds of its commit, or
        `urgent_s` for anything but bulk commits.

        Sleeps while nothing is written (no wake-ups when idle). Real seconds, not the service
        clock's: a power cut does not run on simulated time.
        """
        while True:
            await self._written.wait()
            try:
                async with asyncio.timeout(every_s):
                    await self._urgent.wait()
                await asyncio.sleep(urgent_s)
            except TimeoutError:
                pass
            await self.sync()

    async def sync(self) -> None:
        """Make everything committed so far survive a power cut (if anything was written).

        With synchronous=NORMAL a commit is in the WAL file but not yet forced to the disk;
        fsync of the WAL is all a power cut needs (SQLite replays committed WAL frames on open,
        checked by their checksums), and costs far less than a checkpoint, which would copy
        the changed pages into the database file as well. SQLite checkpoints on its own
        schedule (every 1000 WAL pages), syncing both files then.
        """
        # Cleared before counting: a commit from here on sets them again for the next sync.
        self._written.clear()
        self._urgent.clear()
        if self._writes == self._durable_writes:
            return
        writes = self._writes
        try:
            await asyncio.to_thread(_fsync, self.wal_path)
        except OSError as exc:
            raise StoreError(f"cannot flush the database {self.path} to the disk: {exc}") from exc
        self._durable_writes = writes

    @property
    def unsynced(self) -> int:
        """Commits not yet known to be on the disk (they survive a killed process already)."""
        return self._writes - self._durable_writes

    @property
    def wal_path(self) -> Path:
        """The write-ahead log next to the database file."""
        return self.path.with_name(self.path.name + "-wal")

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        async with self._db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise StoreError(f"expected a row from: {sql}")
        return tuple(row)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            async with self._lock, self._db.execute(sql, params) as cursor:
                return [tuple(row) for row in await cursor.fetchall()]
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> StoreError:
        """A storage failure, said so that a person knows what to do about it."""
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = "another program holds the database file; stop it, the service will go on"
        elif "full" in text:
            hint = "the disk is full; free some space, the service will go on"
        elif "readonly" in text or "read-only" in text:
            hint = "the database file cannot be written; check its owner and permissions"
        else:
            hint = "if this persists, check the disk and the file"
        return StoreError(f"the database {self.path} failed: {text} ({hint})")


def _ts(moment: datetime) -> str:
    """An instant as fixed-width UTC text, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fsync(path: Path) -> None:
    """Force a file's written data to the disk (absent: nothing to do, the WAL was reset)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_private(path: Path) -> None:
    """Create the database file (and its folder) readable by its owner only, if absent."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create the database {path}: {exc.strerror}") from exc
    os.close(fd)
