"""SQLite storage (WAL): the raw log, per-minute activity, day results, alerts and their outbox.

The only module that imports aiosqlite. One connection; every statement runs under one lock, so
one task's transaction never interleaves with another's. The database file is created 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from monitor.activity import DeviceMinute
from monitor.errors import StoreError
from monitor.models import Reading
from monitor.rawlog import RawRow, pack, unpack

# Forward-only migrations; PRAGMA user_version holds how many have been applied.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE raw_reading (
        id INTEGER PRIMARY KEY,
        person TEXT NOT NULL,
        device TEXT NOT NULL,
        received_us INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload BLOB NOT NULL
    );
    CREATE INDEX raw_reading_kind_time ON raw_reading (kind, received_us);
    CREATE TABLE device_minute (
        person TEXT NOT NULL,
        minute INTEGER NOT NULL,
        device TEXT NOT NULL,
        steps INTEGER NOT NULL DEFAULT 0,
        inferred_steps INTEGER NOT NULL DEFAULT 0,
        inferred_walking_s REAL NOT NULL DEFAULT 0,
        motion_steps INTEGER NOT NULL DEFAULT 0,
        motion_walking_s REAL NOT NULL DEFAULT 0,
        enmo_sum_mg REAL NOT NULL DEFAULT 0,
        enmo_samples INTEGER NOT NULL DEFAULT 0,
        moving INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (person, minute, device)
    ) WITHOUT ROWID;
    CREATE TABLE processor_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE day_result (
        person TEXT NOT NULL,
        day TEXT NOT NULL,
        target_minutes REAL NOT NULL,
        walked_minutes REAL NOT NULL,
        steps INTEGER NOT NULL,
        movement_minutes INTEGER NOT NULL,
        met INTEGER NOT NULL,
        PRIMARY KEY (person, day)
    );
    CREATE TABLE schedule_cursor (
        person TEXT PRIMARY KEY,
        done_until TEXT NOT NULL
    );
    CREATE TABLE alert (
        id TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        key TEXT NOT NULL,
        event_type TEXT NOT NULL,
        severity TEXT NOT NULL,
        created_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        acked_at TEXT,
        UNIQUE (person, key)
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        failed_reason TEXT
    );
    CREATE TABLE report (
        id INTEGER PRIMARY KEY,
        person TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup TEXT NOT NULL
    );
    CREATE INDEX report_person_kind_at ON report (person, kind, at);
    CREATE INDEX report_dedup ON report (person, dedup, received_at);
    """,
    # 2: alerts the policy held back are kept (with the reason), so an occasion is never raised
    # twice; the policy and the report look alerts up by person and time.
    """
    ALTER TABLE alert ADD COLUMN held_back TEXT;
    CREATE INDEX alert_person_time ON alert (person, created_at);
    """,
)

# Everything committed is checkpointed (safe from a power cut) within this many seconds; with a
# reading's wait to be committed (milliseconds), each is durable within a second.
DURABLE_WITHIN_S = 0.5

WATERMARK = "processed_upto"
PROCESSOR = "activity"
MOTION_HORIZON = "motion_pruned_before"


@dataclass(frozen=True, slots=True)
class DayResult:
    """How one plan day went, recorded when the day was judged."""

    person: str
    day: date
    target_minutes: float
    walked_minutes: float
    steps: int
    movement_minutes: int
    met: bool


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored: its identity and JSON payload."""

    id: str
    person: str
    key: str
    event_type: str
    severity: str
    created_at: datetime
    payload: str
    acked_at: datetime | None
    held_back: str | None = None  # why the policy did not send it; None: sent


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message waiting for the broker's acknowledgement."""

    seq: int
    alert_id: str
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report a person sent (pain, function, symptom, ...), as accepted."""

    id: int
    person: str
    kind: str
    at: datetime
    payload: dict[str, Any]


class Store:
    """The service's database; use as `async with Store.open(path) as store`."""

    def __init__(self, path: Path, db: aiosqlite.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = asyncio.Lock()
        self._writes = 0  # transactions committed
        self._durable_writes = 0  # of them, checkpointed

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[Store]:
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

    # -- raw log ------------------------------------------------------------------------------

    async def append_readings(self, readings: Sequence[Reading]) -> list[tuple[int, RawRow]]:
        """Append readings to the raw log, durably, before anything processes them."""
        rows = pack(readings)
        async with self.transaction() as db:
            async with db.execute("SELECT coalesce(max(id), 0) FROM raw_reading") as cursor:
                (last,) = await cursor.fetchone() or (0,)
            await db.executemany(
                "INSERT INTO raw_reading (person, device, received_us, kind, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            # Inside this transaction nobody else inserts, and a new rowid is max(rowid) + 1,
            # so the rows got consecutive ids; check rather than trust.
            async with db.execute("SELECT coalesce(max(id), 0) FROM raw_reading") as cursor:
                (now_last,) = await cursor.fetchone() or (0,)
            if now_last != last + len(rows):
                raise StoreError("raw log ids are not consecutive: the database was changed")
        return [(last + 1 + index, row) for index, row in enumerate(rows)]

    async def raw_after(self, raw_id: int, limit: int = 5000) -> list[tuple[int, RawRow]]:
        """Raw-log rows after `raw_id`, oldest first."""
        rows = await self._all(
            "SELECT id, person, device, received_us, kind, payload FROM raw_reading "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (raw_id, limit),
        )
        return [(r[0], (r[1], r[2], r[3], r[4], bytes(r[5]))) for r in rows]

    async def latest_readings(self, kind: str, limit: int = 10) -> list[Reading]:
        """The newest readings of one kind, newest first (for diagnostics)."""
        rows = await self._all(
            "SELECT person, device, received_us, kind, payload FROM raw_reading "
            "WHERE kind = ? ORDER BY id DESC LIMIT ?",
            (kind, limit),
        )
        return [r for row in rows for r in unpack(row[0], row[1], row[2], row[3], bytes(row[4]))]

    # -- derived activity -----------------------------------------------------------------------

    async def processed_upto(self) -> int:
        """The id of the last raw-log row whose effects are in the derived tables."""
        async with (
            self._lock,
            self._db.execute(
                "SELECT value FROM processor_state WHERE name = ?", (WATERMARK,)
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def processor_state(self) -> dict[str, Any] | None:
        """The saved state of the activity processor, if any."""
        rows = await self._all("SELECT value FROM processor_state WHERE name = ?", (PROCESSOR,))
        return json.loads(rows[0][0]) if rows else None

    async def apply_activity(
        self, minutes: Iterable[DeviceMinute], state: dict[str, Any], upto: int
    ) -> None:
        """Add minute amounts and save the processor's state and watermark, all at once."""
        params = [
            (
                m.person, m.minute, m.device, m.steps, m.inferred_steps, m.inferred_walking_s,
                m.motion_steps, m.motion_walking_s, m.enmo_sum_mg, m.enmo_samples, int(m.moving),
            )
            for m in minutes
        ]  # fmt: skip
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO device_minute (person, minute, device, steps, inferred_steps, "
                "inferred_walking_s, motion_steps, motion_walking_s, enmo_sum_mg, enmo_samples, "
                "moving) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (person, minute, device) DO UPDATE SET "
                "steps = steps + excluded.steps, "
                "inferred_steps = inferred_steps + excluded.inferred_steps, "
                "inferred_walking_s = inferred_walking_s + excluded.inferred_walking_s, "
                "motion_steps = motion_steps + excluded.motion_steps, "
                "motion_walking_s = motion_walking_s + excluded.motion_walking_s, "
                "enmo_sum_mg = enmo_sum_mg + excluded.enmo_sum_mg, "
                "enmo_samples = enmo_samples + excluded.enmo_samples, "
                "moving = max(moving, excluded.moving)",
                params,
            )
            await db.executemany(
                "INSERT INTO processor_state (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [(PROCESSOR, json.dumps(state, sort_keys=True)), (WATERMARK, str(upto))],
            )

    async def clear_activity(self) -> None:
        """Forget derived activity, so it can be rebuilt from the raw log.

        Motion-derived figures of minutes whose raw motion has been pruned cannot be rebuilt,
        so they are kept; everything else is cleared.
        """
        horizon = await self.motion_pruned_before()
        async with self.transaction() as db:
            await db.execute(
                "UPDATE device_minute SET steps = 0, inferred_steps = 0, inferred_walking_s = 0 "
                "WHERE minute < ?",
                (horizon // 60_000_000,),
            )
            await db.execute(
                "DELETE FROM device_minute WHERE minute >= ?", (horizon // 60_000_000,)
            )
            await db.execute(
                "DELETE FROM device_minute WHERE motion_steps = 0 AND motion_walking_s = 0 "
                "AND enmo_samples = 0 AND moving = 0"
            )
            await db.execute("DELETE FROM processor_state WHERE name != ?", (MOTION_HORIZON,))

    async def prune_motion(self, before_us: int) -> int:
        """Delete processed raw motion older than `before_us`; returns how many rows went."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT value FROM processor_state WHERE name = ?", (WATERMARK,)
            ) as cursor:
                row = await cursor.fetchone()
            processed = int(row[0]) if row else 0
            cursor = await db.execute(
                "DELETE FROM raw_reading WHERE kind = 'motion' AND received_us < ? AND id <= ?",
                (before_us, processed),
            )
            removed = cursor.rowcount
            if removed:
                await db.execute(
                    "INSERT INTO processor_state (name, value) VALUES (?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET value = max(CAST(value AS INTEGER), excluded.value)",
                    (MOTION_HORIZON, str(before_us)),
                )
        return removed

    async def motion_pruned_before(self) -> int:
        """Raw motion before this instant (epoch microseconds) has been pruned; 0 if none."""
        rows = await self._all(
            "SELECT value FROM processor_state WHERE name = ?", (MOTION_HORIZON,)
        )
        return int(rows[0][0]) if rows else 0

    async def device_minutes(self, person: str, start: int, end: int) -> list[DeviceMinute]:
        """A person's per-device minutes in [start, end) (UTC epoch minutes)."""
        rows = await self._all(
            "SELECT person, device, minute, steps, inferred_steps, inferred_walking_s, "
            "motion_steps, motion_walking_s, enmo_sum_mg, enmo_samples, moving "
            "FROM device_minute WHERE person = ? AND minute >= ? AND minute < ? ORDER BY minute",
            (person, start, end),
        )
        return [
            DeviceMinute(
                person=r[0], device=r[1], minute=r[2], steps=r[3], inferred_steps=r[4],
                inferred_walking_s=r[5], motion_steps=r[6], motion_walking_s=r[7],
                enmo_sum_mg=r[8], enmo_samples=r[9], moving=bool(r[10]),
            )
            for r in rows
        ]  # fmt: skip

    # -- plan days and the scheduler's progress ------------------------------------------------

    async def save_day_result(self, result: DayResult) -> None:
        """Record how a day went (replacing an earlier record of the same day)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO day_result (person, day, target_minutes, walked_minutes, "
                "steps, movement_minutes, met) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    result.person,
                    result.day.isoformat(),
                    result.target_minutes,
                    result.walked_minutes,
                    result.steps,
                    result.movement_minutes,
                    int(result.met),
                ),
            )

    async def day_results(self, person: str, since: date | None = None) -> list[DayResult]:
        """A person's recorded days, oldest first."""
        rows = await self._all(
            "SELECT person, day, target_minutes, walked_minutes, steps, movement_minutes, met "
            "FROM day_result WHERE person = ? AND day >= ? ORDER BY day",
            (person, (since or date.min).isoformat()),
        )
        return [
            DayResult(r[0], date.fromisoformat(r[1]), r[2], r[3], r[4], r[5], bool(r[6]))
            for r in rows
        ]

    async def schedule_done_until(self, person: str) -> datetime | None:
        """Up to when the scheduler has handled a person's events."""
        rows = await self._all("SELECT done_until FROM schedule_cursor WHERE person = ?", (person,))
        return datetime.fromisoformat(rows[0][0]) if rows else None

    async def set_schedule_done_until(self, person: str, moment: datetime) -> None:
        """Record that a person's events up to `moment` have been handled."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO schedule_cursor (person, done_until) VALUES (?, ?) "
                "ON CONFLICT (person) DO UPDATE SET done_until = excluded.done_until",
                (person, _ts(moment)),
            )

    # -- alerts and the outbox ---------------------------------------------------------------------

    async def add_alert(
        self, alert: StoredAlert, topic: str, message: bytes, *, also: Sequence[str] = ()
    ) -> bool:
        """Store an alert and queue it for sending, atomically; False if its key was seen before.

        The message is queued once for `topic` and once for each topic in `also` (same alert
        id); an alert held back by the policy (`alert.held_back`) is stored but not queued.
        """
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO alert (id, person, key, event_type, severity, created_at, payload, "
                "held_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (person, key) DO NOTHING",
                (
                    alert.id,
                    alert.person,
                    alert.key,
                    alert.event_type,
                    alert.severity,
                    _ts(alert.created_at),
                    alert.payload,
                    alert.held_back,
                ),
            )
            if cursor.rowcount == 0:
                return False
            if alert.held_back is None:
                await db.executemany(
                    "INSERT INTO outbox (alert_id, topic, payload) VALUES (?, ?, ?)",
                    [(alert.id, destination, message) for destination in (topic, *also)],
                )
        return True

    async def has_alert(self, person: str, key: str) -> bool:
        """Whether an alert with this de-duplication key was ever raised for the person."""
        rows = await self._all("SELECT 1 FROM alert WHERE person = ? AND key = ?", (person, key))
        return bool(rows)

    async def alerts(
        self,
        person: str,
        since: datetime | None = None,
        event_type: str | None = None,
        *,
        held_back: bool = False,
        until: datetime | None = None,
    ) -> list[StoredAlert]:
        """A person's sent alerts (and held-back ones too if `held_back`), oldest first.

        Optionally only those created in [since, until) and of one type.
        """
        rows = await self._all(
            "SELECT id, person, key, event_type, severity, created_at, payload, acked_at, "
            "held_back FROM alert WHERE person = ? AND created_at >= ? "
            "AND (? IS NULL OR created_at < ?) AND (? IS NULL OR event_type = ?) "
            "AND (? OR held_back IS NULL) ORDER BY created_at, id",
            (
                person,
                _ts(since) if since else "",
                *(2 * [_ts(until) if until else None]),
                event_type,
                event_type,
                held_back,
            ),
        )
        return [
            StoredAlert(
                r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]), r[6],
                datetime.fromisoformat(r[7]) if r[7] else None, r[8],
            )
            for r in rows
        ]  # fmt: skip

    async def ack_alert(self, person: str, alert_id: str, at: datetime) -> bool:
        """Mark an alert acknowledged; False if there is no such alert for the person."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE alert SET acked_at = coalesce(acked_at, ?) WHERE person = ? AND id = ?",
                (_ts(at), person, alert_id),
            )
            return cursor.rowcount > 0

    async def ack_waiting(self, person: str, *, until: datetime, at: datetime) -> list[str]:
        """Acknowledge every alert up to `until` that waits for it; their ids, oldest first."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT id FROM alert WHERE person = ? AND acked_at IS NULL AND created_at <= ? "
                "AND json_extract(payload, '$.requires_ack') = 1 ORDER BY created_at, id",
                (person, _ts(until)),
            ) as cursor:
                ids = [str(row[0]) for row in await cursor.fetchall()]
            await db.executemany(
                "UPDATE alert SET acked_at = ? WHERE id = ?", [(_ts(at), i) for i in ids]
            )
        return ids

    async def outbox(self, limit: int = 100, exclude: Iterable[int] = ()) -> list[OutboxItem]:
        """Messages not yet acknowledged by the broker nor refused by it, oldest first."""
        skip = sorted(set(exclude))
        marks = ",".join("?" * len(skip))
        rows = await self._all(  # the query holds only '?' marks, never values
            "SELECT seq, alert_id, topic, payload FROM outbox WHERE failed_reason IS NULL "  # noqa: S608
            f"AND seq NOT IN ({marks}) ORDER BY seq LIMIT ?",
            (*skip, limit),
        )
        return [OutboxItem(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def outbox_size(self) -> int:
        """How many messages wait in the outbox (refused ones included)."""
        rows = await self._all("SELECT count(*) FROM outbox")
        return int(rows[0][0])

    async def delivered(self, seq: int) -> None:
        """The broker acknowledged a message: it leaves the outbox."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    async def refused(self, seq: int, reason: str) -> None:
        """The broker refused a message: keep it, marked, until a restart tries again."""
        async with self.transaction() as db:
            await db.execute("UPDATE outbox SET failed_reason = ? WHERE seq = ?", (reason, seq))

    async def retry_refused(self) -> None:
        """Give refused messages another chance (at start-up, when the broker may have changed)."""
        async with self.transaction() as db:
            await db.execute("UPDATE outbox SET failed_reason = NULL")

    # -- reports -------------------------------------------------------------------------------

    async def add_report(
        self,
        person: str,
        kind: str,
        at: datetime,
        received_at: datetime,
        payload: dict[str, Any],
        dedup: str,
        dedup_since: datetime | None,
    ) -> int | None:
        """Store a report, unless one with the same `dedup` key arrived since `dedup_since`.

        Returns the new report's id, or None for a duplicate. `dedup_since=None` means a
        duplicate at any time.
        """
        async with self.transaction() as db:
            async with db.execute(
                "SELECT 1 FROM report WHERE person = ? AND dedup = ? AND received_at >= ?",
                (person, dedup, _ts(dedup_since) if dedup_since else ""),
            ) as cursor:
                if await cursor.fetchone() is not None:
                    return None
            cursor = await db.execute(
                "INSERT INTO report (person, kind, at, received_at, payload, dedup) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    person,
                    kind,
                    _ts(at),
                    _ts(received_at),
                    json.dumps(payload, sort_keys=True),
                    dedup,
                ),
            )
            return cursor.lastrowid

    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]:
        """A person's reports of some kinds taken in [since, until), oldest first."""
        wanted = sorted(set(kinds))
        marks = ",".join("?" * len(wanted))
        rows = await self._all(
            f"SELECT id, person, kind, at, payload FROM report WHERE person = ? "  # noqa: S608
            f"AND kind IN ({marks}) AND at >= ? AND at < ? ORDER BY at, id",
            (person, *wanted, _ts(since), _ts(until)),
        )
        return [
            StoredReport(r[0], r[1], r[2], datetime.fromisoformat(r[3]), json.loads(r[4]))
            for r in rows
        ]


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
