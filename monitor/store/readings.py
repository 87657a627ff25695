"""The raw log and the per-minute activity derived from it, with the processor's watermark."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from devices.readings import Reading
from monitor.errors import StoreError
from monitor.ingest.activity import DeviceMinute
from monitor.store.connection import Connection
from monitor.store.rawlog import RawRow, pack

WATERMARK = "processed_upto"
PROCESSOR = "activity"
MOTION_HORIZON = "motion_pruned_before"


class ReadingTables(Connection):
    """raw_reading, device_minute and processor_state."""

    # -- raw log ------------------------------------------------------------------------------

    async def append_readings(self, readings: Sequence[Reading]) -> list[tuple[int, RawRow]]:
        """Append readings to the raw log, committed, before anything processes them."""
        rows = pack(readings)
        first = await self.append_rows(rows)
        return [(first + index, row) for index, row in enumerate(rows)]

    async def append_rows(self, rows: Sequence[RawRow]) -> int:
        """Append packed rows to the raw log in one transaction; returns the first one's id.

        The rows get consecutive ids (checked), so the last one's is `first + len(rows) - 1`.
        """
        last_id = "SELECT coalesce(max(id), 0) FROM raw_reading"

        def append(db: sqlite3.Connection) -> int:
            # On the database thread, in one trip (one event-loop wake-up a commit, not five).
            (last,) = db.execute(last_id).fetchone()
            db.executemany(
                "INSERT INTO raw_reading (person, device, received_us, kind, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            # Inside this transaction nobody else inserts, and a new rowid is max(rowid) + 1,
            # so the rows got consecutive ids; check rather than trust.
            (now_last,) = db.execute(last_id).fetchone()
            if now_last != last + len(rows):
                raise StoreError("raw log ids are not consecutive: the database was changed")
            return int(last) + 1

        return await self.atomic(append, bulk=True)

    async def raw_after(self, raw_id: int, limit: int = 5000) -> list[tuple[int, RawRow]]:
        """Raw-log rows after `raw_id`, oldest first."""
        rows = await self._all(
            "SELECT id, person, device, received_us, kind, payload FROM raw_reading "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (raw_id, limit),
        )
        return [(r[0], (r[1], r[2], r[3], r[4], bytes(r[5]))) for r in rows]

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
        async with self.transaction(bulk=True) as db:
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
        """Delete processed raw motion older than `before_us`; returns how many rows went.

        The raw log has no index by time (it would cost a page in every commit): rows are in
        time order by id but for clock steps, so the last row before `before_us` is found by
        bisection on id, and the rows up to it are deleted. A row left past it by a clock
        stepped back goes at a later prune.
        """
        async with self.transaction() as db:
            async with db.execute(
                "SELECT value FROM processor_state WHERE name = ?", (WATERMARK,)
            ) as cursor:
                row = await cursor.fetchone()
            processed = int(row[0]) if row else 0
            async with db.execute("SELECT min(id), max(id) FROM raw_reading") as cursor:
                row = await cursor.fetchone()
            if row is None or row[0] is None:
                return 0
            # The newest row stays, whatever its age: a new row's id is max(id) + 1, so deleting
            # it would hand its id, which the watermark already covers, to the next reading.
            lo, hi = int(row[0]), min(processed, int(row[1]) - 1)
            boundary = lo - 1  # the last id known to be older than before_us
            while lo <= hi:
                middle = (lo + hi) // 2
                async with db.execute(
                    "SELECT id, received_us FROM raw_reading WHERE id >= ? AND id <= ? "
                    "ORDER BY id LIMIT 1",
                    (middle, hi),
                ) as cursor:
                    found = await cursor.fetchone()
                if found is None:
                    hi = middle - 1
                elif found[1] < before_us:
                    boundary, lo = found[0], found[0] + 1
                else:
                    hi = middle - 1
            cursor = await db.execute(
                "DELETE FROM raw_reading WHERE id <= ? AND kind = 'motion' AND received_us < ?",
                (boundary, before_us),
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
