"""The real service in a process of its own, on a simulated clock, wearing a scripted watch.

Run by tests that kill it: `python -m tests.integration.child_service CONFIG START SPEED`.
The person walks 20 minutes from 12:05 local time on the plan's first day.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, time
from pathlib import Path

from monitor.cli.main import serve
from monitor.clock import SimulatedClock
from monitor.config import load_config
from monitor.days import at_local
from monitor.logs import configure_logging
from monitor.service.app import App, Tuning
from simulators.direct_link import DirectLinkFactory
from simulators.person import SimulatedPerson, Walk

WALK_START = time(12, 5)
WALK_MINUTES = 20.0


def scripted_person(config_path: Path) -> SimulatedPerson:
    """The person every child process simulates: the same walk, whatever the start time."""
    config = load_config(config_path)
    person = config.persons[0]
    start = at_local(person.plan_start, WALK_START, config.service.timezone)
    return SimulatedPerson([Walk(start, WALK_MINUTES, 100.0)])


async def main(config_path: Path, start: datetime, speed: float) -> None:
    """Run the service until killed, or stopped by SIGTERM."""
    config = load_config(config_path)
    person = config.persons[0]
    clock = SimulatedClock(start, speed=speed)
    links = DirectLinkFactory(
        {person.id: scripted_person(config_path)},
        config.service.timezone,
        interval_s=10.0,
        absences={},
    )
    app = App(config, clock=clock, link_factory=links, tuning=Tuning(state_interval_s=60.0))
    await serve(app)


if __name__ == "__main__":
    configure_logging("info")
    asyncio.run(main(Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), float(sys.argv[3])))
