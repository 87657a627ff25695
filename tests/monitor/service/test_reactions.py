"""Reactions to stored reports: the remembered episode gives what the whole history gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.clock import SimulatedClock
from monitor.recovery.symptoms import SymptomKind
from monitor.service.alerter import Alerter
from monitor.service.reactions import Reactions
from monitor.store.database import Store
from monitor.store.reports import NewReport

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)

# (hours after T0, symptom): stiffness over 48 h, a numbness episode over 72 h, a gap of 8 days
# that starts a new episode, and a report that arrives late, out of time order.
REPORTS = [
    (0, "severe_stiffness"),
    (30, "severe_stiffness"),
    (49, "severe_stiffness"),
    (1, "leg_numbness_tingling"),
    (40, "leg_numbness_tingling"),
    (74, "leg_numbness_tingling"),
    (74 + 8 * 24, "leg_numbness_tingling"),
    (74 + 9 * 24, "leg_numbness_tingling"),
    (20, "leg_numbness_tingling"),
]


class Woken:
    """The outbox's seam: counts wake-ups."""

    def __init__(self) -> None:
        self.count = 0

    def wake(self) -> None:
        self.count += 1


async def alert_keys(path: Path, *, remember: bool) -> set[str]:
    """The alerts the reports raise, with episodes remembered or read from the store each time."""
    async with Store.open(path) as store:
        woken = Woken()
        alerter = Alerter(store, woken, SimulatedClock(T0), "recovery")
        reactions = Reactions(store, alerter, LONDON)
        for hours, symptom in REPORTS:
            at = T0 + timedelta(hours=hours)
            report = NewReport("p1", "symptom", at, at, {"symptom": symptom}, f"{hours}", None)
            if not remember:
                reactions = Reactions(store, alerter, LONDON)
            planned = await reactions.plan("p1", SymptomKind(symptom), at, at)
            stored = await store.store_report(report, planned.react)
            planned.settle(stored)
            assert not stored.duplicate
            assert stored.alerts, "every symptom report raises at least its own alert"
        assert woken.count == len(await store.alerts("p1"))
        return {alert.key for alert in await store.alerts("p1")}


async def test_remembered_episodes_raise_what_the_whole_history_raises(tmp_path: Path) -> None:
    remembered = await alert_keys(tmp_path / "remembered.db", remember=True)
    assert remembered == await alert_keys(tmp_path / "history.db", remember=False)
    assert {key.split(":")[0] for key in remembered} == {
        "warning_symptom",
        "stiffness_lasting",
        "symptom_persisting",
    }
    persisting = {key for key in remembered if key.startswith("symptom_persisting")}
    assert len(persisting) == 1, "the second numbness episode is too short to persist"
