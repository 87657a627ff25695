"""The vocabulary the profiles share: UUIDs, parse errors, and what a link does with a wearable.

A profile says which characteristics a wearable offers and what their bytes mean; the link
(`devices/ble.py`) does the radio work. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from devices.errors import MonitorError, ParseError
from devices.readings import ReadingValue
from devices.settings import DeviceConfig

_SIG_BASE = "0000{:04x}-0000-1000-8000-00805f9b34fb"


class GattParseError(ParseError):
    """Bytes from a wearable that do not fit the characteristic's format."""


class ProtocolRefusalError(MonitorError):
    """The wearable refused a command the profile sent (the message says what to check).

    Not a radio failure: sending the same command again soon would be refused again.
    """


def sig_uuid(short: int) -> str:
    """The full lowercase 128-bit form of a Bluetooth SIG 16-bit UUID, as bleak spells it."""
    return _SIG_BASE.format(short)


def require_length(
    data: bytes, what: str, *, exactly: int | None = None, at_least: int = 0
) -> None:
    """Raise GattParseError unless `data` has the length the format needs."""
    if exactly is not None and len(data) != exactly:
        raise GattParseError(f"{what}: expected {exactly} bytes, got {len(data)}")
    if len(data) < at_least:
        raise GattParseError(f"{what}: expected at least {at_least} bytes, got {len(data)}")


Exchange = Callable[[bytes], Awaitable[bytes]]
"""Writes a command to a characteristic; returns the value it then indicates (the answer)."""

Handshake = Callable[[Mapping[str, Exchange], datetime], Awaitable[None]]
"""Commands and answers after subscribing (by characteristic UUID), before readings flow."""

Decode = Callable[[bytes, datetime], Sequence[ReadingValue]]
"""Turns one value of a characteristic, received at a moment, into zero or more readings."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One characteristic the link reads or subscribes to, and how its bytes become readings."""

    uuid: str
    decode: Decode
    subscribe: bool = True  # notifications wanted
    read_on_connect: bool = False  # read once after subscribing: notifications come only on change
    required: bool = True  # the wearable is unusable without it (else skipped when absent)
    streaming: bool = False  # notifies continuously, so silence means the stream stopped


@dataclass(frozen=True, slots=True)
class Write:
    """A value written on every connect; `build` gets the current value when `read_first`, and
    then nothing is written if the value built is the current one."""

    uuid: str
    build: Callable[[bytes | None], bytes]
    read_first: bool = False
    required: bool = True


@dataclass(slots=True)
class Session:
    """What one link does with one wearable, with the per-link state its decoders keep."""

    channels: tuple[Channel, ...]
    setup: Callable[[datetime, tzinfo], Sequence[Write]] = lambda _now, _tz: ()
    # Written once subscribed (a command whose answer comes as an indication).
    start: Callable[[datetime], Sequence[Write]] = lambda _now: ()
    # Once subscribed: commands whose answers decide what comes next (Polar PMD's settings).
    handshake: Handshake | None = None
    # Readable characteristics, best first, that the watchdog reads to check the wearable lives.
    probes: tuple[str, ...] = ()
    # Called when a connection ends: returns what the decoders still held (a motion batch).
    on_disconnect: Callable[[datetime], Sequence[ReadingValue]] = lambda _now: ()
    # Whether the clock written by `setup` drifts enough to rewrite it now and then.
    resync_clock: bool = False


class Profile(Protocol):
    """A family of wearables: how to recognise one in a scan, and how a link talks to it."""

    @property
    def name(self) -> str:
        """The profile's name in the config (`infinitime`, `thingy52`, ...)."""
        ...

    @property
    def title(self) -> str:
        """A human name for listings (`PineTime (InfiniTime)`)."""
        ...

    def recognises(self, local_name: str | None, service_uuids: Collection[str]) -> bool:
        """Whether an advertisement (name, lowercase 128-bit service UUIDs) is one of these."""
        ...

    def session(self, device: DeviceConfig) -> Session:
        """Fresh per-link state for talking to `device`."""
        ...
