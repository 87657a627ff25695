"""The alerter and the reactions against small fakes at the seams they declare (no SQLite)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.clock import SimulatedClock
from monitor.mqtt.commands import AckAll, SymptomReported, parse_command
from monitor.recovery.symptoms import SymptomKind, symptom_alert
from monitor.service.alerter import Alerter
from monitor.service.reactions import Reactions
from monitor.store.alerts import QueuedAlert, StoredAlert
from monitor.store.reports import ReportStored, StoredReport

NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


class FakeAlerts:
    """The AlertStore seam: keys seen, alerts added, in memory."""

    def __init__(self) -> None:
        self.added: list[QueuedAlert] = []

    async def has_alert(self, person: str, key: str) -> bool:
        return any(q.alert.person == person and q.alert.key == key for q in self.added)

    async def alerts(
        self,
        person: str,
        since: datetime | None = None,
        event_type: str | None = None,
        *,
        held_back: bool = False,
        until: datetime | None = None,
    ) -> list[StoredAlert]:
        return [q.alert for q in self.added if q.alert.person == person]

    async def add_alerts(self, alerts: Sequence[QueuedAlert]) -> list[QueuedAlert]:
        new = [q for q in alerts if not await self.has_alert(q.alert.person, q.alert.key)]
        self.added.extend(new)
        return new


class Woken:
    def __init__(self) -> None:
        self.count = 0

    def wake(self) -> None:
        self.count += 1


class FakeReports:
    """The EpisodeStore seam: a list of stored reports, and how often it was read."""

    def __init__(self, reports: Iterable[StoredReport] = ()) -> None:
        self.stored = list(reports)
        self.reads = 0

    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]:
        self.reads += 1
        return [r for r in self.stored if r.person == person and since <= r.at < until]


async def test_a_symptom_alert_is_stored_queued_and_woken_once() -> None:
    store, woken = FakeAlerts(), Woken()
    alerter = Alerter(store, woken, SimulatedClock(NOON), "recovery")
    draft = symptom_alert(SymptomKind.LEG_WEAKNESS, 7, "2026-11-23")
    alert = await alerter.raise_alert("p1", draft)
    assert alert is not None
    assert await alerter.raise_alert("p1", draft) is None, "an occasion is raised once"
    [queued] = store.added
    assert queued.alert.key == "red_flag:7"
    assert queued.topics == ("recovery/p1/alert",)
    assert woken.count == 1


async def test_reactions_read_the_store_once_per_episode_and_escalate_after_72_hours() -> None:
    reports = FakeReports()
    alerter = Alerter(FakeAlerts(), Woken(), SimulatedClock(NOON), "recovery")
    reactions = Reactions(reports, alerter, LONDON)
    keys: list[str] = []
    for number, hours in enumerate([0, 30, 60, 80], start=1):
        at = NOON + timedelta(hours=hours)
        planned = await reactions.plan("p1", SymptomKind.LEG_NUMBNESS_TINGLING, at, at)
        queued = planned.react(number)
        planned.settle(ReportStored(number, False, queued))
        keys += [q.alert.key for q in queued]
    assert reports.reads == 1, "later reports of the episode come from memory"
    assert keys == [
        "warning_symptom:1",
        "warning_symptom:2",
        "warning_symptom:3",
        "warning_symptom:4",
        "symptom_persisting:1",
    ]


def test_the_parser_makes_typed_commands_that_match() -> None:
    symptom = parse_command(
        "recovery/p1/report/symptom",
        b'{"symptom": "leg_weakness", "note": "stairs"}',
        base="recovery",
        persons={"p1"},
        now=NOON,
    )
    match symptom:
        case SymptomReported(symptom=kind, note=note):
            assert (kind, note) == (SymptomKind.LEG_WEAKNESS, "stairs")
        case _:
            raise AssertionError(symptom)
    ack = parse_command(
        "recovery/p1/alert/ack", b'{"all": true}', base="recovery", persons={"p1"}, now=NOON
    )
    assert isinstance(ack, AckAll)
