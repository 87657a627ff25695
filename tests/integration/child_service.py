"""The real service in a process of its own, on a simulated clock, wearing a scripted watch.

Run by tests that kill it: `python -m tests.integration.child_service CONFIG START SPEED [STOP]`.
The person walks 20 minutes from 12:05 local time on the plan's first day. The clock is paced
(SPEED is its ceiling): simulated time never runs ahead of the service, however busy the
machine. With STOP, time stands still from that moment, once the service has caught up with
it, and the child prints "stopped": a test can kill it at a known simulated moment.
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


async def main(config_path: Path, start: datetime, speed: float, stop: datetime | None) -> None:
    """Run the service until killed, or stopped by SIGTERM; with `stop`, time stops there."""
    config = load_config(config_path)
    person = config.persons[0]
    clock = SimulatedClock(start, speed=speed, paced=True)
    clock.hold()  # the story starts once the service is up and listening
    links = DirectLinkFactory(
        {person.id: scripted_person(config_path)},
        config.service.timezone,
        interval_s=10.0,
        absences={},
    )
    app = App(config, clock=clock, link_factory=links, tuning=Tuning(state_interval_s=60.0))
    service = asyncio.create_task(serve(app), name="serve")
    started = asyncio.create_task(_started(app))
    await asyncio.wait({service, started}, return_when=asyncio.FIRST_COMPLETED)
    clock.release()
    if stop is not None and not service.done():
        watch = asyncio.create_task(clock.sleep_until(stop))
        await asyncio.wait({service, watch}, return_when=asyncio.FIRST_COMPLETED)
        if watch.done():
            clock.stop()
            await clock.until_idle()
            print("stopped", flush=True)
    await service


async def _started(app: App) -> None:
    await app.started.wait()
    if app.mqtt is not None:
        await app.mqtt.wait_subscribed()


if __name__ == "__main__":
    configure_logging("info")
    asyncio.run(
        main(
            Path(sys.argv[1]),
            datetime.fromisoformat(sys.argv[2]),
            float(sys.argv[3]),
            datetime.fromisoformat(sys.argv[4]) if len(sys.argv) > 4 else None,
        )
    )
