"""What the service does the moment a report is stored: alerts that cannot wait for a checkpoint.

A symptom report raises its critical alert at once, and the escalations the person's earlier
reports of the same symptom call for (stiffness over 48 hours, any warning symptom over 72).
Other reports change targets and trends, which the scheduler judges at its own moments.

The alerts are worked out before the report is stored and stored in the report's own
transaction (`Planned.react`), so a stored symptom report always has them, whenever the
process dies. Every one of them is ALWAYS_SENT, so no policy (and no read of past alerts)
stands between the report and its alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.days import local_date
from monitor.recovery.alerts import AlertDraft
from monitor.recovery.symptoms import (
    EPISODE_GAP,
    Reported,
    SymptomKind,
    episode,
    episode_alerts,
    symptom_alert,
)
from monitor.recovery.tracking import SymptomReport, symptom_reports
from monitor.store.alerts import QueuedAlert
from monitor.store.reports import ReportStored, StoredReport

# An episode may run for weeks, so the first look goes back to the beginning.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Reports may be stamped a little ahead of our clock (a phone's); look that far ahead too.
_AHEAD = timedelta(days=1)


class EpisodeStore(Protocol):
    """The report repository reactions read episodes from (ReportTables is one)."""

    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]: ...


class AlertMaker(Protocol):
    """Turns drafts into storable alerts, and announces them once stored (Alerter is one)."""

    def prepare(
        self, person: str, draft: AlertDraft, now: datetime, *, held_back: str | None = None
    ) -> QueuedAlert: ...

    def announce(self, queued: QueuedAlert, draft: AlertDraft) -> object: ...


@dataclass(frozen=True, slots=True)
class _Episode:
    first: Reported
    latest: Reported


@dataclass(frozen=True, slots=True)
class _Drafted:
    episode: _Episode
    drafts: list[AlertDraft]


class Planned:
    """The reaction to one symptom report, worked out before it is stored.

    `react` runs inside the report's transaction (on the database thread; pure); `settle`
    runs on the loop once the transaction committed.
    """

    def __init__(
        self,
        owner: Reactions,
        person: str,
        symptom: SymptomKind,
        at: datetime,
        now: datetime,
        known: _Episode | None,
        history: Sequence[Reported] | None,
    ) -> None:
        self._owner = owner
        self._person = person
        self._symptom = symptom
        self._at = at
        self._now = now
        self._known = known
        self._history = history
        self._drafted: _Drafted | None = None

    def react(self, report_id: int) -> list[QueuedAlert]:
        """The alerts the report with this id calls for, ready to store with it."""
        this = SymptomReport(report_id, self._symptom, self._at)
        if self._history is not None:
            chain = episode(this, self._history)
            current = _Episode(chain[0], chain[-1])
        elif self._known is not None and this.at - self._known.latest.at <= EPISODE_GAP:
            current = _Episode(self._known.first, this)
        else:
            current = _Episode(this, this)  # a new episode begins
        day = local_date(self._at, self._owner.tz).isoformat()
        drafts = [
            symptom_alert(self._symptom, report_id, day),
            *episode_alerts(self._symptom, current.first, current.latest, self._owner.tz),
        ]
        self._drafted = _Drafted(current, drafts)
        alerter = self._owner.alerter
        return [alerter.prepare(self._person, draft, self._now) for draft in drafts]

    def settle(self, stored: ReportStored) -> None:
        """After the commit: remember the episode, announce the alerts that were stored."""
        if self._drafted is None:
            return
        if not stored.duplicate:
            self._owner.remember(self._person, self._symptom, self._drafted.episode)
        by_key = {draft.key: draft for draft in self._drafted.drafts}
        for queued in stored.alerts:
            self._owner.alerter.announce(queued, by_key[queued.alert.key])


class Reactions:
    """Plans the reaction to symptom reports; remembers each person's current episode of each.

    Reports usually arrive in time order, and then an episode only needs its first and latest
    report: the store is read again only for the first report of a symptom after a start, or
    for a report older than the latest one seen.
    """

    def __init__(self, store: EpisodeStore, alerter: AlertMaker, tz: ZoneInfo) -> None:
        self._store = store
        self.alerter = alerter
        self.tz = tz
        self._episodes: dict[tuple[str, SymptomKind], _Episode] = {}

    async def plan(self, person: str, symptom: SymptomKind, at: datetime, now: datetime) -> Planned:
        """The reaction to a symptom report taken `at`, to store with it; reads the store only
        when the episode it belongs to is not remembered."""
        known = self._episodes.get((person, symptom))
        history: list[SymptomReport] | None = None
        if known is None or known.latest.at > at:
            stored = await self._store.reports(person, ["symptom"], _EPOCH, at + _AHEAD)
            history = symptom_reports(stored)
        return Planned(self, person, symptom, at, now, known, history)

    def plan_unread(
        self, person: str, symptom: SymptomKind, at: datetime, now: datetime
    ) -> Planned:
        """As `plan`, without reading the store (which failed): the remembered episode, or a
        new one; the report's own critical alert is the same either way."""
        known = self._episodes.get((person, symptom))
        return Planned(self, person, symptom, at, now, known, None if known else [])

    def remember(self, person: str, symptom: SymptomKind, current: _Episode) -> None:
        """The episode a newly stored report belongs to, as of that report."""
        self._episodes[(person, symptom)] = current
