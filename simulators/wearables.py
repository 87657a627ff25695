"""Simulated wearables: Bumble GATT peripherals that serve the exact bytes of each profile.

A wearable's step counter follows its wearer (`wearer.steps_until(clock.now())`), less what it
counted before its last reset: a reboot, or for a PineTime the watch's own local midnight, in
the zone and at the time the link last wrote to it. Notifications are paced on the simulated
clock (`notify_interval_s`), so an accelerated day does not flood the event loop.

Every wearable can misbehave on request: reboot, vanish (link loss), go out of range for a
while, refuse connections, stall or slow its notifications, run its battery down.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from bumble import core
from bumble.att import ATT_Error, Attribute, AttributeValue, ErrorCode
from bumble.controller import Controller
from bumble.device import AdvertisingType, Connection, Device
from bumble.gatt import Characteristic, Service

from devices.clock import Clock
from devices.profiles import (
    battery,
    current_time,
    heart_rate,
    infinitime,
    polar_pmd,
    rsc,
    thingy52,
)
from devices.profiles.current_time import LocalTimeInfo
from devices.profiles.gatt import GattParseError
from simulators.person import Wearer

_LOGGER = logging.getLogger(__name__)

MotionSource = Callable[[datetime, float, int], Sequence[tuple[float, float, float]]]
"""(start, rate_hz, count) -> `count` accelerometer samples in g from `start` at `rate_hz`."""

_SIG_PREFIX, _SIG_SUFFIX = "0000", "-0000-1000-8000-00805f9b34fb"
_READ, _WRITE, _NOTIFY, _INDICATE = (
    Characteristic.Properties.READ,
    Characteristic.Properties.WRITE,
    Characteristic.Properties.NOTIFY,
    Characteristic.Properties.INDICATE,
)
_READABLE = Attribute.Permissions.READABLE
_AD_MAX = 31  # legacy advertising payload
_AD_FLAGS = bytes([2, 0x01, 0x06])  # LE general discoverable, BR/EDR not supported
# A simulated walker's stride, used to turn steps into foot-pod speed and distance.
_STRIDE_M = 0.7
# The Thingy reports walking time; the simulation assumes a steady 100 steps a minute.
_MS_PER_STEP = 600
# Real seconds to let advertising commands in progress finish when switching off.
_HCI_SETTLE_S = 2.0
# Slower than this is a stall; use `stall`.
_MAX_SLOW = 1000.0
# A Polar frame carries about this many seconds of samples, and at most this many samples.
_PMD_FRAME_S = 0.2
_PMD_FRAME_SAMPLES = 36
# Loop turns for a packet to cross the virtual link, with room to spare.
_HOPS = 10
# Foot pods report cadence averaged over this many seconds.
_CADENCE_WINDOW_S = 10.0
# Foot pods flag "running" above this cadence.
_RUNNING_SPM = 140


@dataclass(frozen=True, slots=True)
class WearableDefaults:
    """What a simulated wearable of a profile is called and advertises."""

    name: str
    uuids16: tuple[int, ...] = ()
    uuids128: tuple[str, ...] = ()


PROFILE_DEFAULTS = {
    "infinitime": WearableDefaults("InfiniTime"),
    "thingy52": WearableDefaults("Thingy", uuids128=(thingy52.CONFIGURATION_SERVICE,)),
    "rsc": WearableDefaults("FootPod", uuids16=(0x1814,)),
    "heart_rate": WearableDefaults("HRM", uuids16=(0x180D,)),
    "polar_pmd": WearableDefaults("Polar H10", uuids16=(0x180D,)),
}


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


def advertising_data(name: str, uuids16: Sequence[int] = (), uuids128: Sequence[str] = ()) -> bytes:
    """Flags, service UUIDs and as much of the name as fits in a 31-byte advertisement.

    The virtual controller sends no scan responses, so everything goes in the advertisement.
    """
    data = _AD_FLAGS
    if uuids16:
        body = b"".join(struct.pack("<H", u) for u in uuids16)
        data += bytes([len(body) + 1, 0x03]) + body
    if uuids128:
        body = b"".join(bytes(reversed(bytes.fromhex(u.replace("-", "")))) for u in uuids128)
        data += bytes([len(body) + 1, 0x07]) + body
    encoded = name.encode()
    room = _AD_MAX - len(data) - 2
    kind = 0x09 if len(encoded) <= room else 0x08  # complete or shortened local name
    encoded = encoded[: max(room, 0)]
    return data + bytes([len(encoded) + 1, kind]) + encoded


async def _in_flight() -> None:
    """Let packets already sent reach the other end before the link is cut.

    A notification crosses host -> controller -> link -> controller -> host, one loop turn each.
    """
    for _ in range(_HOPS):
        await asyncio.sleep(0)


def bumble_uuid(uuid: str) -> core.UUID:
    """A profile UUID for Bumble: SIG UUIDs in their 16-bit form, as real devices send them."""
    lowered = uuid.lower()
    if lowered.startswith(_SIG_PREFIX) and lowered.endswith(_SIG_SUFFIX):
        return core.UUID.from_16_bits(int(lowered[4:8], 16))
    return core.UUID(lowered)


class SimulatedWearable:
    """One simulated wearable on the virtual radio, with fault injection."""

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
        self._controller = controller
        self._air = air
        self._wearer = wearer
        self._clock = clock
        self._motion_source = motion_source
        self._battery = battery
        self._notify_interval_s = notify_interval_s
        self._motion_period_s = motion_period_s
        self._boot_s = boot_s
        self._defaults = PROFILE_DEFAULTS[profile]

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
        self._motion_task: asyncio.Task[None] | None = None

        # The counter: steps since the last reset are the wearer's steps less `_base`.
        now = clock.now()
        self._epoch_start = now
        self._base = wearer.steps_until(now)
        self._last_value: int | None = None  # the last value notified (or due while unheard)
        # The firmware's counter as of its last update: what a read returns. It moves at the
        # notification pace, so reads and notifications agree as on the real device.
        self._counted = 0
        # The watch's clock: its zone (as last written) and its error against true time.
        self._zone = LocalTimeInfo(timedelta(0), timedelta(0))
        self._clock_error = timedelta(0)
        self._watch_date = self._watch_local(now).date()
        self._day_ends: list[int] = []
        self._motion_config = thingy52.MotionConfig()
        self._pmd_rate: int | None = None

        self.connections = 0
        self.reboots = 0
        self.reboot_times: list[datetime] = []
        self.notifications = 0
        self._chars: dict[str, Characteristic[bytes]] = {}

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
        """The step counter as the device holds it now."""
        now = self._clock.now()
        self._roll(now)
        return max(0, self._wearer.steps_until(now) - self._base)

    @property
    def zone(self) -> LocalTimeInfo:
        """The time zone last written to the wearable (UTC until then)."""
        return self._zone

    @property
    def clock_error(self) -> timedelta:
        """How far the wearable's clock is from true time."""
        return self._clock_error

    @property
    def motion_config(self) -> thingy52.MotionConfig:
        """The Thingy motion configuration as last written (defaults after a reboot)."""
        return self._motion_config

    @property
    def battery(self) -> int:
        """The battery level in percent."""
        return self._battery

    def watch_midnight_after(self, moment: datetime) -> datetime:
        """The true instant of the wearable's next local midnight after `moment`."""
        local = self._watch_local(moment)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=moment.tzinfo)
        return midnight - self._zone.utc_offset - self._clock_error

    async def wait_subscribed(self, uuid: str | None = None) -> None:
        """Wait until a central has subscribed to `uuid` (the main data characteristic if None)."""
        wanted = uuid or self._primary_uuid()
        while wanted not in self._subscribed:
            self._wake.clear()
            await self._wake.wait()

    # -- faults --------------------------------------------------------------------------------

    async def reboot(self) -> None:
        """Restart: the counter starts again from 0 and the wearable is away for `boot_s`.

        What the device counted before the reboot is notified first: the real firmware notifies
        every change at once, while the simulation paces notifications.
        """
        now = self._clock.now()
        was_up, self._up = self._up, False  # the counter loop must not notify past `now`
        if was_up:
            self._roll(now)
            await self._send_day_ends()
            await self._send_count(now)
        self.reboots += 1
        self.reboot_times.append(now)
        self._base = self._wearer.steps_until(now)
        self._epoch_start = now
        self._last_value = 0
        self._counted = 0
        await _in_flight()
        self._air.drop_connections(self._controller)
        async with self._hci_lock:
            await self.device.stop_advertising()
        self._day_ends.clear()
        self._motion_config = thingy52.MotionConfig()
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
        await self._notify(battery.LEVEL, value)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Build the GATT services, power on and start advertising."""
        self.device.add_services(self._services())
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        await self.device.power_on()
        await self._advertise()
        self._spawn(self._run(), "counter")

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
        self._pmd_rate = None  # the measurement stops with the connection
        self._wake.set()
        if not self._closed:
            self._spawn(self._advertise(), "advertise", hci=True)

    # -- the counter and periodic notifications ------------------------------------------------

    def _watch_local(self, moment: datetime) -> datetime:
        return (moment + self._clock_error + self._zone.utc_offset).replace(tzinfo=None)

    def _primary_uuid(self) -> str:
        return {
            "infinitime": infinitime.STEP_COUNT,
            "thingy52": thingy52.PEDOMETER,
            "rsc": rsc.MEASUREMENT,
            "heart_rate": heart_rate.MEASUREMENT,
            "polar_pmd": polar_pmd.DATA,
        }[self.profile]

    def _interval_s(self) -> float:
        interval = self._notify_interval_s
        if self.profile == "thingy52":
            interval = max(interval, self._motion_config.pedometer_interval_ms / 1000.0)
        return interval * self._slow

    async def _run(self) -> None:
        while True:
            now = self._clock.now()
            if self._up:
                await self._tick(now)
            deadline = now + timedelta(seconds=self._interval_s())
            if self.profile in ("infinitime", "thingy52"):
                # A counter notifies only changes: while its wearer sits still there is nothing
                # to look at, so sleep until they move (an accelerated month stays cheap).
                # (From now: the tick after a walk ends still sends its last steps.)
                moves = self._wearer.moves_after(now)
                quiet_until = moves if moves is not None else deadline + timedelta(days=1)
                deadline = max(deadline, quiet_until)
            if self.profile == "infinitime":
                deadline = min(deadline, self.watch_midnight_after(now))
            await self._sleep_until(deadline)

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

    async def _tick(self, now: datetime) -> None:
        if self.profile in ("infinitime", "thingy52"):
            self._roll(now)
            await self._send_day_ends()
            await self._send_count(now)
        elif self.profile == "rsc":
            await self._send_cadence(now)
        else:
            await self._send_heart_rate(now)

    def _roll(self, now: datetime, *, written: bool = False) -> None:
        """Start a new day's count if the watch's local date has changed.

        The date changes at the watch's midnight, or at once when a new zone or time is written.
        The old day's last value is kept in `_day_ends` for the counter loop to notify.
        """
        if self.profile != "infinitime":
            return
        today = self._watch_local(now).date()
        if today == self._watch_date:
            return
        moment = now
        if not written:
            midnight = datetime.combine(today, time(0), tzinfo=now.tzinfo)
            midnight -= self._zone.utc_offset + self._clock_error
            moment = min(now, max(self._epoch_start, midnight))
        self._day_ends.append(max(0, self._wearer.steps_until(moment) - self._base))
        self._base = self._wearer.steps_until(moment)
        self._epoch_start = moment
        self._watch_date = today
        self._counted = max(0, self._wearer.steps_until(now) - self._base)

    async def _send_day_ends(self) -> bool:
        """Notify the last value of each day that ended (then the 0 follows); whether any did."""
        ended = bool(self._day_ends)
        for value in self._day_ends:
            if value != self._last_value:
                await self._notify(infinitime.STEP_COUNT, self._counter_bytes(value))
            # The new day starts at 0, and the watch says so at once.
            await self._notify(infinitime.STEP_COUNT, self._counter_bytes(0))
            self._last_value = 0
        self._day_ends.clear()
        return ended

    def _counter_bytes(self, value: int) -> bytes:
        if self.profile == "thingy52":
            return thingy52.build_pedometer(value, value * _MS_PER_STEP)
        return infinitime.build_step_count(value)

    async def _send_count(self, moment: datetime) -> None:
        """Update the counter to `moment` and notify it if it changed since last notified."""
        value = max(0, self._wearer.steps_until(moment) - self._base)
        self._counted = value
        if self._stalled_until is not None:
            return  # the counter counts; only its notifications have stopped
        if value == self._last_value:
            return
        self._last_value = value
        uuid = thingy52.PEDOMETER if self.profile == "thingy52" else infinitime.STEP_COUNT
        await self._notify(uuid, self._counter_bytes(value))

    async def _send_cadence(self, now: datetime) -> None:
        # Pods average cadence over the last strides; so does the simulation (whole steps
        # over a couple of seconds would jitter by tens of steps a minute).
        window = max(_CADENCE_WINDOW_S, 2 * self._interval_s())
        steps = self._wearer.steps_until(now)
        walked = steps - self._wearer.steps_until(now - timedelta(seconds=window))
        spm = min(255, round(walked * 60.0 / window))
        value = rsc.build_measurement(
            spm,
            spm * _STRIDE_M / 60.0,
            running=spm > _RUNNING_SPM,
            stride_m=_STRIDE_M,
            distance_m=(steps - self._base) * _STRIDE_M,
        )
        await self._notify(rsc.MEASUREMENT, value)

    async def _send_heart_rate(self, now: datetime) -> None:
        walking = self._wearer.steps_until(now) > self._wearer.steps_until(
            now - timedelta(seconds=60)
        )
        bpm = 96 if walking else 68
        value = heart_rate.build_measurement(bpm, contact=True, rr_units=(round(61440 / bpm),))
        await self._notify(heart_rate.MEASUREMENT, value)

    async def _notify(self, uuid: str, value: bytes) -> bool:
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

    # -- raw motion ----------------------------------------------------------------------------

    def _motion_rate_hz(self) -> float:
        if self.profile == "thingy52":
            return float(self._motion_config.motion_frequency_hz)
        if self.profile == "polar_pmd":
            return float(self._pmd_rate or polar_pmd.DEFAULT_RATE_HZ)
        return infinitime.MOTION_RATE_HZ

    async def _stream_motion(self, uuid: str) -> None:
        """Notify raw motion while subscribed: every sample (Thingy), every change (PineTime),
        or frames of samples while a measurement runs (Polar)."""
        source = self._motion_source
        if source is None:
            return
        last: bytes | None = None
        while uuid in self._subscribed and self._connection is not None:
            rate = self._motion_rate_hz()
            if self.profile == "polar_pmd":
                if self._pmd_rate is None:
                    return
                await self._send_pmd_frame(source, rate)
                continue
            await self._clock.sleep((self._motion_period_s or 1.0 / rate) * self._slow)
            if self._stalled_until is not None:
                continue
            sample = source(self._clock.now(), rate, 1)[0]
            if self.profile == "thingy52":
                await self._notify(uuid, thingy52.build_raw(sample))
                continue
            value = infinitime.build_motion(sample)
            if value != last:
                last = value
                await self._notify(uuid, value)

    async def _send_pmd_frame(self, source: MotionSource, rate: float) -> None:
        count = min(_PMD_FRAME_SAMPLES, max(1, round(rate * _PMD_FRAME_S)))
        await self._clock.sleep((self._motion_period_s or count / rate) * self._slow)
        if self._stalled_until is not None:
            return
        now = self._clock.now()
        start = now - timedelta(seconds=(count - 1) / rate)
        samples = [
            (round(x * 1000), round(y * 1000), round(z * 1000))
            for x, y, z in source(start, rate, count)
        ]
        nanoseconds = int((now - self._epoch_start).total_seconds() * 1e9)
        await self._notify(polar_pmd.DATA, polar_pmd.build_frame(nanoseconds, samples))

    def _on_pmd_command(self, value: bytes) -> None:
        if value[:1] == bytes([polar_pmd.OP_STOP]):
            self._pmd_rate = None
            self._spawn(
                self._indicate(
                    polar_pmd.CONTROL_POINT, polar_pmd.build_response(polar_pmd.OP_STOP)
                ),
                "pmd",
            )
            return
        self._pmd_rate = polar_pmd.parse_start(value)
        self._spawn(self._pmd_start(), "pmd")

    async def _pmd_start(self) -> None:
        await self._indicate(polar_pmd.CONTROL_POINT, polar_pmd.build_response(polar_pmd.OP_START))
        if self._motion_task is None or self._motion_task.done():
            self._motion_task = self._spawn(self._stream_motion(polar_pmd.DATA), "motion")

    async def _indicate(self, uuid: str, value: bytes) -> None:
        connection = self._connection
        characteristic = self._chars.get(uuid)
        if connection is None or characteristic is None or uuid not in self._subscribed:
            return
        await self.device.indicate_subscriber(connection, characteristic, value)

    def _on_subscription(self, uuid: str, notify: bool) -> None:
        if notify:
            self._subscribed.add(uuid)
        else:
            self._subscribed.discard(uuid)
        self._wake.set()
        motion = uuid in (infinitime.RAW_MOTION, thingy52.RAW)
        if motion and notify and (self._motion_task is None or self._motion_task.done()):
            self._motion_task = self._spawn(self._stream_motion(uuid), "motion")

    # -- GATT ----------------------------------------------------------------------------------

    def _characteristic(
        self,
        uuid: str,
        properties: Characteristic.Properties,
        read: Callable[[], bytes] | None = None,
        write: Callable[[bytes], None] | None = None,
    ) -> Characteristic[bytes]:
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
        if properties & (_NOTIFY | _INDICATE):
            characteristic.on(
                characteristic.EVENT_SUBSCRIPTION,
                lambda _bearer, notify, indicate: self._on_subscription(uuid, notify or indicate),
            )
        self._chars[uuid] = characteristic
        return characteristic

    def _service(self, uuid: str, characteristics: Sequence[Characteristic[bytes]]) -> Service:
        return Service(bumble_uuid(uuid), list(characteristics))

    def _services(self) -> list[Service]:
        services = [
            self._service(
                battery.SERVICE,
                [
                    self._characteristic(
                        battery.LEVEL, _READ | _NOTIFY, lambda: battery.build_level(self._battery)
                    )
                ],
            )
        ]
        heart = self._service(
            heart_rate.SERVICE, [self._characteristic(heart_rate.MEASUREMENT, _NOTIFY)]
        )
        if self.profile == "infinitime":
            services += [
                self._service(
                    infinitime.MOTION_SERVICE,
                    [
                        self._characteristic(
                            infinitime.STEP_COUNT,
                            _READ | _NOTIFY,
                            lambda: infinitime.build_step_count(self._read_count()),
                        ),
                        self._characteristic(
                            infinitime.RAW_MOTION,
                            _READ | _NOTIFY,
                            lambda: infinitime.build_motion(self._current_sample()),
                        ),
                    ],
                ),
                self._service(
                    current_time.SERVICE,
                    [
                        self._characteristic(
                            current_time.CURRENT_TIME,
                            _READ | _WRITE | _NOTIFY,
                            self._read_current_time,
                            self._write_current_time,
                        ),
                        self._characteristic(
                            current_time.LOCAL_TIME_INFORMATION,
                            _READ | _WRITE,
                            self._read_zone,
                            self._write_zone,
                        ),
                    ],
                ),
                heart,
            ]
        elif self.profile == "thingy52":
            services.append(
                self._service(
                    thingy52.MOTION_SERVICE,
                    [
                        self._characteristic(
                            thingy52.MOTION_CONFIG,
                            _READ | _WRITE,
                            lambda: thingy52.build_config(self._motion_config),
                            self._write_motion_config,
                        ),
                        self._characteristic(thingy52.PEDOMETER, _NOTIFY),
                        self._characteristic(thingy52.RAW, _NOTIFY),
                    ],
                )
            )
        elif self.profile == "rsc":
            services.append(
                self._service(
                    rsc.SERVICE,
                    [
                        self._characteristic(rsc.MEASUREMENT, _NOTIFY),
                        # RSC Feature: stride, total distance and walking/running supported.
                        self._characteristic(
                            "00002a54-0000-1000-8000-00805f9b34fb", _READ, lambda: b"\x07\x00"
                        ),
                    ],
                )
            )
        elif self.profile == "polar_pmd":
            services += [
                heart,
                self._service(
                    polar_pmd.SERVICE,
                    [
                        self._characteristic(
                            polar_pmd.CONTROL_POINT,
                            _READ | _WRITE | _INDICATE,
                            lambda: b"\x0f" + bytes([1 << polar_pmd.ACC]),  # features: ACC
                            self._on_pmd_command,
                        ),
                        self._characteristic(polar_pmd.DATA, _NOTIFY),
                    ],
                ),
            ]
        else:
            services.append(heart)
        return services

    def _read_count(self) -> int:
        self._roll(self._clock.now())
        return self._counted

    def _current_sample(self) -> tuple[float, float, float]:
        if self._motion_source is None:
            return (0.0, 0.0, 1.0)
        x, y, z = self._motion_source(self._clock.now(), self._motion_rate_hz(), 1)[0]
        return (x, y, z)

    def _read_current_time(self) -> bytes:
        # The watch's own local time, in the characteristic's format (no adjustment reason).
        local = self._watch_local(self._clock.now())
        return current_time.build_current_time(local.replace(tzinfo=UTC), UTC, adjust_reason=0)

    def _write_current_time(self, value: bytes) -> None:
        local = current_time.parse_current_time(value)
        now = self._clock.now()
        self._clock_error = current_time.utc_of(local, self._zone) - now
        self._roll(now, written=True)
        self._wake.set()

    def _read_zone(self) -> bytes:
        return current_time.build_local_time_information(self._zone)

    def _write_zone(self, value: bytes) -> None:
        self._zone = current_time.parse_local_time_information(value)
        self._roll(self._clock.now(), written=True)
        self._wake.set()

    def _write_motion_config(self, value: bytes) -> None:
        config = thingy52.parse_config(value)
        if not thingy52.MIN_MOTION_HZ <= config.motion_frequency_hz <= thingy52.MAX_MOTION_HZ:
            raise GattParseError(f"motion frequency {config.motion_frequency_hz} Hz")
        self._motion_config = config
        self._wake.set()
