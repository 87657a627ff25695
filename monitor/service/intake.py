"""Commands in: validate, store, then act; answer every command, refuse bad ones with a reason.

A command is acknowledged to the broker only after it has been stored (or refused), so one that
arrives just before a crash is delivered again rather than lost; storing is de-duplicated, so a
second delivery changes nothing. A symptom report is stored with its alerts in one transaction
(monitor.service.reactions), so `storage_unavailable` always means that nothing was stored yet.
A symptom report always becomes an alert, whatever fails: when it cannot be stored, its alerts
are sent anyway and it is stored later (monitor.service.unstored).

An empty payload (the usual way to clear a retained message) is no command: it is acknowledged
and ignored, without an answer.

No message can stop intake: whatever one holds, it is answered (an unexpected failure as
`internal_error`), acknowledged, and the next one is handled. A retained command is an old one
the broker replays at every subscribe: it is refused as `retained_command` (once per run) and
cleared from the broker where its ACL allows.

Refusals are answered one by one up to a rate (ERROR_RATE a second, bursts of ERROR_BURST);
beyond it a flood is still validated, acknowledged and counted, and each error topic gets one
`rate_limited` summary a second saying how many went unanswered, so the service stays
responsive and nothing is refused silently.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from monitor.clock import Clock
from monitor.config import Config
from monitor.errors import StoreError
from monitor.mqtt.client import FAILURE, Incoming, MqttError
from monitor.mqtt.commands import (
    AckAlert,
    AckAll,
    Command,
    CommandError,
    ErrorCode,
    ExerciseReport,
    NoteReport,
    ScoreReport,
    SessionReport,
    SymptomReported,
    error_topic,
    parse_command,
    person_of,
    reply_allowed,
)
from monitor.recovery.symptoms import SymptomKind
from monitor.service.reactions import AlertMaker, Reactions
from monitor.service.unstored import (
    RETRY_INTERVAL_S,
    Publisher,
    ReportStore,
    SentUnstoredError,
    Unstored,
    alert_list,
)
from monitor.store.alerts import QueuedAlert
from monitor.store.reports import NewReport, Reaction, ReportStored, StoredReport

log = logging.getLogger(__name__)

# The same payload on the same topic within this window, without an explicit request id, is a
# second delivery of one command (a QoS 1 redelivery, or a button pressed twice).
DUPLICATE_WINDOW = timedelta(minutes=10)
# QoS 0 commands waiting at most; beyond, they are dropped (counted). QoS 1 commands are never
# dropped here: the broker sends at most RECEIVE_MAXIMUM of them before we acknowledge some.
MAX_WAITING = 1000
# Individual answers to refused commands: this many a second on average, bursts of ERROR_BURST.
ERROR_RATE = 20.0
ERROR_BURST = 50
# Unanswered refusals are summed up on each error topic at most this often (seconds).
SUMMARY_INTERVAL_S = 1.0
# Error topics with a pending summary, at most; the rest are summed up on `<base>/error`.
MAX_SUMMARY_TOPICS = 100


# Commands taken from the queue at once, at most: reports among them (other than symptoms) are
# stored in one transaction, so that a flood costs one database trip per batch, not per command.
# The broker sends at most RECEIVE_MAXIMUM (100) unacknowledged ones at a time anyway.
BATCH_MAX = 100
# Retained commands already refused in this run, remembered at most (so each is answered once).
MAX_RETAINED_SEEN = 1000


class CommandStore(ReportStore, Protocol):
    """The repositories intake needs (monitor.store.database.Store is one)."""

    async def store_reports(
        self, reports: Sequence[tuple[NewReport, Reaction | None]]
    ) -> list[ReportStored]: ...

    async def reports(
        self, person: str, kinds: Iterable[str], since: datetime, until: datetime
    ) -> list[StoredReport]: ...

    async def unalerted_symptom_reports(self) -> list[StoredReport]: ...

    async def add_alerts(self, alerts: Sequence[QueuedAlert]) -> list[QueuedAlert]: ...

    async def ack_alert(self, person: str, alert_id: str, at: datetime) -> bool: ...

    async def ack_waiting(self, person: str, *, until: datetime, at: datetime) -> list[str]: ...


class Messenger(Publisher, Protocol):
    """The MQTT side intake needs (monitor.mqtt.client.MqttClient is one): publish, and ack."""

    def ack(self, message: Incoming) -> None: ...


class TokenBucket:
    """Allows `rate` events a second on average, `burst` at once; time comes from `monotonic`."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._monotonic = monotonic
        self._tokens = float(burst)
        self._at = monotonic()

    def take(self) -> bool:
        """Use one token if there is one."""
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Intake:
    """Handles commands one at a time, in the order they arrive."""

    def __init__(
        self,
        config: Config,
        *,
        store: CommandStore,
        alerter: AlertMaker,
        mqtt: Messenger,
        clock: Clock,
        on_change: Callable[[str], None],
        monotonic: Callable[[], float] | None = None,
        error_rate: float = ERROR_RATE,
        error_burst: int = ERROR_BURST,
    ) -> None:
        self._config = config
        self._base = config.mqtt.base_topic
        self._persons = {p.id for p in config.persons}
        self._store = store
        self._alerter = alerter
        self._reactions = Reactions(store, alerter, config.service.timezone)
        self._mqtt = mqtt
        self._clock = clock
        self._on_change = on_change
        self._queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self._monotonic = monotonic or asyncio.get_running_loop().time
        self._answers = TokenBucket(error_rate, error_burst, self._monotonic)
        self._unanswered: dict[str, int] = {}
        self._retained_seen: dict[bytes, None] = {}
        self._recovered = False
        self._summary_due: float | None = None
        self._held = Unstored(self._reactions, store, mqtt)
        self._retry_due: float | None = None
        self._unstored_logged_at: float | None = None
        self._unstored_quiet = 0  # storage failures not logged one by one (summed up)
        self.accepted = 0
        self.rejected = 0
        self.unanswered = 0  # refusals that only a `rate_limited` summary reported
        self.dropped = 0  # QoS 0 commands dropped because too many were waiting

    def submit(self, message: Incoming) -> None:
        """Queue a received command; never blocks."""
        if message.qos == 0 and self._queue.qsize() >= MAX_WAITING:
            # Nothing to redeliver at QoS 0: count it, and say so in the next summary.
            self.dropped += 1
            self._count_unanswered(error_topic(message.topic, self._base))
            return
        self._queue.put_nowait(message)

    async def run(self) -> None:
        """Handle queued commands, for ever; send refusal summaries when they are due.

        First, once: a symptom report stored without its alerts (by a version that stored
        them apart and died between) gets them now.
        """
        if not self._recovered:
            await self._complete_reactions()
            self._recovered = True
        while True:
            due = [d for d in (self._summary_due, self._retry_due) if d is not None]
            if not due:
                message = await self._queue.get()
            else:
                wait = max(min(due) - self._monotonic(), 0.0)
                try:
                    async with asyncio.timeout(wait):
                        message = await self._queue.get()
                except TimeoutError:
                    if self._retry_due is not None and self._monotonic() >= self._retry_due:
                        await self._store_held()
                    if self._summary_due is not None and self._monotonic() >= self._summary_due:
                        self._send_summaries()
                    continue
            batch = [message]
            while len(batch) < BATCH_MAX and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self.handle_batch(batch)
            if self._summary_due is not None and self._monotonic() >= self._summary_due:
                self._send_summaries()

    async def _complete_reactions(self) -> None:
        for report in await self._store.unalerted_symptom_reports():
            try:
                symptom = SymptomKind(str(report.payload.get("symptom")))
            except ValueError:
                continue
            planned = await self._reactions.plan(
                report.person, symptom, report.at, self._clock.now()
            )
            added = await self._store.add_alerts(planned.react(report.id))
            planned.settle(ReportStored(report.id, True, added))
            log.warning(
                "%s: report %d had no alert (stored before a crash); raised it now",
                report.person,
                report.id,
            )

    async def handle(self, message: Incoming) -> None:
        """Validate, store and act on one command, then acknowledge and answer it."""
        await self.handle_batch([message])

    async def handle_batch(self, messages: Sequence[Incoming]) -> None:
        """Handle commands in their order, then acknowledge each, in that order.

        Plain reports next to each other are stored in one transaction; a symptom report or an
        acknowledgement is handled on its own, after what came before it. Whatever happens,
        each message is acknowledged to the broker and answered.
        """
        pending: list[tuple[Incoming, Command, datetime]] = []
        try:
            for message in messages:
                now = self._clock.now()
                command = self._parsed(message, now)
                if command is None:
                    continue
                match command:
                    case ScoreReport() | SessionReport() | ExerciseReport() | NoteReport():
                        # Reports that raise no alert at once: stored with their neighbours.
                        pending.append((message, command, now))
                        continue
                await self._flush(pending)
                pending.clear()
                await self._one(message, command, now)
            await self._flush(pending)
        finally:
            for message in messages:
                self._mqtt.ack(message)

    def _parsed(self, message: Incoming, now: datetime) -> Command | None:
        """The command a message holds; None once it has been refused (or ignored)."""
        if not message.payload:
            # `mosquitto_pub -r -n`: someone clearing a retained message, not a command.
            log.debug("ignored an empty message on %r", message.topic)
            return None
        if message.retained:
            self._retained(message, now)
            return None
        try:
            return parse_command(
                message.topic,
                message.payload,
                base=self._base,
                persons=self._persons,
                now=now,
                response_topic=message.response_topic,
            )
        except CommandError as error:
            self.rejected += 1
            self._refuse(message, error, now)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback by _failed
            self._failed(message, exc, now)
        return None

    async def _one(self, message: Incoming, command: Command, now: datetime) -> None:
        try:
            answer = await self._apply(command, message, now)
        except CommandError as error:
            self.rejected += 1
            self._refuse(message, error, now)
        except StoreError as error:
            self._unstored(message, error, now)
        except SentUnstoredError as sent:
            self._unstored(message, sent.error, now, sent.alerts)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback by _failed
            self._failed(message, exc, now)
        else:
            self.accepted += 1
            self._reply(message, {"ok": True, "topic": message.topic, **answer})

    async def _flush(self, pending: Sequence[tuple[Incoming, Command, datetime]]) -> None:
        """Store reports that need no reaction, all in one transaction, and answer each."""
        if not pending:
            return
        reports = [(self._new_report(c, m, now), None) for m, c, now in pending]
        try:
            stored = await self._store.store_reports(reports)
        except StoreError as error:
            for message, _, now in pending:
                self._unstored(message, error, now)
            return
        except Exception as exc:  # noqa: BLE001 - logged with its traceback by _failed
            for message, _, now in pending:
                self._failed(message, exc, now)
            return
        changed: set[str] = set()
        for (message, command, _), result in zip(pending, stored, strict=True):
            self.accepted += 1
            if result.duplicate:
                log.info("%s: a report arrived twice; the second is ignored", command.person)
                answer: dict[str, Any] = {"duplicate": True}
            else:
                log.info("%s: report %d stored", command.person, result.id)
                log.debug("%s: report %d is a %s report", command.person, result.id, command.kind)
                answer = {"report": result.id}
                changed.add(command.person)
            self._reply(message, {"ok": True, "topic": message.topic, **answer})
        for person in sorted(changed):
            self._on_change(person)

    def _unstored(
        self,
        message: Incoming,
        error: StoreError,
        now: datetime,
        alerts: Sequence[QueuedAlert] | None = None,
    ) -> None:
        # Nothing was stored (the transaction rolled back): say so, so that the phone retries.
        self._log_unstored(message.topic, error)
        self.rejected += 1
        detail = "the service cannot store it right now; send it again later"
        extra: dict[str, Any] = {}
        if alerts is not None:
            detail = (
                "the service cannot store it right now, but its alert(s) were sent anyway; it is "
                "kept in memory and stored when storage works again (sending it again is harmless)"
            )
            extra = {"alerts": alert_list(alerts)}
        self._refuse(message, CommandError("storage_unavailable", detail), now, extra)

    def _log_unstored(self, topic: str, error: StoreError) -> None:
        """One ERROR line for the first failure, then at most one a SUMMARY_INTERVAL_S with the
        count of the others (an outage fails every command: hundreds a second in a flood)."""
        now = self._monotonic()
        if self._unstored_logged_at is not None and now - self._unstored_logged_at < (
            SUMMARY_INTERVAL_S
        ):
            self._unstored_quiet += 1
            if self._summary_due is None:
                self._summary_due = self._unstored_logged_at + SUMMARY_INTERVAL_S
            return
        self._unstored_logged_at = now
        self._log_quiet_unstored()
        log.error("a command on %r could not be stored: %s", topic, error)

    def _log_quiet_unstored(self) -> None:
        if self._unstored_quiet:
            log.error("%d more command(s) could not be stored", self._unstored_quiet)
            self._unstored_quiet = 0

    async def _store_held(self) -> None:
        """Store the symptom reports held in memory, if storage works again."""
        self._retry_due = None
        try:
            done = await self._held.store(self._clock.now())
        except StoreError as error:
            log.debug("held symptom reports still cannot be stored: %s", error)
        except Exception:
            log.exception("held symptom reports could not be stored")
        else:
            for person in sorted({held.report.person for held, _ in done}):
                self._on_change(person)
        if len(self._held):
            self._retry_due = self._monotonic() + RETRY_INTERVAL_S

    def _failed(self, message: Incoming, exc: Exception, now: datetime) -> None:
        # A bug must not make one message stop intake, nor leave it unacknowledged (the broker
        # would deliver it again at every reconnect).
        log.error("a command on %r could not be handled", message.topic, exc_info=exc)
        self.rejected += 1
        detail = f"the service failed to handle it ({type(exc).__name__}); nothing was done"
        self._refuse(message, CommandError("internal_error", detail), now)

    def _retained(self, message: Incoming, now: datetime) -> None:
        """Refuse a replayed retained command (once per run) and ask the broker to forget it."""
        key = hashlib.sha256(message.topic.encode() + b"\0" + message.payload).digest()
        if key in self._retained_seen:
            return
        self._retained_seen[key] = None
        if len(self._retained_seen) > MAX_RETAINED_SEEN:
            del self._retained_seen[next(iter(self._retained_seen))]
        self.rejected += 1
        detail = (
            "a retained command is an old one the broker replays at every subscribe; it was not "
            "acted on and is being cleared: send commands without the retain flag"
        )
        self._refuse(message, CommandError("retained_command", detail), now)
        try:
            cleared = self._mqtt.publish(message.topic, b"", qos=1, retain=True)
        except MqttError as exc:
            log.warning("cannot clear a retained command on %r: %s", message.topic, exc)
            return
        cleared.add_done_callback(functools.partial(_cleared, message.topic))

    async def _apply(self, command: Command, message: Incoming, now: datetime) -> dict[str, Any]:
        """Store a report and its alerts in one transaction (one or two database trips)."""
        person = command.person
        planned = None
        match command:
            case AckAlert() | AckAll():
                return await self._acknowledge(command, now)
            case SymptomReported(symptom=symptom):
                due = self._retry_due is not None and self._monotonic() >= self._retry_due
                if due or self._held.holding(self._new_report(command, message, now)):
                    # Held reports first, so that a resend of one is seen as a duplicate. Not
                    # at every report: while storage fails, each try costs up to 5 s (the busy
                    # timeout), which would delay this report's own alert.
                    await self._store_held()
                # The domain's reaction, worked out now and stored with the report
                # (monitor/service/reactions.py).
                try:
                    planned = await self._reactions.plan(person, symptom, command.at, now)
                except StoreError:
                    planned = self._reactions.plan_unread(person, symptom, command.at, now)
        report = self._new_report(command, message, now)
        try:
            stored = await self._store.store_report(report, planned.react if planned else None)
        except StoreError as error:
            if not isinstance(command, SymptomReported) or planned is None:
                raise
            # A symptom report always becomes an alert, whatever fails (issue 11).
            sent = self._held.holding(report)
            if sent is None:
                sent = self._held.send(planned, report, command.symptom)
                if self._retry_due is None:
                    self._retry_due = self._monotonic() + RETRY_INTERVAL_S
            raise SentUnstoredError(error, sent) from error
        if planned is not None:
            planned.settle(stored)
        raised = {"alerts": alert_list(stored.alerts)} if planned is not None else {}
        if stored.duplicate:
            if stored.alerts:
                log.warning("%s: a report arrived twice and its missing alert was raised", person)
            log.info("%s: a report arrived twice; the second is ignored", person)
            return {"duplicate": True, **raised}
        # What was reported is health data: only at debug level.
        log.info("%s: report %d stored", person, stored.id)
        if isinstance(command, SymptomReported):
            log.debug("%s: report %d is a symptom report: %s", person, stored.id, command.symptom)
        else:
            log.debug("%s: report %d is a %s report", person, stored.id, command.kind)
        self._on_change(person)
        return {"report": stored.id, **raised}

    def _new_report(self, command: Command, message: Incoming, now: datetime) -> NewReport:
        if command.request_id is not None:
            dedup, since = f"id:{command.request_id}", None
        else:
            digest = hashlib.sha256(message.topic.encode() + b"\0" + message.payload).hexdigest()
            dedup, since = f"sha256:{digest}", now - DUPLICATE_WINDOW
        return NewReport(
            command.person, command.kind, command.at, now, command.fields, dedup, since
        )

    async def _acknowledge(self, command: AckAlert | AckAll, now: datetime) -> dict[str, Any]:
        """Mark one alert, or every alert waiting for it up to the command's time, acknowledged.

        Both are idempotent: a second delivery acknowledges nothing new.
        """
        person = command.person
        match command:
            case AckAll():
                acked = await self._store.ack_waiting(person, until=command.at, at=now)
            case AckAlert(alert_id=alert_id):
                if not await self._store.ack_alert(person, alert_id, now):
                    raise CommandError("unknown_alert", f"no alert {alert_id} for {person}")
                acked = [alert_id]
        log.info("%s: %d alert(s) acknowledged", person, len(acked))
        if acked:
            self._on_change(person)
        return {"acknowledged": acked}

    def _refuse(
        self,
        message: Incoming,
        error: CommandError,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> None:
        topic = error_topic(message.topic, self._base)
        if not self._answers.take():
            self._count_unanswered(topic)
            return
        # The topic names a pseudonymous person and a report kind; the code names the rule
        # broken. Neither carries a health value (the detail may, so it stays off the log).
        # %r: a topic is the sender's text and may hold a line break.
        log.warning("refused a command on %r: %s", message.topic, error.code)
        body = {
            "topic": message.topic,
            "error": error.code,
            "detail": error.detail,
            "received_at": now.isoformat(),
            **(extra or {}),
        }
        self._publish(topic, body)
        if error.code is not ErrorCode.BAD_RESPONSE_TOPIC:
            self._reply(message, {"ok": False, **body})

    def _reply(self, message: Incoming, body: dict[str, Any]) -> None:
        response_topic = message.response_topic
        if response_topic is None:
            return
        if not reply_allowed(response_topic, self._base, person_of(message.topic, self._base)):
            return
        self._publish(response_topic, body, correlation_data=message.correlation_data)

    def _publish(
        self, topic: str, body: dict[str, Any], correlation_data: bytes | None = None
    ) -> None:
        try:
            self._mqtt.publish(topic, _json(body), correlation_data=correlation_data)
        except MqttError as exc:
            log.warning("cannot answer a command on %r: %s", topic, exc)

    def _count_unanswered(self, topic: str) -> None:
        self.unanswered += 1
        if topic not in self._unanswered and len(self._unanswered) >= MAX_SUMMARY_TOPICS:
            topic = f"{self._base}/error"
        self._unanswered[topic] = self._unanswered.get(topic, 0) + 1
        if self._summary_due is None:
            self._summary_due = self._monotonic() + SUMMARY_INTERVAL_S

    def _send_summaries(self) -> None:
        """One `rate_limited` message per error topic that had refusals go unanswered."""
        pending, self._unanswered = self._unanswered, {}
        self._summary_due = None
        self._log_quiet_unstored()
        if not pending:
            return
        now = self._clock.now().isoformat()
        log.warning(
            "%d command(s) refused or dropped without an individual answer (too many at once)",
            sum(pending.values()),
        )
        for topic, count in pending.items():
            body = {
                "topic": topic.removesuffix("/error") + "/#",
                "error": "rate_limited",
                "detail": f"{count} command(s) refused or dropped without an individual answer: "
                "too many commands at once; nothing they asked for was done",
                "received_at": now,
                "count": count,
            }
            self._publish(topic, body)


def _cleared(topic: str, future: asyncio.Future[int]) -> None:
    if future.cancelled():
        return
    code = future.result()
    if code >= FAILURE:
        log.warning(
            "the broker would not let us clear the retained command on %r (0x%02X): it will be "
            "refused again after each restart; remove it, or allow this user to publish there",
            topic,
            code,
        )
    else:
        log.info("cleared a retained command on %r", topic)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
