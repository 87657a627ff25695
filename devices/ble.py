"""A link to one wearable over BLE: find it, connect, subscribe, and keep it connected for months.

The link scans until the wearable advertises, connects through `bleak-retry-connector`, sets it
up as its profile says (clock, configuration, subscriptions), and then watches it: a wearable
that disconnects is found and connected again after a backoff, and one that stops notifying for
too long is checked with a read and, if it does not answer, dropped and reconnected. Every
reading goes to the sink, stamped with the service clock; so does every connect and disconnect.

All waiting is on the injected `Clock`: between radio operations (backoff, watchdog, clock
resync) and the limits of one GATT request or disconnect, so that a simulated radio and a
simulated clock agree on how long a wearable took to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError
from bleak_retry_connector import (
    BleakClientWithServiceCache,
    BleakOutOfConnectionSlotsError,
    establish_connection,
)

from devices.base import ReadingSink
from devices.clock import Clock
from devices.errors import MonitorError
from devices.profiles.current_time import next_zone_change
from devices.profiles.gatt import Channel, Exchange, GattParseError, Profile, Session, Write
from devices.profiles.registry import get_profile
from devices.readings import LinkState, Reading, ReadingValue
from devices.scanner import no_adapter_reason
from devices.settings import DeviceConfig

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


class LinkPhase(enum.StrEnum):
    """Where a link is in its life."""

    IDLE = "idle"  # not running
    SEARCHING = "searching"  # scanning until the wearable advertises
    CONNECTING = "connecting"
    SETTING_UP = "setting_up"  # clock, configuration, subscriptions
    CONNECTED = "connected"  # readings flow
    BACKING_OFF = "backing_off"  # waiting before the next attempt


class DeviceError(MonitorError):
    """A wearable that could not be used; the message says what to do."""


class IncompatibleWearableError(DeviceError):
    """The wearable lacks a characteristic its profile needs (wrong profile or old firmware)."""


class WearableLostError(DeviceError):
    """A connected wearable stopped answering or stopped notifying."""


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """How patient a link is. Clock seconds unless the name says real seconds."""

    # establish_connection's own attempts (each with its short real-time backoff).
    connect_attempts: int = 3
    # Backoff between failed attempts: base * 2^(attempt-1), capped, with +-20 % jitter.
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    # A connection that ends sooner than this counts as a failed attempt (a flapping wearable
    # backs off instead of reconnecting in a tight loop).
    stable_s: float = 60.0
    # Without a notification for this long the watchdog reads the wearable to check on it;
    # wearables notify steps only when they change, so silence alone proves nothing.
    silence_s: float = 300.0
    # A continuous stream (raw motion at a set rate) silent for this long has stopped.
    stream_silence_s: float = 30.0
    # Clock seconds one GATT request (or a watchdog read) may take before the wearable is lost.
    gatt_timeout_s: float = 10.0
    # Watches drift: rewrite the clock this often while connected (and at each zone change).
    clock_resync_s: float = 6 * 3600.0
    # Clock seconds a disconnect may take before the link gives up waiting for it.
    disconnect_timeout_s: float = 5.0
    # After a failure that is not the radio's (a wrong profile, a firmware that answers what
    # the profile does not expect, a bug): retried this seldom, in case a firmware update or a
    # restart with a fixed config came in between.
    problem_retry_s: float = 3600.0


def is_transient(error: BaseException | None) -> bool:
    """Whether a failed attempt is the radio's (out of range, busy, timed out): retry soon.

    Anything else (an incompatible wearable, bytes the profile cannot build or read, a bug)
    fails the same way on the next attempt.
    """
    if error is None:
        return True
    if isinstance(error, IncompatibleWearableError | GattParseError):
        return False
    return isinstance(error, BleakError | TimeoutError | OSError | WearableLostError)


def no_adapter_advice(missing: str) -> str:
    """What to do when there is no Bluetooth adapter to use (`missing`: why, from the scanner)."""
    return (
        f"no Bluetooth adapter ({missing}): plug one in or switch it on, and start the Bluetooth "
        "service (bluetoothctl show); the link keeps trying"
    )


def problem_advice(error: BaseException) -> str:
    """What to do about a failure that is not the radio's, for the log and the device state."""
    if isinstance(error, IncompatibleWearableError):
        return f"{error} (check the device's profile in the config, or update its firmware)"
    return (
        f"setting the wearable up failed: {_describe(error)}; this is not a radio problem: "
        "check the device's profile and the configured time zone, and report it with this "
        "message, the wearable's model and firmware"
    )


def backoff_delay(attempt: int, error: BaseException | None, settings: LinkSettings) -> float:
    """Clock seconds to wait before attempt `attempt + 1`, after `attempt` failures (0: none)."""
    if attempt <= 0:
        return 0.0
    if not is_transient(error):
        # Only a firmware update, a config change or a fix helps; do not hammer the wearable.
        return settings.problem_retry_s
    exponent = attempt - 1
    if isinstance(error, BleakOutOfConnectionSlotsError):
        # The adapter or proxy is full: wait as if several attempts had already failed.
        exponent += 3
    return float(min(settings.backoff_max_s, settings.backoff_base_s * 2.0 ** min(exponent, 30)))


@dataclass(slots=True)
class _Connection:
    """What one connection to the wearable knows."""

    client: BleakClient
    last_heard: datetime
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""
    streaming: bool = False
    # The latest bytes seen per subscribed characteristic, and a counter of notifications,
    # so that a watchdog read can tell whether notifications have silently stopped.
    last_bytes: dict[str, bytes] = field(default_factory=dict)
    notified: dict[str, int] = field(default_factory=dict)
    # Answers awaited by a handshake, per characteristic: the next value notified.
    answers: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)

    def lose(self, reason: str) -> None:
        if not self.lost.is_set():
            self.reason = reason
            self.lost.set()


class BleLink:
    """The link to one configured wearable of one person (implements `devices.base.Link`)."""

    def __init__(
        self,
        person: str,
        device: DeviceConfig,
        clock: Clock,
        *,
        scanner_backend: type[BaseBleakScanner] | None = None,
        client_backend: type[BaseBleakClient] | None = None,
        timezone: tzinfo | None = None,
        settings: LinkSettings | None = None,
    ) -> None:
        if device.address is None and device.name is None:
            raise ValueError(f"{device.id}: needs an address or a name to find the wearable")
        self._person = person
        self._device = device
        self._clock = clock
        self._scanner_backend = scanner_backend
        self._client_backend = client_backend
        self._zone = timezone or UTC
        self._settings = settings or LinkSettings()
        self._profile: Profile = get_profile(device.profile)
        # One session for the life of the link: decoders keep state across reconnects (a foot
        # pod's integrated step total must not restart at every reconnect).
        self._session: Session = self._profile.session(device)
        self._jitter = random.Random(device.id)  # deterministic per device, spread across them
        self._phase = LinkPhase.IDLE
        self._sink: ReadingSink | None = None
        self._connections = 0

    @property
    def device_id(self) -> str:
        """The configured id of the wearable this link serves."""
        return self._device.id

    @property
    def phase(self) -> LinkPhase:
        """Where the link is now."""
        return self._phase

    @property
    def connections(self) -> int:
        """How many times the link has connected (and set up) the wearable."""
        return self._connections

    async def run(self, sink: ReadingSink) -> None:
        """Connect, deliver readings to `sink`, reconnect after any loss, until cancelled."""
        self._sink = sink
        failures = 0
        error: BaseException | None = None
        said = ""  # the failure last logged: the same one again, for months, goes to debug
        try:
            while True:
                delay = backoff_delay(failures, error, self._settings)
                if delay > 0:
                    self._phase = LinkPhase.BACKING_OFF
                    delay *= self._jitter.uniform(0.8, 1.2)
                    _LOGGER.debug("%s: next attempt in %.0f s", self.device_id, delay)
                    await self._clock.sleep(delay)
                try:
                    stable = await self._attempt()
                except Exception as exc:  # any failure of an attempt is logged and retried
                    if _cancelling():
                        raise
                    failures, error = failures + 1, exc
                    reason = _describe(exc)
                    level = logging.DEBUG if reason == said else logging.WARNING
                    said = reason
                    if is_transient(exc):
                        _LOGGER.log(
                            level, "%s: %s; trying again with backoff", self.device_id, reason
                        )
                        missing = no_adapter_reason(exc)
                        if missing is not None and level == logging.WARNING:
                            # Shown on the wearable's state too: the dashboard would otherwise
                            # say only "disconnected", for as long as no adapter is there.
                            self._emit(LinkState(False, reason, problem=no_adapter_advice(missing)))
                        continue
                    advice = problem_advice(exc)
                    hours = self._settings.problem_retry_s / 3600.0
                    _LOGGER.log(
                        level, "%s: %s; trying again in %.1f h", self.device_id, advice, hours
                    )
                    self._emit(LinkState(False, reason, problem=advice))
                    continue
                failures, error, said = (0, None, "") if stable else (failures + 1, None, said)
        finally:
            self._phase = LinkPhase.IDLE

    async def _attempt(self) -> bool:
        """Find, connect and serve the wearable until the connection ends; whether it was stable."""
        self._phase = LinkPhase.SEARCHING
        ble_device = await self._find()
        self._phase = LinkPhase.CONNECTING
        connection: _Connection | None = None

        def disconnected(_client: BleakClient) -> None:
            if connection is not None:
                connection.lose("disconnected")

        kwargs: dict[str, Any] = {}
        if self._client_backend is not None:
            kwargs["backend"] = self._client_backend
        client = await establish_connection(
            BleakClientWithServiceCache,
            ble_device,
            self.device_id,
            disconnected_callback=disconnected,
            max_attempts=self._settings.connect_attempts,
            **kwargs,
        )
        connection = _Connection(client, last_heard=self._clock.now())
        if not client.is_connected:
            connection.lose("disconnected")
        started = self._clock.now()
        self._emit(LinkState(True, "connected"))
        _LOGGER.info("%s: connected to %s", self.device_id, ble_device.address)
        failure: DeviceError | None = None
        try:
            await self._serve(connection)
        except asyncio.CancelledError:
            if _cancelling():
                raise
            # A future cancelled under us by the BLE stack on link loss: the link is gone.
            connection.lose("disconnected")
        except (BleakError, TimeoutError) as exc:
            connection.lose(_describe(exc))
        except DeviceError as exc:
            connection.lose(_describe(exc))
            failure = exc
        except Exception as exc:  # not the radio's: said by run(), with what to do
            connection.lose(_describe(exc))
            raise
        finally:
            await self._end(connection)
        if isinstance(failure, IncompatibleWearableError):
            raise failure
        return self._clock.now() - started >= timedelta(seconds=self._settings.stable_s)

    async def _find(self) -> BLEDevice:
        """Scan until the wearable advertises (by address, else by name)."""
        found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()
        address = self._device.address.upper() if self._device.address else None
        name = self._device.name

        def detected(device: BLEDevice, advertisement: AdvertisementData) -> None:
            if found.done():
                return
            if address is not None:
                if device.address.upper() == address:
                    found.set_result(device)
            elif advertisement.local_name == name:
                found.set_result(device)

        kwargs: dict[str, Any] = {}
        if self._scanner_backend is not None:
            kwargs["backend"] = self._scanner_backend
        scanner = BleakScanner(detected, **kwargs)
        await scanner.start()
        try:
            return await found
        finally:
            await scanner.stop()

    async def _serve(self, connection: _Connection) -> None:
        """Set the wearable up, then watch it until the connection is lost."""
        self._phase = LinkPhase.SETTING_UP
        client = connection.client
        await self._write_setup(client)
        channels = self._present_channels(client)
        for channel, characteristic in channels:
            if channel.subscribe and _can_notify(characteristic):
                await self._gatt(
                    client.start_notify(
                        characteristic, self._notification_handler(connection, channel)
                    )
                )
                connection.streaming |= channel.streaming
        await self._write(client, self._session.start(self._clock.now()))
        if self._session.handshake is not None:
            exchanges = {
                channel.uuid: self._exchanger(connection, characteristic)
                for channel, characteristic in channels
            }
            await self._session.handshake(exchanges, self._clock.now())
        for channel, characteristic in channels:
            if channel.read_on_connect and "read" in characteristic.properties:
                await self._read_channel(connection, channel, characteristic)
        self._phase = LinkPhase.CONNECTED
        self._connections += 1
        connection.last_heard = self._clock.now()
        async with asyncio.TaskGroup() as tasks:
            watchdog = tasks.create_task(
                self._watchdog(connection), name=f"{self.device_id}:watchdog"
            )
            resync = None
            if self._session.resync_clock:
                resync = tasks.create_task(
                    self._resync_clock(connection), name=f"{self.device_id}:clock"
                )
            await connection.lost.wait()
            watchdog.cancel()
            if resync is not None:
                resync.cancel()

    def _present_channels(
        self, client: BleakClient
    ) -> list[tuple[Channel, BleakGATTCharacteristic]]:
        present = []
        for channel in self._session.channels:
            characteristic = client.services.get_characteristic(channel.uuid)
            if characteristic is None:
                if channel.required:
                    raise IncompatibleWearableError(
                        f"the wearable has no {channel.uuid}: is profile "
                        f"{self._profile.name!r} right for it, and is its firmware current?"
                    )
                continue
            present.append((channel, characteristic))
        return present

    async def _write_setup(self, client: BleakClient) -> None:
        """Write what the profile sets on connect (the clock, a configuration)."""
        await self._write(client, self._session.setup(self._clock.now(), self._zone))

    async def _write(self, client: BleakClient, writes: Sequence[Write]) -> None:
        for write in writes:
            characteristic = client.services.get_characteristic(write.uuid)
            if characteristic is None:
                if write.required:
                    raise IncompatibleWearableError(f"the wearable has no {write.uuid} to write")
                _LOGGER.debug("%s: no %s to write; skipped", self.device_id, write.uuid)
                continue
            current = None
            if write.read_first:
                current = bytes(await self._gatt(client.read_gatt_char(characteristic)))
            value = write.build(current)
            if write.read_first and value == current:
                # Already as wanted: some firmware keeps each write in flash (Thingy:52).
                _LOGGER.debug("%s: %s already set; not written", self.device_id, write.uuid)
                continue
            await self._gatt(client.write_gatt_char(characteristic, value, response=True))

    async def _read_channel(
        self, connection: _Connection, channel: Channel, characteristic: BleakGATTCharacteristic
    ) -> bytes:
        """Read a channel and deliver its readings, unless a notification overtook the read."""
        before = connection.notified.get(channel.uuid, 0)
        data = bytes(await self._gatt(connection.client.read_gatt_char(characteristic)))
        if connection.notified.get(channel.uuid, 0) == before:
            connection.last_bytes[channel.uuid] = data
            self._deliver(channel, data)
        return data

    def _exchanger(
        self, connection: _Connection, characteristic: BleakGATTCharacteristic
    ) -> Exchange:
        """Write a command to `characteristic` and await the value it indicates next."""
        uuid = characteristic.uuid.lower()

        async def exchange(command: bytes) -> bytes:
            answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            connection.answers[uuid] = answer
            try:
                async with asyncio.timeout(self._settings.gatt_timeout_s):
                    await connection.client.write_gatt_char(characteristic, command, response=True)
                    return await answer
            finally:
                connection.answers.pop(uuid, None)

        return exchange

    def _notification_handler(
        self, connection: _Connection, channel: Channel
    ) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        def on_notification(_characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
            connection.last_heard = self._clock.now()
            connection.notified[channel.uuid] = connection.notified.get(channel.uuid, 0) + 1
            connection.last_bytes[channel.uuid] = bytes(data)
            answer = connection.answers.pop(channel.uuid, None)
            if answer is not None and not answer.done():
                answer.set_result(bytes(data))
            self._deliver(channel, bytes(data))

        return on_notification

    def _deliver(self, channel: Channel, data: bytes) -> None:
        try:
            values = channel.decode(data, self._clock.now())
        except GattParseError as exc:
            # One bad payload is dropped with a clear message; nothing else is affected.
            _LOGGER.warning(
                "%s: ignored a bad value from %s: %s", self.device_id, channel.uuid, exc
            )
            return
        for value in values:
            _LOGGER.debug("%s: %r", self.device_id, value)
            self._emit(value)

    async def _watchdog(self, connection: _Connection) -> None:
        """Check on a wearable that has been silent too long; lose it if it does not answer."""
        settings = self._settings
        limit = settings.stream_silence_s if connection.streaming else settings.silence_s
        while not connection.lost.is_set():
            await self._clock.sleep_until(connection.last_heard + timedelta(seconds=limit))
            silent_for = self._clock.now() - connection.last_heard
            if silent_for < timedelta(seconds=limit):
                continue
            if connection.streaming:
                connection.lose(f"lost: no data for {silent_for.total_seconds():.0f} s")
                return
            try:
                await self._probe(connection)
            except (BleakError, TimeoutError, WearableLostError) as exc:
                connection.lose(f"lost: {_describe(exc)}")
                return
            connection.last_heard = self._clock.now()

    async def _probe(self, connection: _Connection) -> None:
        """Read the profile's probe characteristics; raise if notifications have stopped."""
        client = connection.client
        channels = {channel.uuid: channel for channel in self._session.channels}
        for uuid in self._session.probes:
            characteristic = client.services.get_characteristic(uuid)
            if characteristic is None or "read" not in characteristic.properties:
                continue
            channel = channels.get(uuid)
            if channel is None:
                await self._gatt(client.read_gatt_char(characteristic))
                continue
            before = connection.notified.get(uuid, 0)
            previous = connection.last_bytes.get(uuid)
            data = await self._read_channel(connection, channel, characteristic)
            quiet = connection.notified.get(uuid, 0) == before
            if channel.subscribe and quiet and previous is not None and data != previous:
                raise WearableLostError("its value changed without a notification")

    async def _resync_clock(self, connection: _Connection) -> None:
        """Rewrite the wearable's clock now and then (drift), and at each change of the zone."""
        period = timedelta(seconds=self._settings.clock_resync_s)
        while not connection.lost.is_set():
            now = self._clock.now()
            change = next_zone_change(now, self._zone, period)
            await self._clock.sleep_until(change or now + period)
            try:
                await self._write_setup(connection.client)
            except (BleakError, TimeoutError, DeviceError) as exc:
                connection.lose(f"clock resync failed: {_describe(exc)}")
                return

    async def _end(self, connection: _Connection) -> None:
        """Make sure the connection is closed, and tell the sink why it ended."""
        client = connection.client
        connection.lose("stopped")  # unless it was already lost for a reason
        try:
            if client.is_connected:
                async with _within(self._clock, self._settings.disconnect_timeout_s):
                    await client.disconnect()
        except (BleakError, TimeoutError) as exc:
            _LOGGER.debug("%s: disconnect did not complete: %s", self.device_id, exc)
        finally:
            for value in self._session.on_disconnect(self._clock.now()):
                self._emit(value)
            reason = connection.reason
            self._emit(LinkState(False, reason))
            _LOGGER.info("%s: disconnected (%s)", self.device_id, reason)

    async def _gatt(self, operation: Awaitable[_T]) -> _T:
        """One GATT request, with the limit a responsive wearable meets (clock seconds)."""
        async with _within(self._clock, self._settings.gatt_timeout_s):
            result = await operation
            if _cancelling():
                # Some BLE stacks return a result that raced a cancellation (asyncio.wait_for
                # on Python 3.11); the cancellation, or this timeout, must still happen.
                raise asyncio.CancelledError
            return result

    def _emit(self, value: ReadingValue) -> None:
        if self._sink is not None:
            self._sink(Reading(self._person, self.device_id, self._clock.now(), value))


@contextlib.asynccontextmanager
async def _within(clock: Clock, seconds: float) -> AsyncIterator[None]:
    """`asyncio.timeout(seconds)` measured on `clock` (TimeoutError when it runs out)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as limit:

        async def expire() -> None:
            await clock.sleep(seconds)
            limit.reschedule(loop.time())

        timer = loop.create_task(expire())
        try:
            yield
        finally:
            timer.cancel()


@dataclass(frozen=True, slots=True)
class BleLinkFactory:
    """A `LinkFactory` of `BleLink`s; without backends it uses the platform's Bluetooth."""

    timezone: tzinfo | None = None
    settings: LinkSettings | None = None
    scanner_backend: type[BaseBleakScanner] | None = None
    client_backend: type[BaseBleakClient] | None = None

    def __call__(self, person: str, device: DeviceConfig, clock: Clock) -> BleLink:
        """The link for one configured wearable of one person."""
        return BleLink(
            person,
            device,
            clock,
            scanner_backend=self.scanner_backend,
            client_backend=self.client_backend,
            timezone=self.timezone,
            settings=self.settings,
        )


ble_link_factory = BleLinkFactory()
"""Links over the machine's Bluetooth adapter, writing UTC to watches (pass a zone instead)."""


def _can_notify(characteristic: BleakGATTCharacteristic) -> bool:
    return bool({"notify", "indicate"} & set(characteristic.properties))


def _cancelling() -> bool:
    """Whether the current task is being cancelled (so a caught error must be re-raised)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _describe(exc: BaseException) -> str:
    no_adapter = no_adapter_reason(exc)
    if no_adapter is not None:
        return f"no Bluetooth adapter ({no_adapter})"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, MonitorError | BleakError) else f"{type(exc).__name__}: {text}"
