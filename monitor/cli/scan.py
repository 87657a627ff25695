"""`recovery-monitor scan`: list nearby supported wearables and the profile for each."""

from __future__ import annotations

import argparse
import asyncio
import sys

from devices.scanner import NoAdapterError, Sighting, scan
from monitor.clock import SystemClock

_DEFAULT_SECONDS = 5.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `scan` command."""
    parser = subparsers.add_parser(
        "scan",
        help="list nearby supported wearables",
        description="Listen for Bluetooth advertisements and list the wearables this service "
        "can use, with the profile to put in the config.",
    )
    parser.add_argument(
        "--virtual",
        action="store_true",
        help="scan the virtual radio, with one simulated wearable of each profile",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=_DEFAULT_SECONDS,
        help=f"how long to listen (default {_DEFAULT_SECONDS:g})",
    )
    parser.add_argument("--all", action="store_true", help="also list devices no profile supports")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Scan and print one line per wearable; 1 with a one-line message if there is no adapter."""
    if args.seconds <= 0:
        print("recovery-monitor scan: --seconds must be positive", file=sys.stderr)
        return 2
    try:
        sightings = asyncio.run(_scan(args.seconds, virtual=args.virtual, everything=args.all))
    except NoAdapterError as exc:
        print(f"recovery-monitor scan: {exc}", file=sys.stderr)
        return 1
    print(_table(sightings, args.seconds), end="")
    return 0


async def _scan(seconds: float, *, virtual: bool, everything: bool) -> list[Sighting]:
    if not virtual:
        return await scan(seconds, include_unsupported=everything)
    # Imported here: the simulators (and Bumble) are not needed to scan real hardware.
    from simulators.person import SimulatedPerson
    from simulators.radio import VirtualRadio
    from simulators.wearables import PROFILE_DEFAULTS

    async with VirtualRadio() as radio:
        clock = SystemClock()
        for profile in PROFILE_DEFAULTS:
            await radio.add_wearable(profile=profile, wearer=SimulatedPerson(), clock=clock)
        return await scan(seconds, backend=radio.scanner_backend, include_unsupported=everything)


def _table(sightings: list[Sighting], seconds: float) -> str:
    if not sightings:
        return f"no supported wearables heard in {seconds:g} s\n"
    rows = [("ADDRESS", "NAME", "RSSI", "PROFILE", "DEVICE")]
    rows += [
        (
            s.address,
            s.name or "-",
            f"{s.rssi} dBm",
            s.profile or "-",
            s.title or "(not supported)",
        )
        for s in sightings
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
