"""A session takeover named as such: the broker's 0x8E, or Mosquitto 2.0.11's silent close of
connections one after another right after accepting them; a restarting broker is not one.

The client's loop-side handlers are driven as paho's callbacks would drive them."""

from __future__ import annotations

import logging

import pytest

from monitor.config import MqttConfig
from monitor.mqtt.client import SESSION_TAKEN_OVER, MqttClient

UNSPECIFIED = 0x80


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "session taken over" in r.getMessage()]


@pytest.mark.parametrize(
    ("events", "lines"),
    [
        # Mosquitto 2.0.11: accepted, then closed without a reason, again and again.
        (["up", "lost"] * 3, 1),
        (["up", "lost"] * 10, 1),  # said once for the whole run of losses
        (["up", "lost"] * 2, 0),
        # The broker was away in between (a restart): not a takeover.
        (["up", "lost", "refused", "up", "lost", "refused", "up", "lost"], 0),
        # A broker that says so.
        (["up", "taken"], 1),
    ],
)
async def test_a_takeover_is_said_once_in_plain_words(
    events: list[str], lines: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = MqttClient(MqttConfig(host="127.0.0.1", port=1), client_id="same-id")
    for event in events:
        if event == "up":
            client._connect_result(0, "Success", False)
        elif event == "lost":
            client._disconnected("Unspecified error", UNSPECIFIED)
        elif event == "taken":
            client._disconnected("Session taken over", SESSION_TAKEN_OVER)
        else:
            client._disconnected("Unspecified error", UNSPECIFIED)  # closed before CONNACK
    assert len(said(caplog)) == lines
    if lines:
        assert "'same-id'" in said(caplog)[0]
        assert "mqtt.client_id" in said(caplog)[0]
