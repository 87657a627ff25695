"""Canary: the installed bleak and bleak-retry-connector still offer what the device layer and
the virtual radio's bleak backend rely on. A failure here means: read the changelog first."""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import bleak
import bleak_retry_connector
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError

from simulators.bleak_backend import VirtualClient, VirtualScanner

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_installed_versions_are_the_pinned_ones() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["demo"]]
    for package in ("bleak", "bleak-retry-connector", "bumble"):
        pin = next(p for p in pins if p.startswith(f"{package}=="))
        assert metadata.version(package) == pin.split("==")[1], package


def test_custom_backends_are_still_accepted() -> None:
    assert "backend" in _parameters(bleak.BleakScanner.__init__)
    assert "backend" in _parameters(bleak.BleakClient.__init__)
    # Extra keyword arguments reach the backend (bleak-retry-connector passes its own).
    client_init = inspect.signature(bleak.BleakClient.__init__).parameters
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in client_init.values())


def test_client_backend_contract_is_unchanged() -> None:
    # A new abstract method would make the virtual client abstract: implement it first.
    assert BaseBleakClient.__abstractmethods__ == {
        "mtu_size",
        "connect",
        "disconnect",
        "pair",
        "unpair",
        "is_connected",
        "read_gatt_char",
        "read_gatt_descriptor",
        "write_gatt_char",
        "write_gatt_descriptor",
        "start_notify",
        "stop_notify",
    }
    assert not inspect.isabstract(VirtualClient)
    assert _parameters(BaseBleakClient.__init__) == [
        "self",
        "address_or_ble_device",
        "disconnected_callback",
        "timeout",
        "kwargs",
    ]


def test_scanner_backend_contract_is_unchanged() -> None:
    assert BaseBleakScanner.__abstractmethods__ == {"start", "stop"}
    assert not inspect.isabstract(VirtualScanner)
    for helper in ("create_or_update_device", "call_detection_callbacks", "is_allowed_uuid"):
        assert callable(getattr(BaseBleakScanner, helper)), helper
    assert _parameters(BaseBleakScanner.create_or_update_device) == [
        "self",
        "key",
        "address",
        "name",
        "details",
        "adv",
    ]
    assert AdvertisementData._fields == (
        "local_name",
        "manufacturer_data",
        "service_data",
        "service_uuids",
        "tx_power",
        "rssi",
        "platform_data",
    )


def test_gatt_model_constructors_are_unchanged() -> None:
    assert _parameters(BleakGATTService.__init__) == ["self", "obj", "handle", "uuid"]
    assert _parameters(BleakGATTCharacteristic.__init__) == [
        "self",
        "obj",
        "handle",
        "uuid",
        "properties",
        "max_write_without_response_size",
        "service",
    ]
    assert _parameters(BleakGATTDescriptor.__init__) == [
        "self",
        "obj",
        "handle",
        "uuid",
        "characteristic",
    ]
    for method in ("add_service", "add_characteristic", "add_descriptor"):
        assert callable(getattr(BleakGATTServiceCollection, method)), method
    assert _parameters(BleakGATTProtocolError.__init__) == ["self", "error_code"]


def test_retry_connector_still_connects_the_way_the_link_calls_it() -> None:
    parameters = inspect.signature(bleak_retry_connector.establish_connection).parameters
    for name in ("client_class", "device", "name", "disconnected_callback", "max_attempts"):
        assert name in parameters, name
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    assert issubclass(bleak_retry_connector.BleakClientWithServiceCache, bleak.BleakClient)
    assert issubclass(bleak_retry_connector.BleakOutOfConnectionSlotsError, BleakError)
