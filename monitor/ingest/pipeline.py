"""The way in for readings: a bounded queue, then the raw log, then per-minute activity.

Every batch of readings is appended to the raw log (committed) before it is processed. The
minutes it yields are saved every SAVE_EVERY_S together with the processor's state and a
watermark (the last raw row they include), so after a crash the readings past the watermark
are processed again from the raw log: none lost, none counted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from devices.readings import Reading
from monitor.clock import Clock
from monitor.errors import ParseError, StoreError
from monitor.ingest.activity import ActivityProcessor, DeviceMinute, DeviceStatus, Processed
from monitor.store.database import Store
from monitor.store.rawlog import RawRow, unpack

log = logging.getLogger(__name__)

# A wearable that floods notifications cannot grow memory without bound: beyond this many
# waiting readings, new ones are dropped and counted.
MAX_QUEUED = 50_000
# Readings written and processed together; also the chunk size when catching up.
MAX_BATCH = 5_000
# After a storage failure, wait this long before trying the same batch again.
RETRY_S = 5.0
# Derived minutes are saved at most this often (seconds of the clock), or when asked to settle:
# saving the processor's state with every small batch would cost more than the batch.
SAVE_EVERY_S = 5.0

ProcessedListener = Callable[[Processed], None]


class Ingest:
    """Takes readings from links without blocking; stores and processes them in batches."""

    def __init__(
        self,
        store: Store,
        tz: ZoneInfo,
        clock: Clock,
        *,
        on_processed: ProcessedListener | None = None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._store = store
        self._tz = tz
        self._clock = clock
        self._on_processed = on_processed
        self._queue: asyncio.Queue[Reading] = asyncio.Queue(max_queued)
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
        try:
            self._queue.put_nowait(reading)
        except asyncio.QueueFull:
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

    def status(self, person: str, device: str) -> DeviceStatus:
        """What is known about one wearable's link."""
        return self._processor.status(person, device)

    @property
    def queued(self) -> int:
        """Readings waiting to be stored."""
        return self._queue.qsize()

    async def settle(self) -> None:
        """Return once every reading received so far is stored, processed and its minutes saved."""
        await self._ready.wait()
        await self._queue.join()
        await self.save()

    async def run(self) -> None:
        """Catch up on the raw log, then store and process readings as they come, for ever."""
        await self._resume()
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < MAX_BATCH and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                try:
                    await self._ingest(batch)
                finally:
                    for _ in batch:
                        self._queue.task_done()
                since = (self._clock.now() - self._saved_at).total_seconds()
                # A clock set back (an NTP step) would otherwise postpone saving until it caught up.
                if since >= SAVE_EVERY_S or since < 0:
                    await self.save()
        finally:
            # On the way out, save what was processed (the raw log has it anyway).
            await asyncio.shield(self.save())

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
        failures = 0
        while True:
            try:
                rows = await self._store.append_readings(batch)
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
            self._process(rows)
        except Exception:
            # The readings are safe in the raw log; start again from the saved state so that
            # nothing is half-applied, and catch up from there.
            log.exception("processing stored readings failed; they will be processed again")
            await self._resume()

    def _process(self, rows: Sequence[tuple[int, RawRow]]) -> None:
        # Process what the raw log holds (not the readings as they came in), so that a rebuild
        # from the raw log sees exactly the same values.
        readings: list[Reading] = []
        for raw_id, row in rows:
            try:
                readings.extend(unpack(*row))
            except ParseError as error:
                # Kept in the raw log for inspection; skipped, so it cannot stop everything.
                log.error(  # noqa: TRY400 - the reason is in the message; no traceback needed
                    "raw-log row %d (%s/%s) cannot be read: %s", raw_id, row[0], row[1], error
                )
        processed = self._processor.process(readings)
        for minute in processed.minutes:
            slot = (minute.person, minute.device, minute.minute)
            seen = self._unsaved.get(slot)
            self._unsaved[slot] = minute if seen is None else seen.plus(minute)
        self._unsaved_upto = rows[-1][0]
        for event in processed.events:
            log.info("%s/%s: step counter %s", event.person, event.device, event.outcome.value)
        if self._on_processed is not None:
            self._on_processed(processed)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
