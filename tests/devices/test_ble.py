"""The link's pure parts: backoff, settings and construction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakError,
)
from bleak_retry_connector import BleakConnectionError, BleakOutOfConnectionSlotsError

from devices.ble import (
    BleLink,
    IncompatibleWearableError,
    LinkPhase,
    LinkSettings,
    WearableLostError,
    backoff_delay,
    ble_link_factory,
    is_transient,
    problem_advice,
)
from devices.profiles.gatt import GattParseError
from devices.profiles.registry import UnknownProfileError
from devices.readings import LinkState, Reading
from devices.settings import DeviceConfig
from monitor.clock import SimulatedClock

SETTINGS = LinkSettings(backoff_base_s=2.0, backoff_max_s=300.0)
CLOCK = SimulatedClock(datetime(2026, 11, 20, tzinfo=UTC))


def test_no_failure_no_wait() -> None:
    assert backoff_delay(0, None, SETTINGS) == 0.0
    assert backoff_delay(0, BleakError("x"), SETTINGS) == 0.0


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [backoff_delay(n, BleakConnectionError("refused"), SETTINGS) for n in range(1, 12)]
    assert delays[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert delays[-1] == 300.0
    assert delays == sorted(delays)
    assert backoff_delay(10_000, None, SETTINGS) == 300.0  # no overflow after months


def test_full_adapter_waits_longer_and_incompatible_wearable_longest() -> None:
    slots = BleakOutOfConnectionSlotsError("no slot")
    assert backoff_delay(1, slots, SETTINGS) == 16.0
    # Changed with issue 13: a failure that is not the radio's waits problem_retry_s (1 h).
    assert backoff_delay(1, IncompatibleWearableError("no pedometer"), SETTINGS) == 3600.0


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (BleakError("Device disconnected"), True),
        (BleakConnectionError("failed to connect"), True),
        (BleakOutOfConnectionSlotsError("no slot"), True),
        (TimeoutError(), True),
        (FileNotFoundError("no adapter"), True),
        (WearableLostError("stopped answering"), True),
        # The Dublin case: a ValueError building the watch's zone, in link setup.
        (ValueError("DST offset -1 day, 23:00:00 has no Local Time Information code"), False),
        (GattParseError("thingy motion config: expected 9 bytes, got 8"), False),
        (IncompatibleWearableError("the wearable has no 00030001-..."), False),
        (KeyError("x"), False),
    ],
)
def test_only_radio_failures_are_retried_soon(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
    delay = backoff_delay(1, error, SETTINGS)
    assert delay == (
        2.0 if transient and not isinstance(error, BleakOutOfConnectionSlotsError) else delay
    )
    if not transient:
        assert delay == SETTINGS.problem_retry_s
        assert "not a radio problem" in problem_advice(error) or "firmware" in problem_advice(error)


def test_link_needs_a_way_to_find_the_wearable() -> None:
    with pytest.raises(ValueError, match="address or a name"):
        BleLink("p1", DeviceConfig("w", "infinitime"), CLOCK)


def test_link_needs_a_known_profile() -> None:
    with pytest.raises(UnknownProfileError, match="infinitime"):
        BleLink("p1", DeviceConfig("w", "garmin", name="Forerunner"), CLOCK)


def test_default_factory_builds_idle_links_for_the_platform() -> None:
    link = ble_link_factory("p1", DeviceConfig("w", "rsc", address="C7:1E:93:4F:10:2A"), CLOCK)
    assert isinstance(link, BleLink)
    assert link.device_id == "w"
    assert link.phase is LinkPhase.IDLE
    assert link.connections == 0


class _NoAdapterScanner:
    """A scanner backend as bleak's is on a machine without a Bluetooth adapter."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    async def start(self) -> None:
        raise BleakBluetoothNotAvailableError(
            "No powered Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
        )

    async def stop(self) -> None:
        pass


async def test_no_adapter_is_said_once_and_shown_on_the_wearables_state() -> None:
    clock = SimulatedClock(datetime(2026, 11, 20, tzinfo=UTC))
    link = BleLink(
        "p1",
        DeviceConfig("watch", "infinitime", name="InfiniTime"),
        clock,
        scanner_backend=_NoAdapterScanner,  # type: ignore[arg-type]
    )
    states: list[LinkState] = []

    def sink(reading: Reading) -> None:
        if isinstance(reading.value, LinkState):
            states.append(reading.value)

    task = asyncio.create_task(link.run(sink))
    for _ in range(6):  # several failed attempts, the backoff advanced on the clock each time
        for _ in range(20):
            await asyncio.sleep(0)
        await clock.advance(600)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(states) == 1  # said once, not at every retry
    assert not states[0].connected
    assert "no Bluetooth adapter" in (states[0].problem or "")
    assert "bluetoothctl" in (states[0].problem or "")
