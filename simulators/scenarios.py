"""Scripted people for the demo and tests: what they walk each day, what they report, and what
their wearables do.

A scenario knows the plan's rules (it uses the same pure progression as the service) so that
"on track" really means meeting that day's target. Between walks a scripted person potters
about the house (a few dozen steps now and then: movement, not walking), as people do, unless
the script says they sit still.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from devices.base import Link, ReadingSink
from devices.clock import Clock
from devices.readings import Battery, Reading
from devices.settings import DeviceConfig
from monitor.config import PersonConfig, WalkingPlan
from monitor.days import at_local
from monitor.recovery.plan import DayOutcome, walking_targets
from simulators.direct_link import Absence, DirectWearable
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from simulators.wearables import SimulatedWearable

# Scripted walks are this cadence (steps/minute): a comfortable pace.
CADENCE_SPM = 100.0
# Pottering about: a bout of this many minutes at CADENCE_SPM (30 steps: movement, no walking),
# every POTTER_EVERY through the waking day, kept POTTER_CLEARANCE away from walks.
POTTER_MINUTES = 0.3
POTTER_EVERY = timedelta(minutes=35)
POTTER_FROM, POTTER_UNTIL = time(8, 15), time(20, 45)
POTTER_CLEARANCE = timedelta(minutes=5)
ALL_DEVICES = "*"


@dataclass(frozen=True, slots=True)
class PhoneReport:
    """A report the person sends from their phone at a given moment."""

    at: datetime
    kind: str  # report kind (symptom, pain, function, session, exercise), or "ack"
    payload: dict[str, Any]  # for "ack": {"event_type": ...}, the latest such alert


@dataclass(frozen=True, slots=True)
class DayScript:
    """One day of a scenario, with a word on what it shows."""

    note: str
    walks: Sequence[tuple[time, float]] = ()  # (start, minutes)
    outdoors: bool = False  # walks happen out of the wearables' range
    reports: Sequence[tuple[time, str, dict[str, Any]]] = ()
    still: Sequence[tuple[time, time]] = ()  # no pottering in these
    potters: bool = True
    away: Sequence[tuple[str, time, time]] = ()  # (device or *, start, end)
    battery: Sequence[tuple[str, time, int]] = ()  # (device, at, percent)


DayPlanner = Callable[[int, int], DayScript]
"""Given the plan day (1-based) and its walking target, that day's script."""


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A named scenario: its story, its days, and the person's config it needs."""

    description: str
    planner: DayPlanner
    days: int
    pain_type: str = "acute"
    devices: tuple[str, ...] = ("watch",)
    surgery_weeks_before: int | None = None  # back surgery this many weeks before plan day 1
    alerts_toml: str = ""  # lines of [person.alerts]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole script, laid out in time."""

    name: str
    person: SimulatedPerson
    reports: tuple[PhoneReport, ...]
    absences: tuple[Absence, ...]  # every wearable out of range (walks outdoors)
    notes: tuple[str, ...]
    targets: tuple[int, ...]
    device_absences: Mapping[str, tuple[Absence, ...]] = field(default_factory=dict)
    battery: tuple[tuple[str, datetime, int], ...] = ()


def _scores(pain: float, function: float | None = None) -> list[tuple[time, str, dict[str, Any]]]:
    """The evening's pain (and function) scores."""
    reports: list[tuple[time, str, dict[str, Any]]] = [(time(20, 30), "pain", {"score": pain})]
    if function is not None:
        reports.append((time(20, 31), "function", {"score": function}))
    return reports


def _exercises(*kinds: str) -> list[tuple[time, str, dict[str, Any]]]:
    """The day's self-care exercises: cat-cow morning, noon and evening, plus the others once."""
    reports: list[tuple[time, str, dict[str, Any]]] = [
        (time(hour, 45), "exercise", {"kind": "cat_cow", "minutes": 5}) for hour in (8, 13, 19)
    ]
    reports.append((time(9, 15), "exercise", {"kind": "pelvic_tilt", "sets": 2, "reps": 10}))
    reports += [(time(9, 20 + i), "exercise", {"kind": kind}) for i, kind in enumerate(kinds)]
    return reports


# -- the scenarios --------------------------------------------------------------------------


def _week(day: int, target: int) -> DayScript:
    pain = [6, 6, 5, 5, 6, 5, 4][(day - 1) % 7]
    function = [4, 4, 5, 5, 4, 5, 6][(day - 1) % 7]
    daily = _scores(pain, function) + _exercises()
    if day in (1, 2):
        session = [(time(15, 0), "session", {"kind": "manual", "minutes": 45})] if day == 2 else []
        return DayScript("on track", [(time(10, 0), target + 2)], reports=daily + session)
    if day == 3:
        return DayScript(
            "falls behind, catches up after a nudge",
            [(time(11, 30), 2), (time(17, 0), target)],
            reports=daily,
        )
    if day == 4:
        return DayScript(
            "a missed day; OK on the first nudge holds back the others",
            [(time(18, 0), 3)],
            reports=[
                (time(12, 30), "ack", {"event_type": "behind_schedule"}),
                *_scores(pain, function),
            ],
        )
    if day == 5:
        return DayScript(
            "reports a warning symptom; the target holds",
            [(time(10, 0), target + 2)],
            reports=[
                (time(9, 30), "symptom", {"symptom": "severe_stiffness"}),
                (time(15, 0), "session", {"kind": "device", "minutes": 20}),
                *daily,
            ],
        )
    return DayScript(
        "recovering, walking outdoors (out of the wearable's range)",
        [(time(10, 30), target + 2)],
        outdoors=True,
        reports=daily,
    )


def _persisting(day: int, target: int) -> DayScript:
    walk = [(time(10, 0), target + 1)]
    stiff = {"symptom": "severe_stiffness", "note": "after yesterday's session"}
    if day == 1:
        return DayScript("on track", walk, reports=_scores(5, 5) + _exercises())
    if day == 2:
        return DayScript(
            "a massage session, then severe stiffness",
            walk,
            reports=[
                (time(9, 0), "session", {"kind": "manual", "minutes": 40}),
                (time(11, 0), "symptom", stiff),
                *_scores(6, 4),
            ],
        )
    if day == 3:
        return DayScript(
            "still stiff; the target holds",
            walk,
            reports=[(time(9, 0), "symptom", stiff), *_scores(6, 4)],
        )
    if day == 4:
        return DayScript(
            "still stiff after more than 48 hours: stop treatment",
            walk,
            reports=[(time(11, 30), "symptom", stiff), *_scores(6, 4)],
        )
    if day == 5:
        return DayScript(
            "still stiff after more than 72 hours: see a physician",
            walk,
            reports=[(time(11, 15), "symptom", stiff), *_scores(5, 5)],
        )
    return DayScript("easing", walk, reports=_scores(4, 5) + _exercises())


def _no_improvement(day: int, target: int) -> DayScript:
    week = (day - 1) // 7 + 1
    # About 6 in week 1, drifting to about 5.4 by week 8: less than the 2 points (30%) needed.
    pain = round(6.0 - 0.011 * (day - 1) + (0.5 if day % 3 == 0 else 0.0), 1)
    reports = _scores(pain, 5) + _exercises(*(("bird_dog", "dead_bug") if week > 4 else ()))
    sessions_on = (1, 4) if week <= 4 else (1,)
    if (day - 1) % 7 + 1 in sessions_on:
        reports.append((time(15, 0), "session", {"kind": "manual", "minutes": 45}))
    note = "sticks to the plan; pain eases only a little" if day < 56 else "week 8 ends"
    return DayScript(note, [(time(10, 0), target + 2)], reports=reports)


def _function_declining(day: int, target: int) -> DayScript:
    early = day <= 7
    pain = (6.5 if early else 4.5) - (0.5 if day % 2 else 0.0)
    function = (6.0 if early else 4.5) + (0.5 if day % 3 == 0 else 0.0)
    note = "pain and function steady" if early else "pain easing, function slipping"
    walk = [(time(10, 0), target + 1)]
    return DayScript(note, walk, reports=_scores(pain, function) + _exercises())


def _surgery(day: int, target: int) -> DayScript:
    return DayScript("the plan would start here", [(time(10, 0), target)])


def _missed_days(day: int, target: int) -> DayScript:
    if day <= 2:
        return DayScript("on track", [(time(10, 0), target + 1)], reports=_scores(5, 5))
    return DayScript("walks only a little", [(time(17, 0), 2)], reports=_scores(6, 4))


def _wearable_trouble(day: int, target: int) -> DayScript:
    walk = [(time(10, 0), target + 1)]
    if day == 1:
        return DayScript(
            "sits from 10:30 to 15:30; the clip's battery runs low",
            walk,
            still=[(time(10, 30), time(15, 30))],
            battery=[("clip", time(14, 0), 12)],
        )
    if day == 2:
        return DayScript(
            "leaves the watch at home; the clip still counts",
            walk,
            away=[("watch", time(7, 30), time(21, 30))],
        )
    return DayScript(
        "a day with no data at all: both wearables out of reach",
        walk,
        away=[(ALL_DEVICES, time(7, 30), time(21, 30))],
    )


SCENARIOS: dict[str, ScenarioSpec] = {
    "week": ScenarioSpec(
        "on track, falling behind, a missed day, a warning symptom, recovery", _week, 7
    ),
    "persisting-symptom": ScenarioSpec(
        "severe stiffness after a session, still reported after 48 and then 72 hours",
        _persisting,
        6,
    ),
    "no-improvement-8-weeks": ScenarioSpec(
        "8 weeks on the plan and pain has hardly eased: time to see a specialist",
        _no_improvement,
        56,
        pain_type="subacute",
        alerts_toml='escalation_topic = "recovery/demo/clinician"',
    ),
    "function-declining": ScenarioSpec(
        "pain eases over two weeks while everyday function slips",
        _function_declining,
        14,
        pain_type="chronic",
        alerts_toml='escalation_topic = "recovery/demo/clinician"',
    ),
    "surgery-too-recent": ScenarioSpec(
        "back surgery 4 weeks ago: the plan may not start yet", _surgery, 1, surgery_weeks_before=4
    ),
    "missed-days": ScenarioSpec(
        "a good start, then five short days in a row: the carer is told",
        _missed_days,
        7,
        alerts_toml='escalation_topic = "recovery/demo/carer"',
    ),
    "wearable-trouble": ScenarioSpec(
        "two wearables: long sitting, a low battery, a watch left at home, a day with no data",
        _wearable_trouble,
        3,
        devices=("watch", "clip"),
    ),
}


def person_toml(name: str, person_id: str, plan_start: date) -> str:
    """The [[person]] config of a named scenario's person, for the service to validate."""
    return spec_person_toml(SCENARIOS[name], person_id, plan_start)


def spec_person_toml(spec: ScenarioSpec, person_id: str, plan_start: date) -> str:
    """The [[person]] config of any scenario's person, for the service to validate."""
    lines = [
        "[[person]]",
        f'id = "{person_id}"',
        f'pain_type = "{spec.pain_type}"',
        f"plan_start = {plan_start.isoformat()}",
        'waking_hours = "08:00-21:00"',
        'checkpoints = ["12:00", "16:00", "19:00"]',
    ]
    if spec.surgery_weeks_before is not None:
        surgery = plan_start - timedelta(weeks=spec.surgery_weeks_before)
        lines.append(f"surgery_date = {surgery.isoformat()}")
    if spec.alerts_toml:
        lines += ["[person.alerts]", spec.alerts_toml]
    for device in spec.devices:
        profile = "infinitime" if device == "watch" else "thingy52"
        lines += ["[[person.device]]", f'id = "{device}"', f'profile = "{profile}"']
        lines.append(f'name = "{device}"')
    return "\n".join(lines) + "\n"


def build_scenario(name: str, start: date, days: int, tz: ZoneInfo, plan: WalkingPlan) -> Scenario:
    """Lay a named scenario out over `days` days from `start` (plan day 1)."""
    if name not in SCENARIOS:
        raise KeyError(name)
    return lay_out(name, SCENARIOS[name], start, days, tz, plan)


def lay_out(
    name: str, spec: ScenarioSpec, start: date, days: int, tz: ZoneInfo, plan: WalkingPlan
) -> Scenario:
    """Lay any scenario out over `days` days from `start` (plan day 1)."""
    person = SimulatedPerson()
    reports: list[PhoneReport] = []
    absences: list[Absence] = []
    device_absences: dict[str, list[Absence]] = {device: [] for device in spec.devices}
    battery: list[tuple[str, datetime, int]] = []
    notes: list[str] = []
    outcomes: list[DayOutcome] = []
    for index in range(days):
        day = start + timedelta(days=index)
        target = walking_targets(plan, outcomes)[-1]
        script = spec.planner(index + 1, target)
        notes.append(script.note)
        walks = [
            Walk(at_local(day, moment, tz), minutes, CADENCE_SPM)
            for moment, minutes in script.walks
        ]
        for walk in sorted(walks + _potters(day, tz, script, walks), key=lambda w: w.start):
            person.add(walk)
        if script.outdoors:
            # Out of range from a few minutes before to a few minutes after each walk.
            absences += [
                Absence(walk.start - timedelta(minutes=3), walk.end + timedelta(minutes=4))
                for walk in walks
            ]
        for device, begin, end in script.away:
            away = Absence(at_local(day, begin, tz), at_local(day, end, tz))
            for each in spec.devices if device == ALL_DEVICES else (device,):
                device_absences[each].append(away)
        battery += [(d, at_local(day, moment, tz), level) for d, moment, level in script.battery]
        for moment, kind, payload in script.reports:
            reports.append(PhoneReport(at_local(day, moment, tz), kind, payload))
        warned = any(kind == "symptom" for _, kind, _ in script.reports)  # holds the target
        walked = sum(minutes for _, minutes in script.walks)
        outcomes.append(DayOutcome(walked, warning_reported=warned))
    targets = walking_targets(plan, outcomes)[:days]
    return Scenario(
        name,
        person,
        tuple(sorted(reports, key=lambda r: r.at)),
        tuple(absences),
        tuple(notes),
        tuple(targets),
        {device: tuple(found) for device, found in device_absences.items()},
        tuple(battery),
    )


def _potters(day: date, tz: ZoneInfo, script: DayScript, walks: list[Walk]) -> list[Walk]:
    """Short bouts of steps about the house, clear of walks and of the day's still stretches."""
    if not script.potters:
        return []
    still = [(at_local(day, a, tz), at_local(day, b, tz)) for a, b in script.still]
    moment, until = at_local(day, POTTER_FROM, tz), at_local(day, POTTER_UNTIL, tz)
    bouts: list[Walk] = []
    while moment < until:
        bout = Walk(moment, POTTER_MINUTES, CADENCE_SPM)
        clear = all(
            bout.end + POTTER_CLEARANCE <= w.start or w.end + POTTER_CLEARANCE <= bout.start
            for w in walks
        )
        if clear and not any(a <= moment < b for a, b in still):
            bouts.append(bout)
        moment += POTTER_EVERY
    return bouts


async def wearables_on(
    radio: VirtualRadio,
    scenario: Scenario,
    person: PersonConfig,
    clock: Clock,
    *,
    notify_interval_s: float,
) -> dict[str, SimulatedWearable]:
    """Power on the person's wearables on the virtual radio, worn by the scenario's person."""
    wearables: dict[str, SimulatedWearable] = {}
    for device in person.devices:
        wearables[device.id] = await radio.add_wearable(
            profile=device.profile,
            wearer=scenario.person,
            clock=clock,
            name=device.name,
            address=device.address,
            notify_interval_s=notify_interval_s,
        )
    return wearables


async def act_out(
    scenario: Scenario, wearables: Mapping[str, SimulatedWearable], clock: Clock
) -> None:
    """Play the scenario's wearable troubles when their moments come: out of range, battery."""
    events: list[tuple[datetime, str, str, float]] = []
    for device in wearables:
        away = scenario.absences + tuple(scenario.device_absences.get(device, ()))
        events += [(a.start, "away", device, (a.end - a.start).total_seconds()) for a in away]
    events += [(at, "battery", device, level) for device, at, level in scenario.battery]
    for at, kind, device, value in sorted(events):
        await clock.sleep_until(at)
        if kind == "away":
            await wearables[device].out_of_range(value)
        else:
            await wearables[device].set_battery(int(value))


class ScenarioLinks:
    """Without a radio, for fast tests: a link factory for a scenario's wearables, each out of
    range when the script says, each reporting the battery levels the script gives."""

    def __init__(
        self, scenario: Scenario, person_id: str, tz: ZoneInfo, *, interval_s: float = 60.0
    ) -> None:
        self._scenario = scenario
        self._person = person_id
        self._tz = tz
        self._interval_s = interval_s
        self.links: dict[str, ScenarioLink] = {}

    def __call__(self, person: str, device: DeviceConfig, clock: Clock) -> Link:
        """The simulated wearable for one configured device."""
        scenario = self._scenario
        absences = scenario.absences + tuple(scenario.device_absences.get(device.id, ()))
        wearable = DirectWearable(
            person,
            device,
            clock,
            scenario.person,
            self._tz,
            interval_s=self._interval_s,
            absences=absences,
        )
        levels = tuple((at, level) for d, at, level in scenario.battery if d == device.id)
        link = ScenarioLink(wearable, person, device.id, clock, levels)
        self.links[device.id] = link
        return link


class ScenarioLink:
    """A simulated wearable that also reports scripted battery levels at scripted moments."""

    def __init__(
        self,
        wearable: DirectWearable,
        person: str,
        device_id: str,
        clock: Clock,
        battery: tuple[tuple[datetime, int], ...],
    ) -> None:
        self._wearable = wearable
        self._person = person
        self._device_id = device_id
        self._clock = clock
        self._battery = battery

    @property
    def device_id(self) -> str:
        """The configured id of the simulated wearable."""
        return self._device_id

    async def run(self, sink: ReadingSink) -> None:
        """Deliver the wearable's readings, and the battery levels when their moments come."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._wearable.run(sink), name=f"wearable {self._device_id}")
            group.create_task(self._levels(sink), name=f"battery {self._device_id}")

    async def _levels(self, sink: ReadingSink) -> None:
        for at, level in self._battery:
            await self._clock.sleep_until(at)
            if at >= self._clock.now() - timedelta(minutes=5):  # not replayed after a restart
                sink(Reading(self._person, self._device_id, self._clock.now(), Battery(level)))
