"""`recovery-monitor report`: the last N days as a person would want to read them, from the store.

Per day: target, walked, steps, movement, pain, function, alerts; then adherence, the trend in
plain words, and the alerts that mattered. `--png FILE` also draws walking against target with
pain and function. Reading only: safe while the service runs (SQLite WAL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.clock import SystemClock
from monitor.config import Config, PersonConfig, load_config
from monitor.days import day_bounds, day_start, local_date
from monitor.errors import ConfigError, MonitorError
from monitor.recovery.alerts import Severity
from monitor.recovery.plan import (
    WeekPlan,
    exercises,
    expected_sessions,
    movement_target,
    pain_type_note,
    phase_of,
    plan_day,
    precaution_notes,
    session_note,
    target_met,
    week_plan,
)
from monitor.recovery.symptoms import treatment_paused_days
from monitor.recovery.tracking import (
    daily_scores,
    exercise_counts,
    exercises_done,
    sessions,
    symptom_reports,
)
from monitor.recovery.trends import describe_trend
from monitor.service.progress import Progress
from monitor.store.alerts import StoredAlert
from monitor.store.database import Store

DEFAULT_DAYS = 14
REPORT_KINDS = ("pain", "function", "session", "exercise", "symptom")


@dataclass(frozen=True, slots=True)
class DayRow:
    """One day of the report; `complete` is False for today, still under way."""

    day: date
    plan_day: int | None
    target: float | None
    walked: float | None
    steps: int | None
    movement: int | None
    movement_target: int | None
    pain: float | None
    function: float | None
    alerts: tuple[str, ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class Part:
    """One part of adherence: done against asked."""

    name: str
    done: float
    asked: float

    @property
    def percent(self) -> float:
        """Done as a share of asked, in percent, at most 100."""
        return min(100.0, 100.0 * self.done / self.asked) if self.asked else 0.0


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the report shows, gathered from the store."""

    person: PersonConfig
    first: date
    last: date
    rows: tuple[DayRow, ...]
    adherence: tuple[Part, ...]
    session_notes: tuple[str, ...]
    trend: str
    sent: tuple[StoredAlert, ...]
    held_back: tuple[StoredAlert, ...]
    week: WeekPlan | None

    @property
    def adherence_percent(self) -> float | None:
        """The mean of the adherence parts that the plan asked for, or None if none did."""
        parts = [p.percent for p in self.adherence if p.asked > 0]
        return sum(parts) / len(parts) if parts else None


async def gather(
    store: Store, config: Config, person: PersonConfig, last: date, days: int, now: datetime
) -> ReportData:
    """The report's numbers for [last - days + 1, last], as of `now`, straight from the store."""
    tz = config.service.timezone
    first = max(last - timedelta(days=days - 1), person.plan_start)
    progress = Progress(store, tz)
    start, end = day_start(first, tz), day_bounds(last, tz)[1]
    results = {r.day: r for r in await store.day_results(person.id, first) if r.day <= last}
    reports = await store.reports(person.id, REPORT_KINDS, start, end)
    pain = daily_scores(reports, "pain", tz)
    function = daily_scores(reports, "function", tz)
    every = await store.alerts(person.id, since=start, until=end, held_back=True)
    sent = tuple(a for a in every if a.held_back is None)
    by_day: dict[date, list[str]] = defaultdict(list)
    for alert in sent:
        by_day[local_date(alert.created_at, tz)].append(alert.event_type)
    today = local_date(now, tz)
    # One pass for the whole range: the targets from the plan's start, the minutes of the days
    # not yet judged in one read (a constant number of queries, linear in the days).
    targets = await progress.walking_targets(person, first, last)
    span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    unjudged = [
        (day, min(now, progress.day_plan_times(person, day)[1]))
        for day in span
        if day not in results
    ]
    activities = await progress.day_activities(person, unjudged)
    rows: list[DayRow] = []
    for day in span:
        number = plan_day(person.plan_start, day)
        result = results.get(day)
        complete = result is not None or day < today
        if result is not None:
            target: float | None = result.target_minutes
            walked, steps, movement = result.walked_minutes, result.steps, result.movement_minutes
        else:
            target = targets.get(day)
            activity = activities[day]
            walked, steps = activity.walking_minutes, activity.steps
            movement = activity.movement_minutes
        rows.append(
            DayRow(
                day,
                number,
                target,
                walked,
                steps,
                movement,
                movement_target(number) if number is not None else None,
                pain.get(day),
                function.get(day),
                tuple(by_day.get(day, ())),
                complete,
            )
        )
    done_rows = [r for r in rows if r.complete and r.plan_day is not None]
    # Days on which the person was told to stop treatment ask no massage or exercises of them.
    paused = treatment_paused_days(symptom_reports(reports), tz)
    counts = exercise_counts(reports, tz)
    asked_exercises = done_exercises = 0
    for row in (r for r in done_rows if r.day not in paused):
        asked = {e.kind: e.per_day for e in exercises(phase_of(row.plan_day or 1))}
        asked_exercises += sum(asked.values())
        done_exercises += exercises_done(counts.get(row.day, {}), asked)
    done = [s for s in sessions(reports, tz) if any(s.day == r.day for r in done_rows)]
    massage = [s for s in done if s.day not in paused]
    asked_sessions = (
        round(
            expected_sessions(person.plan_start, done_rows[0].day, done_rows[-1].day, paused=paused)
        )
        if done_rows
        else 0
    )
    judged = [r for r in done_rows if r.target is not None and r.walked is not None]
    met = sum(1 for r in judged if target_met(r.walked or 0.0, r.target or 0.0))
    parts = (
        Part("walking", met, len(judged)),
        Part("exercises", done_exercises, asked_exercises),
        Part("massage", len(massage), asked_sessions),
    )
    notes = tuple(
        f"{s.day:%a %d %b}: {s.kind} session of {s.minutes} minutes: {note}"
        for s in done
        if (note := session_note(s.kind, s.minutes)) is not None
    )
    number = plan_day(person.plan_start, min(last, today))
    return ReportData(
        person=person,
        first=first,
        last=last,
        rows=tuple(rows),
        adherence=parts,
        session_notes=notes,
        trend=describe_trend(pain, function, first, last),
        sent=sent,
        held_back=tuple(a for a in every if a.held_back is not None),
        week=week_plan(number) if number is not None else None,
    )


def render_text(data: ReportData, tz: ZoneInfo) -> str:
    """The report as plain text."""
    person = data.person
    days = (data.last - data.first).days + 1
    lines = [
        f"Recovery report for {person.id}: {data.first:%a %d %b} to {data.last:%a %d %b %Y} "
        f"({days} day{'s' if days != 1 else ''})",
        f"Plan: {person.pain_type.value} pain, started {person.plan_start:%a %d %b %Y}.",
    ]
    if data.week is not None:
        week = data.week
        asked = "; ".join(
            [
                _walking_words(person),
                f"{week.massage.wording} (30-60 minutes, by a person's hands)",
                *(e.wording for e in week.exercises),
                *(
                    [f"{week.movement_minutes}+ minutes of movement a day"]
                    if week.movement_minutes
                    else []
                ),
                f"{' and '.join(week.scores)} score{'s' if len(week.scores) > 1 else ''} daily",
            ]
        )
        lines += [
            f"Now in week {week.week}, phase {int(week.phase)}: {week.focus}.",
            f"  The plan asks: {asked}.",
        ]
    lines.append(f"  {pain_type_note(person.pain_type)}")
    if person.precautions:
        lines.append(f"  Precautions: {'; '.join(precaution_notes(person.precautions))}.")
    lines += ["", _table(data.rows), ""]
    percent = data.adherence_percent
    if percent is None:
        lines.append("Adherence: no complete day yet.")
    else:
        lines.append(f"Adherence: {percent:.0f}% ({_parts(data.adherence)}).")
    lines += [f"  Note: {note}" for note in data.session_notes]
    lines.append(f"Trend: {data.trend}.")
    lines.append(_alerts_line(data))
    for alert in data.sent:
        if alert.severity != Severity.INFO.value:
            lines.append(f"  {_alert_line(alert, tz)}")
    return "\n".join(lines) + "\n"


def _walking_words(person: PersonConfig) -> str:
    plan = person.walking
    if plan.daily_increase_minutes == 0:
        return f"walking {plan.start_minutes} minutes a day"
    return (
        f"walking from {plan.start_minutes} minutes, {plan.daily_increase_minutes} more each day "
        f"the target is met, up to {plan.cap_minutes} minutes a day"
    )


def _table(rows: Sequence[DayRow]) -> str:
    header = "day         plan  target  walked  steps  moved  pain  function  alerts"
    out = [header]
    for row in rows:
        walked = "-" if row.walked is None else f"{row.walked:.1f}{'' if row.complete else '*'}"
        moved = "-" if row.movement is None else str(row.movement)
        if row.movement_target is not None:
            moved += f"/{row.movement_target}"
        cells = [
            f"{row.day:%a %d %b}",
            f"{_n(row.plan_day):>4}",
            f"{_n(row.target):>6}",
            f"{walked:>6}",
            f"{_n(row.steps):>5}",
            f"{moved:>5}",
            f"{_n(row.pain):>4}",
            f"{_n(row.function):>8}",
            ", ".join(row.alerts) or "-",
        ]
        out.append("  ".join(cells))
    if any(not r.complete for r in rows):
        out.append("* so far today")
    return "\n".join(out)


def _parts(parts: Sequence[Part]) -> str:
    words = []
    for part in parts:
        if part.asked <= 0:
            continue
        if part.name == "walking":
            words.append(
                f"walking target met on {part.done:g} of {part.asked:g} days ({part.percent:.0f}%)"
            )
        elif part.name == "exercises":
            words.append(f"exercises {part.done:g} of {part.asked:g} ({part.percent:.0f}%)")
        else:
            words.append(f"massage {part.done:g} of {part.asked:g} sessions ({part.percent:.0f}%)")
    return "; ".join(words)


def _alerts_line(data: ReportData) -> str:
    critical = sum(1 for a in data.sent if a.severity == Severity.CRITICAL.value)
    text = f"Alerts: {len(data.sent)} sent"
    if critical:
        text += f" ({critical} critical)"
    if data.held_back:
        reasons = sorted({a.held_back or "" for a in data.held_back})
        text += (
            f"; {len(data.held_back)} reminder(s) held back by the alert policy "
            f"({', '.join(r.replace('_', ' ') for r in reasons)})"
        )
    return text + "."


def _alert_line(alert: StoredAlert, tz: ZoneInfo) -> str:
    title = json.loads(alert.payload).get("title", alert.event_type)
    return f"{alert.created_at.astimezone(tz):%a %d %b %H:%M}  {alert.severity:<8}  {title}"


def _n(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# -- the PNG ---------------------------------------------------------------------------------


def render_png(data: ReportData, path: Path) -> None:
    """Draw walking minutes against the target, with pain and function, into a PNG file."""
    import matplotlib as mpl  # heavy, and only needed for --png

    mpl.use("Agg")  # no screen: draw into files only
    from matplotlib import pyplot as plt

    rows = data.rows
    x = list(range(len(rows)))
    labels = [f"{r.day:%a}\n{r.day:%d %b}" for r in rows]
    figure, walking = plt.subplots(figsize=(max(7.0, 0.45 * len(rows) + 3), 4.8), dpi=110)
    try:
        walked = [r.walked or 0.0 for r in rows]
        colours = [
            "#b8b8b8"
            if not r.complete
            else "#4c9f70"
            if r.target is not None and target_met(r.walked or 0.0, r.target)
            else "#d98c3f"
            for r in rows
        ]
        walking.bar(
            x, walked, color=colours, width=0.65, label="walked (orange: short; grey: so far)"
        )
        targets = [r.target if r.target is not None else float("nan") for r in rows]
        walking.hlines(
            targets, [i - 0.42 for i in x], [i + 0.42 for i in x], color="#222222",
            linewidth=2.2, label="target",
        )  # fmt: skip
        walking.set_ylabel("walking minutes")
        walking.set_ylim(0, max([*walked, *(t for t in targets if t == t), 5.0]) * 1.25)
        step = max(1, len(rows) // 14)
        walking.set_xticks(x[::step], labels[::step], fontsize=8)
        scores = walking.twinx()
        for name, values, colour in (
            ("pain", [r.pain for r in rows], "#c0392b"),
            ("function", [r.function for r in rows], "#2e6fb7"),
        ):
            scores.plot(
                x,
                [v if v is not None else float("nan") for v in values],
                marker="o",
                markersize=4,
                color=colour,
                linewidth=1.6,
                label=name,
            )
        scores.set_ylim(0, 10.5)
        scores.set_ylabel("score (0-10)")
        handles = walking.get_legend_handles_labels()
        more = scores.get_legend_handles_labels()
        walking.legend(
            handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8, ncol=4
        )
        walking.set_title(
            f"{data.person.id}: walking against target, pain and function, "
            f"{data.first:%d %b} to {data.last:%d %b %Y}",
            fontsize=10,
        )
        figure.text(0.01, 0.01, f"Trend: {data.trend}", fontsize=8)
        figure.tight_layout(rect=(0, 0.04, 1, 1))
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


# -- the command -------------------------------------------------------------------------------


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report` on the command line."""
    parser = commands.add_parser("report", help="progress over the last days, in plain words")
    parser.add_argument("--config", required=True, type=Path, help="the TOML config file")
    parser.add_argument("--person", help="the person's id (default: the first in the config)")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="how many days (14)")
    parser.add_argument(
        "--until", type=date.fromisoformat, help="the last day, YYYY-MM-DD (default: today)"
    )
    parser.add_argument("--png", type=Path, metavar="FILE", help="also draw a plot into FILE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the report (and write the PNG); 0 on success, 2 for bad usage, 1 on failure."""
    if not 1 <= args.days <= 366:
        print("recovery-monitor: --days must be 1-366", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"recovery-monitor: {error}", file=sys.stderr)
        return 2
    try:
        person = config.person(args.person) if args.person else config.persons[0]
    except (KeyError, IndexError):
        print(f"recovery-monitor: no person {args.person or ''} in the config", file=sys.stderr)
        return 2
    if not config.service.database.is_file():
        print(
            f"recovery-monitor: no database at {config.service.database}: has the service run?",
            file=sys.stderr,
        )
        return 1
    now = SystemClock().now()
    last = args.until or local_date(now, config.service.timezone)
    try:
        text = asyncio.run(_report(config, person, last, args.days, now, args.png))
    except (MonitorError, OSError) as error:
        print(f"recovery-monitor: {error}", file=sys.stderr)
        return 1
    print(text, end="")
    return 0


async def _report(
    config: Config, person: PersonConfig, last: date, days: int, now: datetime, png: Path | None
) -> str:
    async with Store.open(config.service.database) as store:
        data = await gather(store, config, person, last, days, now)
    if png is not None:
        render_png(data, png)
    text = render_text(data, config.service.timezone)
    if png is not None:
        text += f"Plot written to {png}\n"
    return text
