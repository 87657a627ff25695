"""What the service does the moment a report is stored: alerts that cannot wait for a checkpoint.

A symptom report raises its critical alert at once, and the escalations the person's earlier
reports of the same symptom call for (stiffness over 48 hours, any warning symptom over 72).
Other reports change targets and trends, which the scheduler judges at its own moments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.alerter import Alerter
from monitor.days import local_date
from monitor.store import Store
from monitor.symptoms import SymptomKind, persistence_alerts, symptom_alert
from monitor.tracking import SymptomReport, symptom_reports

# Every symptom report the person ever made is looked at: an episode may run for weeks.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Reports may be stamped a little ahead of our clock (a phone's); look that far ahead too.
_AHEAD = timedelta(days=1)


async def act_on_report(
    store: Store,
    alerter: Alerter,
    tz: ZoneInfo,
    person: str,
    report_id: int,
    kind: str,
    at: datetime,
    fields: dict[str, Any],
) -> None:
    """Raise the alerts a newly stored report calls for at once (only symptoms do)."""
    if kind != "symptom":
        return
    symptom = SymptomKind(fields["symptom"])
    await alerter.raise_alert(
        person, symptom_alert(symptom, report_id, local_date(at, tz).isoformat())
    )
    reports = symptom_reports(await store.reports(person, ["symptom"], _EPOCH, at + _AHEAD))
    this = SymptomReport(report_id, symptom, at)
    for draft in persistence_alerts(this, reports, tz):
        await alerter.raise_alert(person, draft)
