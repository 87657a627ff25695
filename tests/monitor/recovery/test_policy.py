"""The alert policy: quiet hours, cooldowns and acknowledgement hold back nudges, never symptoms;
each occasion is raised once, held back or not, also across restarts; escalation topics."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.clock import SimulatedClock
from monitor.config import AlertSettings, MqttConfig, PainType, PersonConfig, WakingWindow
from monitor.days import at_local
from monitor.mqtt.client import MqttClient
from monitor.mqtt.outbox import Outbox
from monitor.recovery.alerts import ALWAYS_SENT, AlertDraft, EventType, Severity
from monitor.recovery.policy import HeldBack, PastAlert, decide, destinations, is_quiet, quiet_hours
from monitor.service.alerter import Alerter
from monitor.store.database import Store

LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 11, 23)
WAKING = WakingWindow(time(8), time(21))
DEFAULT = AlertSettings()


def local(hour: int, minute: int = 0) -> datetime:
    return at_local(DAY, time(hour, minute), LONDON)


def draft(event: EventType, key: str, **data: object) -> AlertDraft:
    severity = Severity.CRITICAL if event in ALWAYS_SENT else Severity.INFO
    return AlertDraft(event, severity, 2, "title", "message", key, data=data)


def decision(
    event: EventType,
    at: datetime,
    history: list[PastAlert] | None = None,
    settings: AlertSettings = DEFAULT,
    **data: object,
) -> HeldBack | None:
    found = decide(
        draft(event, "k", **data),
        at,
        settings=settings,
        waking=WAKING,
        tz=LONDON,
        history=history or [],
    )
    assert found.send is (found.reason is None)
    return found.reason


def test_quiet_hours_default_to_outside_the_waking_window() -> None:
    window = quiet_hours(DEFAULT, WAKING)
    assert window == (time(21), time(8))
    assert is_quiet(time(7, 59), window)
    assert not is_quiet(time(8), window)
    assert not is_quiet(time(20, 59), window)
    assert is_quiet(time(21), window)
    assert is_quiet(time(13), (time(12), time(14)))
    assert not is_quiet(time(14), (time(12), time(14)))


def test_nudges_are_held_back_in_quiet_hours_other_alerts_are_not() -> None:
    assert decision(EventType.BEHIND_SCHEDULE, local(7)) is HeldBack.QUIET_HOURS
    assert decision(EventType.BATTERY_LOW, local(22)) is HeldBack.QUIET_HOURS
    assert decision(EventType.BEHIND_SCHEDULE, local(12)) is None
    # The day's verdict comes at the close of the waking day, which starts the quiet hours.
    assert decision(EventType.TARGET_MISSED, local(21)) is None
    assert decision(EventType.MISSED_DAYS, local(23)) is None
    configured = AlertSettings(quiet_hours=(time(11, 30), time(13, 30)))
    assert decision(EventType.LONG_SITTING, local(12), settings=configured) is HeldBack.QUIET_HOURS
    assert decision(EventType.LONG_SITTING, local(7, 30), settings=configured) is None


def past(event: EventType, at: datetime, **kwargs: object) -> PastAlert:
    return PastAlert(event.value, at, **kwargs)  # type: ignore[arg-type]


def test_a_cooldown_between_nudges_of_one_family() -> None:
    sitting = [past(EventType.LONG_SITTING, local(11, 30), acked_at=None, held_back=False)]
    assert decision(EventType.BEHIND_SCHEDULE, local(12), sitting) is HeldBack.COOLDOWN
    assert decision(EventType.BEHIND_SCHEDULE, local(12, 30), sitting) is None  # 60 minutes on
    assert decision(EventType.BATTERY_LOW, local(12), sitting, device="watch") is None
    held = [past(EventType.LONG_SITTING, local(11, 30), acked_at=None, held_back=True)]
    assert decision(EventType.BEHIND_SCHEDULE, local(12), held) is None
    assert decision(EventType.TARGET_MET, local(11, 31), sitting) is None


def test_wearable_nudges_cool_down_per_wearable() -> None:
    watch = [past(EventType.DEVICE_OFFLINE, local(9), acked_at=None, held_back=False, device="w")]
    assert decision(EventType.DEVICE_OFFLINE, local(9), watch, device="clip") is None
    assert decision(EventType.BATTERY_LOW, local(9, 30), watch, device="w") is HeldBack.COOLDOWN


def test_acknowledging_a_nudge_holds_back_that_family_for_the_rest_of_the_day() -> None:
    acked = [past(EventType.BEHIND_SCHEDULE, local(12), acked_at=local(12, 5), held_back=False)]
    assert decision(EventType.BEHIND_SCHEDULE, local(16), acked) is HeldBack.ACKNOWLEDGED
    assert decision(EventType.LONG_SITTING, local(19), acked) is HeldBack.ACKNOWLEDGED
    tomorrow = local(12) + timedelta(days=1)
    assert decision(EventType.BEHIND_SCHEDULE, tomorrow, acked) is None
    assert decision(EventType.TARGET_MISSED, local(21), acked) is None


def test_escalated_alerts_also_go_to_the_configured_topic() -> None:
    settings = AlertSettings(escalation_topic="clinic/ward3")
    own = "recovery/p1/alert"
    assert destinations(draft(EventType.MISSED_DAYS, "k", escalate=True), own, settings) == [
        own,
        "clinic/ward3",
    ]
    assert destinations(draft(EventType.MISSED_DAYS, "k", escalate=False), own, settings) == [own]
    assert destinations(draft(EventType.RED_FLAG, "k", escalate=True), own, DEFAULT) == [own]


EVENTS = list(EventType)
moments = st.datetimes(
    # hypothesis takes naive bounds and adds the zone itself
    min_value=datetime(2026, 11, 20),  # noqa: DTZ001
    max_value=datetime(2026, 11, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)
histories = st.lists(
    st.builds(
        PastAlert,
        st.sampled_from([e.value for e in EVENTS]),
        moments,
        st.none() | moments,
        st.booleans(),
        st.none() | st.sampled_from(["watch", "clip"]),
    ),
    max_size=12,
)
all_settings = st.builds(
    AlertSettings,
    quiet_hours=st.none() | st.tuples(st.times(), st.times()),
    nudge_cooldown_minutes=st.integers(0, 1440),
)


@given(st.sampled_from(sorted(ALWAYS_SENT)), moments, histories, all_settings)
def test_symptom_and_red_flag_alerts_are_never_held_back(
    event: EventType, at: datetime, history: list[PastAlert], settings: AlertSettings
) -> None:
    found = decide(
        draft(event, "k"), at, settings=settings, waking=WAKING, tz=LONDON, history=history
    )
    assert found.send


# -- through the alerter and a real database ------------------------------------------------------

PERSON = PersonConfig(
    "p1",
    PainType.ACUTE,
    DAY,
    alerts=AlertSettings(escalation_topic="recovery/p1/carer"),
)
NUDGE_KEYS = [f"behind_schedule:2026-11-23:{h}:00" for h in (12, 16, 19)] + [
    "long_sitting:2026-11-23:10:00",
    "long_sitting:2026-11-23:14:00",
]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("nudge"), st.sampled_from(NUDGE_KEYS), st.integers(0, 23 * 60)),
        st.tuples(st.just("symptom"), st.sampled_from(sorted(ALWAYS_SENT)), st.integers(0, 1439)),
        st.tuples(st.just("ack"), st.just(""), st.integers(0, 1439)),
        st.tuples(st.just("restart"), st.just(""), st.just(0)),
    ),
    max_size=25,
)


async def _play(database: Path, script: list[tuple[str, object, int]]) -> tuple[int, int]:
    """Raise a script of drafts through the alerter; returns (symptom drafts, nudge keys)."""
    symptoms = 0
    nudge_keys: set[str] = set()
    clock = SimulatedClock(local(0))
    mqtt = MqttClient(MqttConfig(), client_id="unused")  # never connected: the outbox only queues
    store_cm = Store.open(database)
    store = await store_cm.__aenter__()
    try:
        for number, (kind, what, minute) in enumerate(script):
            if kind == "restart":
                await store_cm.__aexit__(None, None, None)
                store_cm = Store.open(database)
                store = await store_cm.__aenter__()
                continue
            alerter = Alerter(
                store, Outbox(store, mqtt), clock, "recovery", persons=[PERSON], tz=LONDON
            )
            at = local(0) + timedelta(minutes=minute)
            await clock.advance_to(at)
            if kind == "nudge":
                event = EventType(str(what).split(":")[0])
                nudge_keys.add(str(what))
                await alerter.raise_alert("p1", draft(event, str(what)), at=at)
            elif kind == "symptom":
                symptoms += 1
                event = EventType(str(what))
                await alerter.raise_alert("p1", draft(event, f"{event}:{number}", escalate=True))
            else:
                sent = await store.alerts("p1")
                if sent:
                    await store.ack_alert("p1", sent[-1].id, at)
        return symptoms, len(nudge_keys)
    finally:
        await store_cm.__aexit__(None, None, None)


@settings(max_examples=40, deadline=None)
@given(steps)
def test_symptoms_always_go_out_and_no_nudge_is_raised_twice(
    script: list[tuple[str, object, int]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "m.db"
        symptoms, nudge_keys = asyncio.run(_play(database, script))
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT key, event_type, held_back, id FROM alert").fetchall()
            outbox = db.execute("SELECT alert_id, topic FROM outbox").fetchall()
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys))  # each occasion once, sent or held back
    sent_symptoms = [r for r in rows if r[1] in {e.value for e in ALWAYS_SENT}]
    assert len(sent_symptoms) == symptoms
    assert all(r[2] is None for r in sent_symptoms)
    ids = {r[3] for r in sent_symptoms}
    # Each symptom alert queued for the person, and (escalating) for the carer too.
    assert sorted(t for a, t in outbox if a in ids) == sorted(
        ["recovery/p1/alert", "recovery/p1/carer"] * symptoms
    )
    nudges = [r for r in rows if r[1] not in {e.value for e in ALWAYS_SENT}]
    assert len(nudges) == nudge_keys
    queued = [a for a, _ in outbox]
    for key, _, held, alert_id in nudges:
        assert queued.count(alert_id) == (0 if held else 1), key


@pytest.mark.parametrize("event", sorted(ALWAYS_SENT))
async def test_a_symptom_in_quiet_hours_right_after_an_acked_nudge_goes_out(
    tmp_path: Path, event: EventType
) -> None:
    clock = SimulatedClock(local(23))
    mqtt = MqttClient(MqttConfig(), client_id="unused")
    async with Store.open(tmp_path / "m.db") as store:
        alerter = Alerter(
            store, Outbox(store, mqtt), clock, "recovery", persons=[PERSON], tz=LONDON
        )
        nudge = await alerter.raise_alert("p1", draft(EventType.LONG_SITTING, "n"), at=local(12))
        assert nudge is not None
        await store.ack_alert("p1", nudge.id, local(12, 1))
        sent = await alerter.raise_alert("p1", draft(event, "s"))
        assert sent is not None
        assert json.loads(sent.payload())["event_type"] == event.value
        assert await alerter.raise_alert("p1", draft(EventType.LONG_SITTING, "n2")) is None
        (first,) = await store.alerts("p1", event_type="long_sitting")  # the second held back
        assert first.key == "n"
        every = await store.alerts("p1", held_back=True)
        assert sorted((a.key, a.held_back or "") for a in every) == [
            ("n", ""),
            ("n2", "quiet_hours"),
            ("s", ""),
        ]
