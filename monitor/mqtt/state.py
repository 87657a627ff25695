"""The retained state topic: what a dashboard needs about each person today, and no more."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from monitor.clock import Clock
from monitor.config import Config, PersonConfig
from monitor.days import day_bounds, local_date
from monitor.ingest.activity import DayActivity, DeviceStatus
from monitor.ingest.pipeline import Ingest
from monitor.recovery.plan import target_met
from monitor.recovery.rules import Checkpoint, is_behind
from monitor.recovery.symptoms import WARNING_ACTIVE
from monitor.service.progress import DayPlan, Progress
from monitor.store.database import Store

log = logging.getLogger(__name__)

# A retained state older than this is stale: the broker drops it rather than show it for ever.
STATE_EXPIRY_S = 26 * 3600


class Publisher(Protocol):
    """What the state publisher needs of the MQTT connection."""

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> asyncio.Future[int]:
        """Hand a message to the connection (`expiry_s`: MQTT v5 message expiry)."""
        ...

    async def wait_connected(self) -> None:
        """Return once connected."""
        ...


def state_document(
    plan: DayPlan,
    activity: DayActivity,
    *,
    behind: bool,
    warning_active: bool,
    pain: float | None,
    function: float | None,
    devices: Mapping[str, DeviceStatus],
) -> dict[str, Any]:
    """The state topic's JSON document for one person and day."""
    return {
        "date": plan.day.isoformat(),
        "steps_today": activity.steps,
        "walking_minutes_today": round(activity.walking_minutes, 1),
        "movement_minutes_today": activity.movement_minutes,
        "walking_target_minutes": plan.walking_target,
        "movement_target_minutes": plan.movement_target,
        "plan_day": plan.plan_day,
        "phase": plan.phase.label if plan.phase else None,
        "behind_schedule": behind,
        "warning_active": warning_active,
        "pain_today": pain,
        "function_today": function,
        "devices": {
            device: {
                "connected": status.connected,
                "battery": status.battery,
                "last_seen": status.last_seen.isoformat() if status.last_seen else None,
                "problem": status.problem,
            }
            for device, status in sorted(devices.items())
        },
    }


def behind_now(plan: DayPlan, walked: float, now: datetime) -> bool:
    """Whether the person is clearly behind at this moment of their day."""
    if plan.walking_target is None or now <= plan.waking_start:
        return False
    if now >= plan.waking_end:
        return not target_met(walked, plan.walking_target)
    checkpoint = Checkpoint(plan.day, now.time(), now, plan.waking_start, plan.waking_end)
    return is_behind(checkpoint, plan.walking_target, walked)


class StatePublisher:
    """Publishes each person's state when it changes, at most once per `min_interval_s`."""

    def __init__(
        self,
        config: Config,
        *,
        store: Store,
        progress: Progress,
        ingest: Ingest,
        mqtt: Publisher,
        clock: Clock,
        min_interval_s: float = 15.0,
        refresh_s: float = 300.0,
    ) -> None:
        self._config = config
        self._store = store
        self._progress = progress
        self._ingest = ingest
        self._mqtt = mqtt
        self._clock = clock
        self._min_interval_s = min_interval_s
        self._refresh_s = refresh_s
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.published = 0

    def touch(self, person: str) -> None:
        """A person's state may have changed: publish it soon."""
        self._dirty.add(person)
        self._wake.set()

    def touch_all(self) -> None:
        """Publish everyone's state soon (after a reconnect, or to refresh it)."""
        for person in self._config.persons:
            self.touch(person.id)

    async def run(self) -> None:
        """Publish dirty states, for ever; refresh all of them now and then."""
        self.touch_all()
        while True:
            if not await self._wait_for_change():
                self.touch_all()
            # Nothing is queued in the client while disconnected: states only go out live.
            await self._mqtt.wait_connected()
            self._wake.clear()
            dirty, self._dirty = sorted(self._dirty), set()
            for person_id in dirty:
                await self.publish(self._config.person(person_id))
            await self._clock.sleep(self._min_interval_s)

    async def publish(self, person: PersonConfig) -> None:
        """Publish one person's state now (retained, with expiry)."""
        document = await self.document(person, self._clock.now())
        topic = f"{self._config.mqtt.base_topic}/{person.id}/state"
        payload = json.dumps(document, separators=(",", ":")).encode()
        self._mqtt.publish(topic, payload, retain=True, expiry_s=STATE_EXPIRY_S)
        self.published += 1

    async def document(self, person: PersonConfig, now: datetime) -> dict[str, Any]:
        """One person's state document as of `now`."""
        tz = self._config.service.timezone
        today = local_date(now, tz)
        plan = await self._progress.day_plan(person, today)
        activity = await self._progress.day_activity(person, today, until=now)
        start, end = day_bounds(today, tz)
        symptoms = await self._store.reports(person.id, ["symptom"], now - WARNING_ACTIVE, end)
        scores = await self._store.reports(person.id, ["pain", "function"], start, end)
        latest = {report.kind: report.payload.get("score") for report in scores}
        return state_document(
            plan,
            activity,
            behind=behind_now(plan, activity.walking_minutes, now),
            warning_active=bool(symptoms),
            pain=latest.get("pain"),
            function=latest.get("function"),
            devices={d.id: self._ingest.status(person.id, d.id) for d in person.devices},
        )

    async def _wait_for_change(self) -> bool:
        """Wait until something is dirty (True) or the refresh time passes (False)."""
        if self._wake.is_set():
            return True
        waiter = asyncio.ensure_future(self._wake.wait())
        sleeper = asyncio.ensure_future(self._clock.sleep(self._refresh_s))
        try:
            done, _ = await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()
        return waiter in done
