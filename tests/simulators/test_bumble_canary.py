"""Canary: the installed Bumble still has the internals the virtual radio overrides or uses."""

from __future__ import annotations

import inspect

from bumble import controller, device, gatt_client, link


def test_controller_hooks_the_radio_overrides() -> None:
    for name in (
        "on_hci_le_create_connection_cancel_command",
        "create_le_connection",
        "on_le_disconnected",
        "on_hci_packet",
        "send_hci_packet",
        "on_hci_acl_data_packet",
    ):
        assert callable(getattr(controller.Controller, name)), name
    for attribute in (
        "le_acl_data_packet_length",
        "supported_max_tx_octets",
        "pending_le_connection",
    ):
        assert hasattr(controller.Controller, attribute), attribute
    # Still the gap the radio closes: cancelling only acknowledges.
    cancel = inspect.getsource(controller.Controller.on_hci_le_create_connection_cancel_command)
    assert "pending_le_connection" not in cancel


def test_link_hooks_the_radio_overrides() -> None:
    for name in ("send_advertising_pdu", "send_acl_data", "find_le_controller", "add_controller"):
        assert callable(getattr(link.LocalLink, name)), name


def test_host_side_behaviour_the_backend_relies_on() -> None:
    assert device.Device.EVENT_ADVERTISEMENT == "advertisement"
    assert "data_bytes" in device.Advertisement.__dataclass_fields__
    assert "timeout" in inspect.signature(device.Device.connect).parameters
    # A lost link cancels the pending GATT request's future; the backend turns that
    # CancelledError into a BleakError.
    assert "pending_response.cancel()" in inspect.getsource(gatt_client.Client.on_disconnection)
