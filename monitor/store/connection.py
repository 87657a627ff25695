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

from monitor.clock import PACERS
from monitor.errors import StoreError
from monitor.store.schema import MIGRATIONS

# Everything committed is checkpointed (safe from a power cut) within this many seconds; with a
# reading's wait to be committed (milliseconds), each is durable within a second.
DURABLE_WITHIN_S = 0.5


class Connection:
    """The database connection and its plumbing; the table classes build on it."""

    def __init__(self, path: Path, db: aiosqlite.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = asyncio.Lock()
        self._writes = 0  # transactions committed
        self._durable_writes = 0  # of them, checkpointed

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
        # A paced simulated clock waits while a statement runs in aiosqlite's thread (every
        # statement runs under the lock); see monitor.clock.
        pacer = f"database {path} #{id(store)}"
        PACERS.add(pacer, store._lock.locked)
        try:
            await store._prepare()
            yield store
        finally:
            PACERS.discard(pacer)
            await db.close()

    async def _prepare(self) -> None:
        try:
            await self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives a killed process at once; `keep_durable` checkpoints the
            # WAL every second, after which it also survives a power cut. (FULL would fsync every
            # commit: 1-4 ms each here, more on an SD card, on the path of every alert.)
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
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run statements as one transaction, alone on the connection; roll back on error.

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
            except BaseException as exc:
                await asyncio.shield(self._rollback())
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise

    async def _rollback(self) -> None:
        # An error here means nothing was open: the transaction never began, or had committed.
        with contextlib.suppress(sqlite3.OperationalError):
            await self._db.execute("ROLLBACK")

    async def keep_durable(self, every_s: float = DURABLE_WITHIN_S) -> None:
        """Checkpoint the WAL every `every_s` real seconds in which something was written.

        Real seconds, not the service clock's: a power cut does not run on simulated time.
        """
        while True:
            await asyncio.sleep(every_s)
            await self.checkpoint()

    async def checkpoint(self) -> None:
        """Make everything committed so far survive a power cut (if anything was written)."""
        if self._writes == self._durable_writes:
            return
        writes = self._writes
        try:
            async with self._lock:
                await self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        self._durable_writes = writes

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
