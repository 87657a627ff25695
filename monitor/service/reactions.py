"""What the service does the moment a report is stored: alerts that cannot wait for a checkpoint.

A symptom report raises its critical alert at once, and the escalations the person's earlier
reports of the same symptom call for (stiffness over 48 hours, any warning symptom over 72).
Other reports change targets and trends, which the scheduler judges at its own moments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.days import local_date
from monitor.recovery.symptoms import (
    EPISODE_GAP,
    Reported,
    SymptomKind,
    episode,
    episode_alerts,
    symptom_alert,
)
from monitor.recovery.tracking import SymptomReport, symptom_reports
from monitor.service.alerter import Alerter
from monitor.store.database import Store

# An episode may run for weeks, so the first look goes back to the beginning.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Reports may be stamped a little ahead of our clock (a phone's); look that far ahead too.
_AHEAD = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class _Episode:
    first: Reported
    latest: Reported


class Reactions:
    """Acts on stored reports; remembers each person's current episode of each symptom.

    Reports usually arrive in time order, and then an episode only needs its first and latest
    report: the store is read again only for the first report of a symptom after a start, or
    for a report older than the latest one seen.
    """

    def __init__(self, store: Store, alerter: Alerter, tz: ZoneInfo) -> None:
        self._store = store
        self._alerter = alerter
        self._tz = tz
        self._episodes: dict[tuple[str, SymptomKind], _Episode] = {}

    async def after_report(
        self, person: str, report_id: int, kind: str, at: datetime, fields: dict[str, Any]
    ) -> None:
        """Raise the alerts a newly stored report calls for at once (only symptoms do)."""
        if kind != "symptom":
            return
        symptom = SymptomKind(fields["symptom"])
        day = local_date(at, self._tz).isoformat()
        await self._alerter.raise_alert(person, symptom_alert(symptom, report_id, day))
        this = SymptomReport(report_id, symptom, at)
        current = await self._episode(person, this)
        for draft in episode_alerts(symptom, current.first, current.latest, self._tz):
            await self._alerter.raise_alert(person, draft)

    async def _episode(self, person: str, this: SymptomReport) -> _Episode:
        key = (person, this.kind)
        known = self._episodes.get(key)
        if known is not None and known.latest.at <= this.at:
            if this.at - known.latest.at <= EPISODE_GAP:
                current = _Episode(known.first, this)
            else:
                current = _Episode(this, this)  # a new episode begins
        else:
            stored = await self._store.reports(person, ["symptom"], _EPOCH, this.at + _AHEAD)
            chain = episode(this, symptom_reports(stored))
            current = _Episode(chain[0], chain[-1])
        self._episodes[key] = current
        return current
