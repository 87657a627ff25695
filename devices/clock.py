"""The clock a wearable link is handed: aware UTC time and sleeping until a moment of it.

Declared here, where the links use it; `monitor.clock` implements it (system and simulated).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Aware UTC time, and sleeping until a moment of that time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once `now()` has reached `deadline` (at once if it already has)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of this clock's time."""
        ...
