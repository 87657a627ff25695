"""The one SQLite connection (WAL) under one lock: open, migrate, transactions, durability.

The only module that opens aiosqlite. Every statement runs under one lock, so one task's
transaction never interleaves with another's. The database file is created 0600. The tables
are reached through the classes in `readings`, `days`, `alerts` and `reports`, which `Store`
(in `database`) combines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import aiosqlite

from monitor.clock import PACERS
from monitor.errors import DamagedStoreError, StoreError
from monitor.store.exclusive import exclusive_use
from monitor.store.schema import MIGRATIONS

T = TypeVar("T")

log = logging.getLogger(__name__)

# What a damaged database is answered with, at start and when a part meets the damage later
# (docs/reliability.md quotes it).
DAMAGED_HINT = "it was left untouched: restore it from a backup or move it aside to start afresh"

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
# is about one commit a second changing about two pages (the raw log's last one, and a parent
# every other commit): 512-byte pages make that ~90 MB a day where SQLite's default 4 KiB
# would make ~400 MB (docs/benchmarks.md).
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
    async def open(
        cls, path: Path, *, integrity_check: bool = False, exclusive: bool = False
    ) -> AsyncIterator[Self]:
        """Open (creating 0600 if absent), check and migrate the database; close it on exit.

        An existing zero-length file is refused (DamagedStoreError) and left untouched; with
        `integrity_check` (the service, at start) so is one that fails SQLite's `quick_check`
        (about 0.3 s for a year's file: docs/reliability.md; the short-lived commands skip it).
        With `exclusive` (the service, `rebuild`) the database's lock is held while it is open:
        StoreError if another process holds it (monitor.store.exclusive). Any failure to create
        or open it is a StoreError of one line.
        """
        _make_folder(path)
        with exclusive_use(path) if exclusive else contextlib.nullcontext():
            created = _create_private(path)
            if not created:
                _check_existing_file(path)
            db = aiosqlite.connect(path, isolation_level=None)
            try:
                await db
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"cannot open the database {path}: {exc}") from exc
            finally:
                if db._connection is None:
                    # aiosqlite stopped its thread on the failure but did not wait for it: wait,
                    # or it reports to an event loop that may be closed by then (a traceback).
                    await asyncio.to_thread(db._thread.join)
            store = cls(path, db)
            # A paced simulated clock waits while a statement runs in aiosqlite's thread (every
            # statement runs under the lock); see monitor.clock.
            pacer = f"database {path} #{id(store)}"
            PACERS.add(pacer, store._lock.locked)
            try:
                if integrity_check and not created:
                    await store._quick_check()
                await store._prepare()
                yield store
            finally:
                PACERS.discard(pacer)
                await db.close()

    async def _quick_check(self) -> None:
        """SQLite's `PRAGMA quick_check` over the whole file (its cost: docs/reliability.md)."""
        started = time.monotonic()
        try:
            async with self._db.execute("PRAGMA quick_check") as cursor:
                problems = [str(row[0]) for row in await cursor.fetchall()]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            raise DamagedStoreError(
                f"{self.path} is not a usable recovery-monitor database (damaged: "
                f"{'; '.join(problems[:3])}); {DAMAGED_HINT}"
            )
        log.debug("database integrity checked in %.2f s", time.monotonic() - started)

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
            raise DamagedStoreError(
                f"{self.path} is not a usable recovery-monitor database ({exc}); {DAMAGED_HINT}"
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

    async def atomic(self, work: Callable[[sqlite3.Connection], T], *, bulk: bool = False) -> T:
        """Run `work` as one transaction in one trip to the database thread; roll back on error.

        `bulk` as for `transaction`.

        `work` runs on that thread: it must only touch the connection it is given and values it
        owns. If the caller is cancelled meanwhile, `work` still runs to its end (committed or
        rolled back), and the next transaction is queued behind it.
        """
        async with self._lock:
            try:
                # aiosqlite's own way to run a function on its thread (every public method uses it).
                result: T = await self._db._execute(_in_transaction, self._db._conn, work)  # type: ignore[no-untyped-call]
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            self._writes += 1
            self._written.set()
            if not bulk:
                self._urgent.set()
            return result

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
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return DamagedStoreError(
                f"the database {self.path} is damaged: {text}; the service stops rather than "
                f"write into it: {DAMAGED_HINT}"
            )
        if "locked" in text or "busy" in text:
            hint = "another program holds the database file; stop it, the service will go on"
        elif "full" in text:
            hint = "the disk is full; free some space, the service will go on"
        elif "readonly" in text or "read-only" in text:
            hint = "the database file cannot be written; check its owner and permissions"
        else:
            hint = "if this persists, check the disk and the file"
        return StoreError(f"the database {self.path} failed: {text} ({hint})")


def _in_transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """On the database thread: BEGIN, `work`, COMMIT, or ROLLBACK if anything fails."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


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


def _make_folder(path: Path) -> None:
    """Create the database's folder (owner only) if absent; StoreError of one line if not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder {path.parent} for the database: {exc.strerror}"
        ) from exc


def _create_private(path: Path) -> bool:
    """Create the database file readable by its owner only, if absent.

    True if it was created now.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot create the database {path}: {exc.strerror}") from exc
    os.close(fd)
    return True


def _check_existing_file(path: Path) -> None:
    """Refuse an empty file where history should be; warn if others may read the health data.

    An empty file is what a failed copy or a full disk leaves: opening it would silently start
    a fresh, empty history (a file the service creates is never left empty: the schema is
    written at once).
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise StoreError(f"cannot read the database {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise StoreError(f"the database {path} is {kind}: set database to a file's path")
    if info.st_size == 0:
        raise DamagedStoreError(
            f"{path} is empty (0 bytes) where the history should be; it was left untouched: "
            "restore it from a backup, or delete it to start a fresh history"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        log.warning(
            "the database %s can be read by other users (mode %o): it holds health data; "
            "run: chmod 600 %s",
            path,
            stat.S_IMODE(info.st_mode),
            path,
        )
