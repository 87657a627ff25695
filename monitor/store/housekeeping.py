"""Keeping the database small: raw motion is kept for a window of days, then removed.

Derived activity, step counters, reports and alerts are kept for good; raw motion samples are
by far the bulkiest rows and, once processed, are only needed to rebuild recent minutes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from monitor.clock import Clock
from monitor.store.database import Store
from monitor.store.rawlog import to_micros

log = logging.getLogger(__name__)

# How often the service looks for raw motion past its window.
PRUNE_EVERY = timedelta(hours=1)


async def prune_raw_motion(store: Store, clock: Clock, keep_days: int) -> int:
    """Remove processed raw motion older than `keep_days`; returns how many rows went."""
    cutoff = clock.now() - timedelta(days=keep_days)
    removed = await store.prune_motion(to_micros(cutoff))
    if removed:
        log.info("removed %d raw motion rows older than %d day(s)", removed, keep_days)
    return removed


async def keep_tidy(store: Store, clock: Clock, keep_days: int) -> None:
    """Prune raw motion now and every PRUNE_EVERY, for ever."""
    while True:
        await prune_raw_motion(store, clock, keep_days)
        await clock.sleep(PRUNE_EVERY.total_seconds())
