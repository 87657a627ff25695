"""Which supported wearables are nearby, and the profile that would serve each."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError

from devices.errors import MonitorError
from devices.profiles.registry import identify

# D-Bus answers these when BlueZ (the Linux Bluetooth daemon) is not there to ask.
_NO_BLUEZ = ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NoReply")


class NoAdapterError(MonitorError):
    """This machine has no usable Bluetooth adapter; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """One advertising device, and the profile that would serve it (None: unsupported)."""

    address: str
    name: str | None
    rssi: int
    profile: str | None
    title: str | None


def no_adapter_reason(error: BaseException) -> str | None:
    """Why `error` means there is no Bluetooth to use, or None if it means something else."""
    if isinstance(error, BleakBluetoothNotAvailableError):
        return str(error.args[0]) if error.args else "Bluetooth is not available"
    if isinstance(error, BleakDBusError) and error.dbus_error in _NO_BLUEZ:
        return "the Bluetooth service (BlueZ) is not running"
    if isinstance(error, FileNotFoundError | ConnectionRefusedError) or (
        isinstance(error, OSError) and error.errno in (errno.ENOENT, errno.ECONNREFUSED)
    ):
        return "no system D-Bus to reach a Bluetooth adapter through"
    return None


async def scan(
    seconds: float,
    *,
    backend: type[BaseBleakScanner] | None = None,
    include_unsupported: bool = False,
) -> list[Sighting]:
    """Listen for `seconds`; supported wearables first, strongest signal first.

    Raises NoAdapterError when there is no Bluetooth adapter to listen with.
    """
    try:
        if backend is None:
            found = await BleakScanner.discover(seconds, return_adv=True)
        else:
            found = await BleakScanner.discover(seconds, return_adv=True, backend=backend)
    except (OSError, BleakBluetoothNotAvailableError, BleakDBusError) as exc:
        reason = no_adapter_reason(exc)
        if reason is None:
            raise
        raise NoAdapterError(f"no Bluetooth adapter: {reason}") from exc
    sightings = []
    for device, advertisement in found.values():
        profile = identify(advertisement.local_name, advertisement.service_uuids)
        if profile is None and not include_unsupported:
            continue
        sightings.append(
            Sighting(
                address=device.address,
                name=advertisement.local_name or device.name,
                rssi=advertisement.rssi,
                profile=profile.name if profile else None,
                title=profile.title if profile else None,
            )
        )
    sightings.sort(key=lambda s: (s.profile is None, -s.rssi, s.address))
    return sightings
