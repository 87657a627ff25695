"""The service: owns every lifetime in one task group, from the database to each wearable's link.

Cancel the task running `App.run` (SIGTERM, SIGINT) and everything stops in order: links and
loops are cancelled, the MQTT connection says "offline", the database is closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from devices.base import LinkFactory
from monitor.clock import Clock, SimulatedClock, SystemClock
from monitor.config import Config, password_file_warning
from monitor.errors import DamagedStoreError, MonitorError, StoreError
from monitor.ingest.activity import Processed
from monitor.ingest.pipeline import Ingest
from monitor.mqtt.announcer import BIRTH_DELAY_S, Announcer, announcer_subscriptions
from monitor.mqtt.client import Incoming, MqttClient, Subscription
from monitor.mqtt.commands import command_subscriptions
from monitor.mqtt.diagnostics import Diagnostics
from monitor.mqtt.outbox import Outbox
from monitor.mqtt.state import StatePublisher
from monitor.service.alerter import Alerter
from monitor.service.intake import Intake
from monitor.service.progress import Progress
from monitor.service.scheduler import Scheduler
from monitor.store.database import Store
from monitor.store.housekeeping import keep_tidy

log = logging.getLogger(__name__)

# A part of the service that fails (a full disk, a locked database, a bug; not a lost wearable
# or broker, which are handled where they happen) is started again after this long, rather
# than taking the whole service down.
RESTART_S = 10.0


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs the demo and tests turn; the defaults are for a real home."""

    state_interval_s: float = 15.0
    state_refresh_s: float = 300.0
    birth_delay_s: tuple[float, float] = BIRTH_DELAY_S
    diagnostics_interval_s: float = 5.0


def read_password(path: Path | None) -> str | None:
    """The MQTT password from its file (first line), or None when no file is configured."""
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MonitorError(f"cannot read the MQTT password from {path}: {exc}") from exc
    if not lines or not lines[0]:
        raise MonitorError(f"the MQTT password file {path} is empty: put the password on line 1")
    warning = password_file_warning(path)
    if warning is not None:
        log.warning("%s", warning)
    return lines[0]


class App:
    """recovery-monitor, wired together: run it with `await App(config, clock=...).run()`."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock,
        link_factory: LinkFactory | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._link_factory = link_factory
        self._tuning = tuning or Tuning()
        self.started = asyncio.Event()
        # Set while running, for the demo and tests to look at.
        self.store: Store | None = None
        self.ingest: Ingest | None = None
        self.state: StatePublisher | None = None
        self.outbox: Outbox | None = None
        self.intake: Intake | None = None
        self.alerter: Alerter | None = None
        self.mqtt: MqttClient | None = None
        self.announcer: Announcer | None = None
        self.diagnostics: Diagnostics | None = None
        self.scheduler: Scheduler | None = None

    async def run(self) -> None:
        """Run the service until cancelled."""
        config, clock = self.config, self.clock
        base = config.mqtt.base_topic
        password = read_password(config.mqtt.password_file)
        tz = config.service.timezone
        async with Store.open(
            config.service.database, integrity_check=True, exclusive=True
        ) as store:
            mqtt = MqttClient(
                config.mqtt,
                client_id=config.mqtt.client_id,
                password=password,
                will_topic=f"{base}/status",
                # no_local: the service clears retained commands by publishing on their topics.
                subscriptions=[
                    *(Subscription(t, no_local=True) for t in command_subscriptions(base)),
                    *announcer_subscriptions(config),
                ],
                on_message=self._on_message,
                on_connected=self._on_connected,
                on_refused=self._on_refused,
            )
            ingest = Ingest(store, tz, clock, on_processed=self._on_processed)
            progress = Progress(store, tz, minutes=ingest)  # minutes not yet saved included
            outbox = Outbox(store, mqtt)
            alerter = Alerter(store, outbox, clock, base, persons=config.persons, tz=tz)
            state = StatePublisher(
                config,
                store=store,
                progress=progress,
                ingest=ingest,
                mqtt=mqtt,
                clock=clock,
                min_interval_s=self._tuning.state_interval_s,
                refresh_s=self._tuning.state_refresh_s,
            )
            intake = Intake(
                config, store=store, alerter=alerter, mqtt=mqtt, clock=clock, on_change=state.touch
            )
            announcer = Announcer(
                config,
                mqtt=mqtt,
                state=state,
                alerts=store,
                clock=clock,
                # A wearable's connectivity expires in Home Assistant after three missed refreshes.
                expire_after_s=round(3 * self._tuning.state_refresh_s),
                birth_delay_s=self._tuning.birth_delay_s,
            )
            diagnostics = Diagnostics(
                base,
                mqtt=mqtt,
                clock=clock,
                command_counts=lambda: {
                    "accepted": intake.accepted,
                    "rejected": intake.rejected,
                    "unanswered": intake.unanswered,
                },
                dropped_readings=lambda: {f"{p}/{d}": n for (p, d), n in ingest.dropped.items()},
                interval_s=self._tuning.diagnostics_interval_s,
            )
            ingest.on_dropped = diagnostics.touch
            scheduler = Scheduler(
                config.persons,
                tz,
                store=store,
                progress=progress,
                alerter=alerter,
                ingest=ingest,
                clock=clock,
                on_change=state.touch,
                monotonic=clock.monotonic
                if isinstance(clock, SystemClock | SimulatedClock)
                else None,
            )
            self.store, self.ingest, self.state = store, ingest, state
            self.outbox, self.intake, self.mqtt = outbox, intake, mqtt
            self.alerter, self.scheduler = alerter, scheduler
            self.announcer, self.diagnostics = announcer, diagnostics
            components: dict[str, Callable[[], Awaitable[None]]] = {
                "ingest": ingest.run,
                "outbox": outbox.run,
                "outbox watchdog": outbox.watch,
                "intake": intake.run,
                "announcer": announcer.run,
                "diagnostics": diagnostics.run,
                "state": state.run,
                "scheduler": scheduler.run,
                "housekeeping": functools.partial(
                    keep_tidy, store, clock, config.service.raw_motion_days
                ),
                "durability": store.keep_durable,
            }
            async with mqtt, asyncio.TaskGroup() as group:
                for name, run in components.items():
                    group.create_task(self._supervise(name, run), name=name)
                self._start_links(group, ingest)
                log.info(
                    "recovery-monitor running: %d person(s), %d wearable(s)",
                    len(config.persons),
                    sum(len(p.devices) for p in config.persons),
                )
                self.started.set()

    def _start_links(self, group: asyncio.TaskGroup, ingest: Ingest) -> None:
        if self._link_factory is None:
            return
        for person in self.config.persons:
            for device in person.devices:
                link = self._link_factory(person.id, device, self.clock)
                name = f"link {person.id}/{device.id}"
                run = functools.partial(link.run, ingest.put)
                group.create_task(self._supervise(name, run), name=name)

    async def _supervise(self, name: str, start: Callable[[], Awaitable[None]]) -> None:
        """Run a part of the service for ever: if it fails, say why and start it again."""
        while True:
            try:
                await start()
                log.error("%s ended by itself; starting it again", name)
            except DamagedStoreError as error:
                # Starting again would meet the same damage every 10 s for ever, and writing
                # into a damaged file can lose more: stop the whole service, saying why.
                log.critical("%s stopped: %s; the service stops", name, error)
                raise
            except StoreError as error:
                # Each part keeps its progress in the store, so it can start again safely.
                log.error("%s stopped: %s; starting it again in %.0f s", name, error, RESTART_S)  # noqa: TRY400
            except Exception:
                log.exception("%s failed; starting it again in %.0f s", name, RESTART_S)
            await self.clock.sleep(RESTART_S)

    def _on_message(self, message: Incoming) -> None:
        if self.announcer is not None and self.announcer.wants(message.topic):
            self.announcer.received(message)
            if self.mqtt is not None:
                self.mqtt.ack(message)
        elif self.intake is not None:
            self.intake.submit(message)

    def _on_refused(self, topic: str, code: int) -> None:
        if self.diagnostics is not None:
            self.diagnostics.publish_refused(topic, code)

    def _on_connected(self) -> None:
        if self.announcer is not None:
            self.announcer.connected()
        if self.state is not None:
            self.state.touch_all()
        if self.outbox is not None:
            self.outbox.connected()
        if self.diagnostics is not None:
            self.diagnostics.touch()

    def _on_processed(self, processed: Processed) -> None:
        if self.state is not None:
            for person in processed.persons:
                self.state.touch(person)
