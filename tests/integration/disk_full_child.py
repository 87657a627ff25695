"""The real service on a small filesystem that the test fills up and frees again.

Run inside a private mount namespace with its database on a small tmpfs:
`python -m tests.integration.disk_full_child CONFIG START SPEED OUT`
SIGUSR2 fills the filesystem with a ballast file, SIGUSR1 removes it (space returns), SIGTERM
stops the service, checks the database's integrity and copies it to OUT (the tmpfs goes away
with the namespace).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import sys
from datetime import datetime
from pathlib import Path

from monitor.clock import SimulatedClock
from monitor.config import load_config
from monitor.logs import configure_logging
from monitor.service.app import App, Tuning
from simulators.direct_link import DirectLinkFactory
from simulators.person import SimulatedPerson, Walk


def fill(folder: Path) -> None:
    """Write a ballast file until the filesystem is full."""
    with (folder / "ballast").open("wb") as ballast:
        try:
            while True:
                ballast.write(b"\0" * 65536)
                ballast.flush()
        except OSError:
            pass


async def main(config_path: Path, start: datetime, speed: float, out: Path) -> None:
    """Run until SIGTERM, filling and freeing the disk on SIGUSR2 and SIGUSR1."""
    config = load_config(config_path)
    person = config.persons[0]
    walker = SimulatedPerson([Walk(start, 600.0, 100.0)])  # walks for ten hours
    links = DirectLinkFactory(
        {person.id: walker}, config.service.timezone, interval_s=5.0, absences={}
    )
    app = App(config, clock=SimulatedClock(start, speed=speed), link_factory=links, tuning=Tuning())
    folder = config.service.database.parent
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR2, fill, folder)
    loop.add_signal_handler(signal.SIGUSR1, (folder / "ballast").unlink)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    service = asyncio.create_task(app.run())
    await stop.wait()
    service.cancel()
    await asyncio.gather(service, return_exceptions=True)
    with sqlite3.connect(config.service.database) as db:
        print("integrity:", db.execute("PRAGMA integrity_check").fetchone()[0], flush=True)
    shutil.copy(config.service.database, out)


if __name__ == "__main__":
    configure_logging("info")
    begin = datetime.fromisoformat(sys.argv[2])
    asyncio.run(main(Path(sys.argv[1]), begin, float(sys.argv[3]), Path(sys.argv[4])))
