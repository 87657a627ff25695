"""`recovery-monitor demo`: the command line of the demo; the run itself is in `demo_run`.

Only this small module is imported by every command: the simulators and Bumble that the demo
needs are imported when the demo runs, so `run`, `report` and the rest start without them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from monitor.errors import MonitorError
from monitor.logs import configure_logging

# The scenarios of simulators/scenarios.py, named here so that the parser needs no simulator
# (tests/monitor/cli/test_demo.py checks that the two lists agree).
SCENARIO_NAMES = (
    "function-declining",
    "missed-days",
    "no-improvement-8-weeks",
    "persisting-symptom",
    "surgery-too-recent",
    "wearable-trouble",
    "week",
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `demo` on the command line."""
    parser = commands.add_parser("demo", help="run the whole product on a simulated week")
    parser.add_argument("--scenario", default="week", choices=SCENARIO_NAMES)
    parser.add_argument("--days", type=int, help="simulated days (default: the scenario's own)")
    parser.add_argument(
        "--speed",
        type=float,
        help="at most this many simulated seconds per second (a slower machine goes slower)",
    )
    parser.add_argument("--broker", metavar="HOST:PORT", help="use this broker, not a private one")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every alert the service raised reached the subscriber."""
    if (args.days is not None and not 1 <= args.days <= 366) or (
        args.speed is not None and args.speed <= 0
    ):
        print("recovery-monitor: --days must be 1-366 and --speed above 0", file=sys.stderr)
        return 2
    configure_logging("warning")
    try:
        from monitor.cli.demo_run import demo  # the simulators and Bumble, only now
    except ImportError as error:
        print(f"recovery-monitor: the demo needs the 'demo' extra ({error})", file=sys.stderr)
        return 1
    try:
        return asyncio.run(demo(args.scenario, args.days, args.speed, args.broker, args.json))
    except MonitorError as error:
        print(f"recovery-monitor: {error}", file=sys.stderr)
        return 1
