"""What every simulated peripheral shares: the protocol it implements, and what the shell gives it.

A `Peripheral` serves one profile's GATT bytes and paces its notifications; the shell
(`SimulatedWearable`) owns the radio, the connection and every fault, and hands each peripheral
a `Host`: the clock, the wearer, and notifying through the shell (which drops what a stalled
or disconnected wearable would not send).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bumble import core
from bumble.gatt import Characteristic, Service

from devices.clock import Clock
from simulators.person import Wearer

MotionSource = Callable[[datetime, float, int], Sequence[tuple[float, float, float]]]
"""(start, rate_hz, count) -> `count` accelerometer samples in g from `start` at `rate_hz`."""

READ, WRITE, NOTIFY, INDICATE = (
    Characteristic.Properties.READ,
    Characteristic.Properties.WRITE,
    Characteristic.Properties.NOTIFY,
    Characteristic.Properties.INDICATE,
)
_SIG_PREFIX, _SIG_SUFFIX = "0000", "-0000-1000-8000-00805f9b34fb"
_AD_MAX = 31  # legacy advertising payload
_AD_FLAGS = bytes([2, 0x01, 0x06])  # LE general discoverable, BR/EDR not supported


@dataclass(frozen=True, slots=True)
class WearableDefaults:
    """What a simulated wearable of a profile is called and advertises."""

    name: str
    uuids16: tuple[int, ...] = ()
    uuids128: tuple[str, ...] = ()


class Host(Protocol):
    """What the shell gives a peripheral."""

    @property
    def clock(self) -> Clock:
        """The simulated clock everything is paced on."""
        ...

    @property
    def wearer(self) -> Wearer:
        """The person wearing it: their steps until any moment."""
        ...

    @property
    def motion_source(self) -> MotionSource | None:
        """Accelerometer samples, if the wearable streams motion."""
        ...

    @property
    def motion_period_s(self) -> float | None:
        """Seconds between motion notifications (the device's own rate if None)."""
        ...

    @property
    def notify_interval_s(self) -> float:
        """Seconds between periodic notifications, before any slowing."""
        ...

    @property
    def slow_factor(self) -> float:
        """How many times further apart notifications are spaced (1.0 is normal)."""
        ...

    @property
    def stalled(self) -> bool:
        """Whether notifications have stopped (a stall fault)."""
        ...

    @property
    def connected(self) -> bool:
        """Whether a central is connected."""
        ...

    def subscribed(self, uuid: str) -> bool:
        """Whether the connected central has subscribed to `uuid`."""
        ...

    async def notify(self, uuid: str, value: bytes) -> bool:
        """Notify a subscribed central; whether it was sent (not stalled, connected, subscribed)."""
        ...

    async def indicate(self, uuid: str, value: bytes) -> None:
        """Indicate to a subscribed central (a command's answer)."""
        ...

    def characteristic(
        self,
        uuid: str,
        properties: Characteristic.Properties,
        read: Callable[[], bytes] | None = None,
        write: Callable[[bytes], None] | None = None,
    ) -> Characteristic[bytes]:
        """A GATT characteristic whose reads and writes go through the shell's fault model."""
        ...

    def spawn(self, coroutine: Coroutine[Any, Any, None], what: str) -> Any:
        """Run a task for as long as the wearable is on."""
        ...

    def wake(self) -> None:
        """Wake the periodic loop early (something changed)."""
        ...


class Peripheral(Protocol):
    """One profile's simulated GATT server: its services and what it notifies, and when."""

    @property
    def primary_uuid(self) -> str:
        """The characteristic a central subscribes to for the main data."""
        ...

    def services(self) -> list[Service]:
        """The profile's GATT services (battery is the shell's)."""
        ...

    def interval_s(self) -> float:
        """Seconds between periodic ticks, before the shell's slowing."""
        ...

    def next_tick(self, now: datetime, deadline: datetime) -> datetime:
        """When to tick next, given the paced `deadline` (a counter sleeps while nobody walks)."""
        ...

    async def tick(self, now: datetime) -> None:
        """The periodic notification(s) due at `now`."""
        ...

    async def flush(self, now: datetime) -> None:
        """Before a reboot: notify what was counted (firmware notifies every change at once)."""
        ...

    def reboot(self, now: datetime) -> None:
        """The state after a reboot at `now` (counters from 0, configuration at defaults)."""
        ...

    def on_subscription(self, uuid: str, subscribed: bool) -> None:
        """A central subscribed to (or unsubscribed from) `uuid`."""
        ...

    def on_disconnect(self) -> None:
        """The connection ended."""
        ...


class PeripheralBase:
    """Defaults for the protocol's optional parts."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def interval_s(self) -> float:
        """The shell's notification interval."""
        return self.host.notify_interval_s

    def next_tick(self, now: datetime, deadline: datetime) -> datetime:
        """Tick at the paced deadline."""
        return deadline

    async def flush(self, now: datetime) -> None:
        """Nothing is held back."""

    def reboot(self, now: datetime) -> None:
        """Nothing to reset."""

    def on_subscription(self, uuid: str, subscribed: bool) -> None:
        """Nothing starts on subscription."""

    def on_disconnect(self) -> None:
        """Nothing stops with the connection."""


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


def bumble_uuid(uuid: str) -> core.UUID:
    """A profile UUID for Bumble: SIG UUIDs in their 16-bit form, as real devices send them."""
    lowered = uuid.lower()
    if lowered.startswith(_SIG_PREFIX) and lowered.endswith(_SIG_SUFFIX):
        return core.UUID.from_16_bits(int(lowered[4:8], 16))
    return core.UUID(lowered)


def service(uuid: str, characteristics: Sequence[Characteristic[bytes]]) -> Service:
    """A GATT service of characteristics."""
    return Service(bumble_uuid(uuid), list(characteristics))
