"""The way in for readings: a bounded queue, then the raw log, then per-minute activity.

Readings are committed to the raw log in groups, at most COMMIT_WITHIN_S after they arrive
(one commit a second in steady state, not one per reading: each commit rewrites the log's last
page). Each group is processed as it came in, in the form the raw log gives it back, so that a
rebuild from the raw log derives identical minutes. The minutes are saved every SAVE_EVERY_S
together with the processor's state and a watermark (the last raw row they include), so after a
crash the readings past the watermark are processed again from the raw log: none lost, none
counted twice. Until saved, minutes are in memory, and `device_minutes` includes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from devices.readings import Reading
from monitor.clock import Clock
from monitor.errors import ParseError, StoreError
from monitor.ingest.activity import ActivityProcessor, DeviceMinute, DeviceStatus, Processed
from monitor.store.rawlog import RawRow, pack_stored, unpack

log = logging.getLogger(__name__)

# A wearable that floods notifications cannot grow memory without bound: beyond this many
# waiting readings, new ones are dropped and counted.
MAX_QUEUED = 50_000
# Readings written and processed together; also the chunk size when catching up.
MAX_BATCH = 5_000
# A reading is committed (safe from a killed process) within this many seconds of arriving,
# real or of the service's clock, whichever comes first (docs/reliability.md promises 1 s; the
# rest is the commit's own time). The service's clock also counts so that a simulation run at
# 600x commits as often per simulated second as a real home does.
COMMIT_WITHIN_S = 0.9
# After a storage failure, wait this long before trying the same batch again.
RETRY_S = 5.0
# Derived minutes are saved at most this often (seconds of the clock), or when asked to settle.
# Each save rewrites the pages of the current minutes and the processor's state (about five
# 1 KiB pages); the raw log holds the readings meanwhile, and `device_minutes` the minutes.
SAVE_EVERY_S = 60.0

ProcessedListener = Callable[[Processed], None]


class IngestStore(Protocol):
    """The store tables ingest needs: the raw log, the derived minutes, the processor's state."""

    async def append_rows(self, rows: Sequence[RawRow]) -> int: ...
    async def raw_after(self, raw_id: int, limit: int = ...) -> list[tuple[int, RawRow]]: ...
    async def processed_upto(self) -> int: ...
    async def processor_state(self) -> dict[str, Any] | None: ...
    async def apply_activity(
        self, minutes: Iterable[DeviceMinute], state: dict[str, Any], upto: int
    ) -> None: ...
    async def clear_activity(self) -> None: ...
    async def device_minutes(self, person: str, start: int, end: int) -> list[DeviceMinute]: ...


class Ingest:
    """Takes readings from links without blocking; stores and processes them in batches."""

    def __init__(
        self,
        store: IngestStore,
        tz: ZoneInfo,
        clock: Clock,
        *,
        on_processed: ProcessedListener | None = None,
        max_queued: int = MAX_QUEUED,
        commit_within_s: float = COMMIT_WITHIN_S,
    ) -> None:
        self._store = store
        self._commit_within_s = commit_within_s
        self._tz = tz
        self._clock = clock
        self._on_processed = on_processed
        self._waiting: deque[Reading] = deque()
        self._max_queued = max_queued
        self._arrived = asyncio.Event()  # readings are waiting
        self._flush = asyncio.Event()  # commit what is waiting now, without the window
        self._taken = 0  # readings accepted so far
        self._done = 0  # of them, stored and processed (or given up at shutdown)
        self._done_changed = asyncio.Event()
        self._oldest_at = 0.0  # when the oldest waiting reading arrived (event-loop time)
        self._processor = ActivityProcessor(tz)
        self._ready = asyncio.Event()
        self._unsaved: dict[tuple[str, str, int], DeviceMinute] = {}
        self._unsaved_upto: int | None = None
        self._saved_at = clock.now()
        self._saving = asyncio.Lock()
        self._save_failing = False
        self.dropped: Counter[tuple[str, str]] = Counter()
        self.on_dropped: Callable[[], None] | None = None  # told when a reading was dropped

    def put(self, reading: Reading) -> None:
        """Accept a reading from a link; never blocks. A full queue drops it and counts it."""
        waiting = len(self._waiting)
        if waiting < self._max_queued:
            if not waiting:
                self._oldest_at = self._loop_time()
            self._waiting.append(reading)
            self._taken += 1
            if not self._arrived.is_set():
                self._arrived.set()
            elif waiting + 1 == MAX_BATCH:
                self._flush.set()  # a full batch need not wait for the window
            return
        key = (reading.person, reading.device)
        self.dropped[key] += 1
        if self.on_dropped is not None:
            self.on_dropped()
        if self.dropped[key] in (1, 10, 100) or self.dropped[key] % 10_000 == 0:
            log.warning(
                "%s/%s: readings arrive faster than they can be stored; %d dropped so far",
                reading.person,
                reading.device,
                self.dropped[key],
            )

    @staticmethod
    def _loop_time() -> float:
        """The event loop's monotonic time, in seconds."""
        return asyncio.get_running_loop().time()

    def status(self, person: str, device: str) -> DeviceStatus:
        """What is known about one wearable's link."""
        return self._processor.status(person, device)

    @property
    def queued(self) -> int:
        """Readings waiting to be stored."""
        return len(self._waiting)

    async def settle(self) -> None:
        """Return once every reading received so far is stored, processed and its minutes saved."""
        await self._ready.wait()
        target = self._taken
        while self._done < target:
            self._done_changed.clear()
            self._flush.set()
            await self._done_changed.wait()
        await self.save()

    async def device_minutes(self, person: str, start: int, end: int) -> list[DeviceMinute]:
        """A person's per-device minutes in [start, end) (UTC epoch minutes), unsaved included.

        The same answer as the store's once everything is saved; taken while no save is under
        way, so that no minute is missed or counted twice.
        """
        async with self._saving:
            rows = await self._store.device_minutes(person, start, end)
            pending = [
                m
                for (p, _, minute), m in self._unsaved.items()
                if p == person and start <= minute < end
            ]
        if not pending:
            return rows
        merged = {(m.minute, m.device): m for m in rows}
        for minute in pending:
            slot = (minute.minute, minute.device)
            seen = merged.get(slot)
            merged[slot] = minute if seen is None else seen.plus(minute)
        return sorted(merged.values(), key=lambda m: (m.minute, m.device))

    async def run(self) -> None:
        """Catch up on the raw log, then store and process readings as they come, for ever."""
        await self._resume()
        try:
            while True:
                await self._arrived.wait()
                if not self._flush.is_set():
                    await self._gather()
                self._flush.clear()
                while self._waiting:
                    count = min(len(self._waiting), MAX_BATCH)
                    batch = [self._waiting.popleft() for _ in range(count)]
                    try:
                        await self._ingest(batch)
                    finally:
                        self._done += count
                        self._done_changed.set()
                self._arrived.clear()
                since = (self._clock.now() - self._saved_at).total_seconds()
                # A clock set back (an NTP step) would otherwise postpone saving until it caught up.
                if since >= SAVE_EVERY_S or since < 0:
                    await self.save()
        finally:
            # On the way out, save what was processed (the raw log has it anyway), and let
            # nobody wait for readings that will not be stored now.
            self._done = self._taken
            self._done_changed.set()
            await asyncio.shield(self.save())

    async def _gather(self) -> None:
        """Let readings gather until the oldest has waited COMMIT_WITHIN_S (real time, or the
        service clock's, whichever ends first), a batch is full, or someone asks to settle.

        One wake-up per group, not one per reading: a reading put meanwhile wakes nobody.
        """
        left = self._oldest_at + self._commit_within_s - self._loop_time()
        if left <= 0:
            return
        flush = asyncio.ensure_future(self._flush.wait())
        window = asyncio.ensure_future(self._clock.sleep(left))
        try:
            await asyncio.wait((flush, window), timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            flush.cancel()
            window.cancel()

    async def save(self) -> None:
        """Save the minutes processed so far, the processor's state and the watermark, at once."""
        async with self._saving:
            if self._unsaved_upto is None:
                return
            minutes, upto = self._unsaved, self._unsaved_upto
            state = self._processor.to_json()
            self._unsaved, self._unsaved_upto = {}, None
            self._saved_at = self._clock.now()
            try:
                await self._store.apply_activity(list(minutes.values()), state, upto)
            except StoreError as error:
                # Keep them (the raw log has the readings anyway) and try again next time.
                if not self._save_failing:
                    log.error("cannot save processed minutes yet: %s", error)  # noqa: TRY400
                self._save_failing = True
                for slot, minute in minutes.items():
                    newer = self._unsaved.get(slot)
                    self._unsaved[slot] = minute if newer is None else minute.plus(newer)
                self._unsaved_upto = max(upto, self._unsaved_upto or upto)
            else:
                if self._save_failing:
                    log.warning("processed minutes are being saved again")
                self._save_failing = False

    async def rebuild(self) -> int:
        """Throw away derived activity and derive it again from the raw log; returns rows read."""
        await self._store.clear_activity()
        self._processor = ActivityProcessor(self._tz)
        self._unsaved, self._unsaved_upto = {}, None
        return await self._catch_up()

    async def _resume(self) -> None:
        self._processor = ActivityProcessor(self._tz, await self._store.processor_state())
        self._unsaved, self._unsaved_upto = {}, None
        caught_up = await self._catch_up()
        if caught_up:
            log.info("processed %d raw-log rows left over from the last run", caught_up)
        self._ready.set()

    async def _catch_up(self) -> int:
        total = 0
        upto = await self._store.processed_upto()
        while rows := await self._store.raw_after(upto, MAX_BATCH):
            self._process(rows)
            await self.save()
            upto = rows[-1][0]
            total += len(rows)
        return total

    async def _ingest(self, batch: list[Reading]) -> None:
        rows, stored = pack_stored(batch)
        failures = 0
        while True:
            try:
                first = await self._store.append_rows(rows)
                break
            except StoreError as error:
                # Said once, not at every attempt: an outage can last hours.
                if failures == 0:
                    log.error(  # noqa: TRY400 - the reason is in the message
                        "cannot store readings (%s); holding them and trying again every %.0f s",
                        error,
                        RETRY_S,
                    )
                failures += 1
                await self._clock.sleep(RETRY_S)
        if failures:
            log.warning("storing readings again, after %d failed attempt(s)", failures)
        try:
            # The readings as the raw log gives them back (motion as float32), so that a
            # rebuild from the raw log sees exactly the same values; not read back from it.
            self._apply(stored, first + len(rows) - 1)
        except Exception:
            # The readings are safe in the raw log; start again from the saved state so that
            # nothing is half-applied, and catch up from there.
            log.exception("processing stored readings failed; they will be processed again")
            await self._resume()

    def _process(self, rows: Sequence[tuple[int, RawRow]]) -> None:
        """Process rows read back from the raw log (catching up, rebuilding)."""
        readings: list[Reading] = []
        for raw_id, row in rows:
            try:
                readings.extend(unpack(*row))
            except ParseError as error:
                # Kept in the raw log for inspection; skipped, so it cannot stop everything.
                log.error(  # noqa: TRY400 - the reason is in the message; no traceback needed
                    "raw-log row %d (%s/%s) cannot be read: %s", raw_id, row[0], row[1], error
                )
        self._apply(readings, rows[-1][0])

    def _apply(self, readings: Sequence[Reading], upto: int) -> None:
        processed = self._processor.process(readings)
        for minute in processed.minutes:
            slot = (minute.person, minute.device, minute.minute)
            seen = self._unsaved.get(slot)
            self._unsaved[slot] = minute if seen is None else seen.plus(minute)
        self._unsaved_upto = upto
        for event in processed.events:
            log.info("%s/%s: step counter %s", event.person, event.device, event.outcome.value)
        if self._on_processed is not None:
            self._on_processed(processed)
