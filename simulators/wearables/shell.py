"""The simulated wearable's shell: radio, connection, GATT plumbing and every fault, shared by
all profiles; one `Peripheral` per profile serves the profile's bytes (see `host.py`).

Notifications are paced on the simulated clock (`notify_interval_s`), so an accelerated day
does not flood the event loop. Every wearable can misbehave on request: reboot, vanish (link
loss), go out of range for a while, refuse connections, stall or slow its notifications, run
its battery down; and each profile has faults of its own (a PineTime's late reset, a silent
foot pod, a Polar model's frames and refusals), reached through `peripheral`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from bumble.att import ATT_Error, Attribute, AttributeValue, ErrorCode
from bumble.controller import Controller
from bumble.device import AdvertisingType, Connection, Device
from bumble.gatt import Characteristic

from devices.clock import Clock
from devices.profiles import battery, thingy52
from devices.profiles.current_time import LocalTimeInfo
from devices.profiles.gatt import GattParseError
from simulators.person import Wearer
from simulators.wearables.catalog import PERIPHERALS, PROFILE_DEFAULTS
from simulators.wearables.host import (
    INDICATE,
    NOTIFY,
    READ,
    MotionSource,
    Peripheral,
    advertising_data,
    bumble_uuid,
    service,
)

_LOGGER = logging.getLogger(__name__)
_P = TypeVar("_P")

_READABLE = Attribute.Permissions.READABLE
# Real seconds to let advertising commands in progress finish when switching off.
_HCI_SETTLE_S = 2.0
# Slower than this is a stall; use `stall`.
_MAX_SLOW = 1000.0
# Loop turns for a packet to cross the virtual link, with room to spare.
_HOPS = 10


class Air(Protocol):
    """What a wearable needs from the virtual link to misbehave."""

    def set_in_range(self, controller: Controller, in_range: bool) -> None:
        """Bring the controller into range or take it out (dropping its connections)."""
        ...

    def set_refusing(self, controller: Controller, refusing: bool) -> None:
        """Make connections to the controller fail to be established, or not."""
        ...

    def drop_connections(self, controller: Controller, reason: int = ...) -> None:
        """Lose the controller's connections as a supervision timeout does."""
        ...

    def detach(self, controller: Controller) -> None:
        """Take the controller off the air for good."""
        ...


async def _in_flight() -> None:
    """Let packets already sent reach the other end before the link is cut.

    A notification crosses host -> controller -> link -> controller -> host, one loop turn each.
    """
    for _ in range(_HOPS):
        await asyncio.sleep(0)


class SimulatedWearable:
    """One simulated wearable on the virtual radio, with fault injection (implements `Host`)."""

    def __init__(
        self,
        *,
        profile: str,
        device: Device,
        controller: Controller,
        air: Air,
        wearer: Wearer,
        clock: Clock,
        motion_source: MotionSource | None,
        battery: int,
        notify_interval_s: float,
        motion_period_s: float | None,
        boot_s: float,
    ) -> None:
        if notify_interval_s <= 0 or (motion_period_s is not None and motion_period_s <= 0):
            raise ValueError("notification intervals must be positive")
        self.profile = profile
        self.device = device
        self._defaults = PROFILE_DEFAULTS[profile]
        self._controller = controller
        self._air = air
        self._wearer = wearer
        self._clock = clock
        self._motion_source = motion_source
        self._battery = battery
        self._notify_interval_s = notify_interval_s
        self._motion_period_s = motion_period_s
        self._boot_s = boot_s

        self._tasks: set[asyncio.Task[Any]] = set()
        # Tasks in the middle of HCI commands are awaited, never cancelled: a command whose
        # caller is cancelled leaves Bumble's host waiting for a response nobody takes.
        self._hci_tasks: set[asyncio.Task[Any]] = set()
        # Bumble's advertising calls are not re-entrant: one sequence of them at a time.
        self._hci_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._unstalled = asyncio.Event()
        self._unstalled.set()
        self._closed = False
        self._up = True
        self._in_range = True
        self._refusing = False
        self._slow = 1.0
        self._stalled_until: datetime | None = None
        self._connection: Connection | None = None
        self._subscribed: set[str] = set()
        self._chars: dict[str, Characteristic[bytes]] = {}

        self.connections = 0
        self.reboots = 0
        self.reboot_times: list[datetime] = []
        self.notifications = 0
        self.peripheral: Peripheral = PERIPHERALS[profile](self)

    # -- public state --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The advertised name."""
        return str(self.device.name)

    @property
    def address(self) -> str:
        """The Bluetooth address, as bleak shows it."""
        return str(self.device.random_address.to_string(with_type_qualifier=False))

    @property
    def connected(self) -> bool:
        """Whether a central is connected."""
        return self._connection is not None

    @property
    def subscriptions(self) -> frozenset[str]:
        """The characteristics (UUIDs) the connected central has subscribed to."""
        return frozenset(self._subscribed)

    @property
    def count(self) -> int:
        """The step counter as the device holds it now (profiles with one)."""
        count = getattr(self.peripheral, "count", None)
        if not isinstance(count, int):
            raise TypeError(f"a {self.profile} wearable has no step counter")
        return count

    @property
    def zone(self) -> LocalTimeInfo:
        """The time zone last written to the watch (UTC until then)."""
        zone = getattr(self.peripheral, "zone", None)
        if not isinstance(zone, LocalTimeInfo):
            raise TypeError(f"a {self.profile} wearable keeps no zone")
        return zone

    @property
    def clock_error(self) -> timedelta:
        """How far the watch's clock is from true time."""
        return self.as_(timedelta, getattr(self.peripheral, "clock_error", None))

    @property
    def motion_config(self) -> thingy52.MotionConfig:
        """The Thingy motion configuration as last written (defaults after a reboot)."""
        return self.as_(thingy52.MotionConfig, getattr(self.peripheral, "motion_config", None))

    def watch_midnight_after(self, moment: datetime) -> datetime:
        """The true instant of the watch's next counter reset after `moment`."""
        midnight = getattr(self.peripheral, "watch_midnight_after", None)
        if midnight is None:
            raise TypeError(f"a {self.profile} wearable has no midnight")
        return self.as_(datetime, midnight(moment))

    def as_(self, kind: type[_P], value: object) -> _P:
        """`value` if it is a `kind`; TypeError (this profile has no such thing) otherwise."""
        if not isinstance(value, kind):
            raise TypeError(f"a {self.profile} wearable has no {kind.__name__}")
        return value

    async def wait_subscribed(self, uuid: str | None = None) -> None:
        """Wait until a central has subscribed to `uuid` (the main data characteristic if None)."""
        wanted = uuid or self.peripheral.primary_uuid
        while wanted not in self._subscribed:
            self._wake.clear()
            await self._wake.wait()

    # -- Host: what peripherals use --------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The simulated clock."""
        return self._clock

    @property
    def wearer(self) -> Wearer:
        """The person wearing it."""
        return self._wearer

    @property
    def motion_source(self) -> MotionSource | None:
        """Accelerometer samples, if any."""
        return self._motion_source

    @property
    def motion_period_s(self) -> float | None:
        """Seconds between motion notifications (the device's own rate if None)."""
        return self._motion_period_s

    @property
    def notify_interval_s(self) -> float:
        """Seconds between periodic notifications, before slowing."""
        return self._notify_interval_s

    @property
    def slow_factor(self) -> float:
        """How many times further apart notifications are spaced."""
        return self._slow

    @property
    def stalled(self) -> bool:
        """Whether notifications have stopped."""
        return self._stalled_until is not None

    def subscribed(self, uuid: str) -> bool:
        """Whether the connected central has subscribed to `uuid`."""
        return uuid in self._subscribed

    def wake(self) -> None:
        """Wake the periodic loop early."""
        self._wake.set()

    def spawn(self, coroutine: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        """Run a task until the wearable switches off."""
        return self._spawn(coroutine, what)

    async def notify(self, uuid: str, value: bytes) -> bool:
        """Notify a subscribed central; whether it was sent."""
        connection = self._connection
        characteristic = self._chars.get(uuid)
        if (
            connection is None
            or characteristic is None
            or uuid not in self._subscribed
            or self._stalled_until is not None
        ):
            return False
        await self.device.notify_subscriber(connection, characteristic, value)
        self.notifications += 1
        return True

    async def indicate(self, uuid: str, value: bytes) -> None:
        """Indicate to a subscribed central."""
        connection = self._connection
        characteristic = self._chars.get(uuid)
        if connection is None or characteristic is None or uuid not in self._subscribed:
            return
        await self.device.indicate_subscriber(connection, characteristic, value)

    def characteristic(
        self,
        uuid: str,
        properties: Characteristic.Properties,
        read: Callable[[], bytes] | None = None,
        write: Callable[[bytes], None] | None = None,
    ) -> Characteristic[bytes]:
        """A characteristic whose reads and writes wait out a hung firmware."""

        async def read_value(_connection: object) -> bytes:
            await self._unstalled.wait()  # a hung firmware answers late, or not at all
            if read is None:
                raise ATT_Error(ErrorCode.READ_NOT_PERMITTED)
            return read()

        async def write_value(_connection: object, value: bytes) -> None:
            await self._unstalled.wait()
            if write is None:
                raise ATT_Error(ErrorCode.WRITE_NOT_PERMITTED)
            try:
                write(value)
            except GattParseError as exc:
                # What firmware answers to a value of the wrong length or out of range.
                raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED) from exc

        permissions = Attribute.Permissions(0)
        if read is not None:
            permissions |= _READABLE
        if write is not None:
            permissions |= Attribute.Permissions.WRITEABLE
        characteristic: Characteristic[bytes] = Characteristic(
            bumble_uuid(uuid),
            properties,
            permissions,
            AttributeValue(read=read_value, write=write_value),
        )
        if properties & (NOTIFY | INDICATE):
            characteristic.on(
                characteristic.EVENT_SUBSCRIPTION,
                lambda _bearer, notify, indicate: self._on_subscription(uuid, notify or indicate),
            )
        self._chars[uuid] = characteristic
        return characteristic

    # -- faults --------------------------------------------------------------------------------

    async def reboot(self) -> None:
        """Restart: the counter starts again from 0 and the wearable is away for `boot_s`.

        What the device counted before the reboot is notified first: the real firmware notifies
        every change at once, while the simulation paces notifications.
        """
        now = self._clock.now()
        was_up, self._up = self._up, False  # the periodic loop must not notify past `now`
        if was_up:
            await self.peripheral.flush(now)
        self.reboots += 1
        self.reboot_times.append(now)
        self.peripheral.reboot(now)
        await _in_flight()
        self._air.drop_connections(self._controller)
        async with self._hci_lock:
            await self.device.stop_advertising()
        self._spawn(self._boot(), "boot")

    async def vanish(self) -> None:
        """Lose the link, as when the wearer walks behind a wall; the wearable stays nearby."""
        self._air.drop_connections(self._controller)
        await asyncio.sleep(0)

    async def out_of_range(self, seconds: float) -> None:
        """Go out of range (dropping the link) and come back after `seconds` of simulated time."""
        self._in_range = False
        self._air.set_in_range(self._controller, False)
        self._spawn(self._return_after(seconds), "return")
        await asyncio.sleep(0)

    async def refuse_connections(self, refuse: bool = True) -> None:
        """Refuse new connections (they fail to be established) until called with False."""
        self._refusing = refuse
        self._air.set_refusing(self._controller, refuse)
        await asyncio.sleep(0)

    async def stall(self, seconds: float, *, hang_requests: bool = False) -> None:
        """Stop notifying for `seconds`; with `hang_requests` GATT requests also wait it out."""
        until = self._clock.now() + timedelta(seconds=seconds)
        self._stalled_until = until
        if hang_requests:
            self._unstalled.clear()
        self._spawn(self._unstall_at(until), "unstall")
        await asyncio.sleep(0)

    async def slow(self, factor: float) -> None:
        """Space notifications `factor` times further apart (1.0 is normal)."""
        if not 0 < factor <= _MAX_SLOW:
            raise ValueError(f"slow factor must be above 0 and at most {_MAX_SLOW}")
        self._slow = factor
        self._wake.set()
        await asyncio.sleep(0)

    async def set_battery(self, percent: int) -> None:
        """Set the battery level; a subscribed central is notified."""
        value = battery.build_level(percent)
        self._battery = percent
        await self.notify(battery.LEVEL, value)

    @property
    def battery(self) -> int:
        """The battery level in percent."""
        return self._battery

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Build the GATT services, power on and start advertising."""
        level = self.characteristic(
            battery.LEVEL, READ | NOTIFY, lambda: battery.build_level(self._battery)
        )
        services = [service(battery.SERVICE, [level]), *self.peripheral.services()]
        self.device.add_services(services)
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        await self.device.power_on()
        await self._advertise()
        self._spawn(self._run(), "periodic")

    async def close(self) -> None:
        """Switch off: stop every task and leave the air."""
        self._closed = True
        self._unstalled.set()
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._hci_tasks:
            # They finish in a few loop turns; a controller that stopped answering is not
            # worth hanging the shutdown for.
            _done, stuck = await asyncio.wait(self._hci_tasks, timeout=_HCI_SETTLE_S)
            for task in stuck:
                task.cancel()
        self._air.detach(self._controller)
        await self.device.power_off()

    def _spawn(
        self, coroutine: Coroutine[Any, Any, None], what: str, *, hci: bool = False
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine, name=f"{self.name}:{what}")
        (self._hci_tasks if hci else self._tasks).add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._hci_tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            _LOGGER.error(
                "%s: simulation task %s failed", self.name, task.get_name(), exc_info=error
            )

    async def _boot(self) -> None:
        await self._clock.sleep(self._boot_s)
        self._up = True
        self._spawn(self._advertise(), "advertise", hci=True)
        self._wake.set()

    async def _return_after(self, seconds: float) -> None:
        await self._clock.sleep(seconds)
        self._in_range = True
        self._air.set_in_range(self._controller, True)

    async def _unstall_at(self, until: datetime) -> None:
        await self._clock.sleep_until(until)
        if self._stalled_until == until:
            self._stalled_until = None
            self._unstalled.set()
            self._wake.set()

    async def _advertise(self) -> None:
        async with self._hci_lock:
            if self._closed or not self._up or self._connection is not None:
                return
            data = advertising_data(self.name, self._defaults.uuids16, self._defaults.uuids128)
            await self.device.start_advertising(
                advertising_type=AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE,
                advertising_data=data,
                scan_response_data=data,
            )

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self.connections += 1
        self._subscribed = set()
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._subscribed = set()
        self.peripheral.on_disconnect()
        self._wake.set()
        if not self._closed:
            self._spawn(self._advertise(), "advertise", hci=True)

    def _on_subscription(self, uuid: str, subscribed: bool) -> None:
        if subscribed:
            self._subscribed.add(uuid)
        else:
            self._subscribed.discard(uuid)
        self._wake.set()
        self.peripheral.on_subscription(uuid, subscribed)

    # -- periodic notifications ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            now = self._clock.now()
            if self._up:
                await self.peripheral.tick(now)
            interval = timedelta(seconds=self.peripheral.interval_s() * self._slow)
            await self._sleep_until(self.peripheral.next_tick(now, now + interval))

    async def _sleep_until(self, deadline: datetime) -> None:
        """Sleep on the simulated clock, waking early when something changes."""
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep_until(deadline))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
