"""A wearable's settings as the device layer needs them; the config file builds them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One wearable: which profile speaks to it and how to find it."""

    id: str
    profile: str
    address: str | None = None
    name: str | None = None
    motion_rate_hz: int | None = None
