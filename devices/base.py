"""The device seam: a link to one wearable delivers typed readings to a sink until cancelled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from devices.clock import Clock
from devices.readings import Reading
from devices.settings import DeviceConfig

ReadingSink = Callable[[Reading], None]
"""Takes a reading without blocking; the service's ingest queue sits behind it."""


class Link(Protocol):
    """A connection to one wearable, kept up for as long as `run` runs."""

    @property
    def device_id(self) -> str:
        """The configured id of the wearable this link serves."""
        ...

    async def run(self, sink: ReadingSink) -> None:
        """Connect, deliver readings to `sink`, reconnect after any loss; return only if cancelled.

        Every (re)connection and disconnection is also delivered, as a `LinkState` reading.
        """
        ...


class LinkFactory(Protocol):
    """Builds the link for one configured wearable of one person."""

    def __call__(self, person: str, device: DeviceConfig, clock: Clock) -> Link: ...
