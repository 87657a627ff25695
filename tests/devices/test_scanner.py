"""Scanning for wearables, over the virtual radio, and telling 'no adapter' apart."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
)

from devices.scanner import NoAdapterError, no_adapter_reason, scan
from monitor.clock import SimulatedClock
from simulators.person import SimulatedPerson
from simulators.radio import VirtualRadio

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def radio() -> AsyncIterator[VirtualRadio]:
    async with VirtualRadio() as running:
        clock = SimulatedClock(datetime(2026, 11, 20, tzinfo=UTC))
        for profile, name in (("infinitime", None), ("thingy52", None), ("rsc", "Stryd")):
            await running.add_wearable(
                profile=profile, name=name, wearer=SimulatedPerson(), clock=clock
            )
        yield running


async def test_scan_names_the_profile_of_each_wearable(radio: VirtualRadio) -> None:
    found = await scan(0.2, backend=radio.scanner_backend)
    assert {(s.name, s.profile) for s in found} == {
        ("InfiniTime", "infinitime"),
        ("Thingy", "thingy52"),
        ("Stryd", "rsc"),
    }
    assert all(s.title and s.rssi < 0 for s in found)


async def test_unsupported_devices_are_listed_only_on_request(radio: VirtualRadio) -> None:
    await radio.add_bystander(name="Speaker", address="C0:00:00:00:AA:01", uuids16=(0x110B,))
    assert len(await scan(0.2, backend=radio.scanner_backend)) == 3
    everything = await scan(0.2, backend=radio.scanner_backend, include_unsupported=True)
    assert len(everything) == 4
    assert everything[-1].name == "Speaker"
    assert everything[-1].profile is None


class _NoBluetooth(BaseBleakScanner):
    """A scanner backend on a machine whose Bluetooth is switched off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(None, None)

    async def start(self) -> None:
        raise BleakBluetoothNotAvailableError(
            "No powered Bluetooth adapters found.", BleakBluetoothNotAvailableReason.POWERED_OFF
        )

    async def stop(self) -> None:
        """Nothing was started."""


async def test_no_adapter_is_one_clear_error() -> None:
    with pytest.raises(NoAdapterError, match=r"^no Bluetooth adapter: No powered Bluetooth"):
        await scan(0.1, backend=_NoBluetooth)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file"), "no system D-Bus"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "no system D-Bus"),
        (BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []), "BlueZ"),
        (
            BleakBluetoothNotAvailableError(
                "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            ),
            "No Bluetooth adapters",
        ),
        (BleakDBusError("org.bluez.Error.InProgress", []), None),
        (PermissionError(errno.EACCES, "denied"), None),
        (ValueError("other"), None),
    ],
)
def test_no_adapter_reason(error: BaseException, reason: str | None) -> None:
    found = no_adapter_reason(error)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found
