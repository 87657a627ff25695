"""The link's pure parts: backoff, settings and construction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bleak.exc import BleakError
from bleak_retry_connector import BleakConnectionError, BleakOutOfConnectionSlotsError

from devices.ble import (
    BleLink,
    IncompatibleWearableError,
    LinkPhase,
    LinkSettings,
    backoff_delay,
    ble_link_factory,
)
from devices.profiles.registry import UnknownProfileError
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
    assert backoff_delay(1, IncompatibleWearableError("no pedometer"), SETTINGS) == 300.0


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
