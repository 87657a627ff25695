"""The root error type, shared by the service and its device layer, and bad bytes from outside."""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error recovery-monitor raises on purpose."""


class ParseError(MonitorError):
    """Bytes or text from outside (GATT, MQTT, CSV) that do not mean anything valid."""
