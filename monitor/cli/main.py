"""The `recovery-monitor` command: exit 0 on success, 2 for bad usage or config, 1 on failure.

Every failure ends with one line on stderr that says what went wrong and, where it can, what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from devices.ble import BleLinkFactory
from monitor.cli import analyze, demo, report, scan
from monitor.cli import log as logcmd
from monitor.clock import SystemClock
from monitor.config import Config, load_config, password_file_warning
from monitor.errors import ConfigError, MonitorError
from monitor.ingest.pipeline import Ingest
from monitor.logs import configure_logging
from monitor.service.app import App
from monitor.store.database import Store

log = logging.getLogger("monitor")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

SubParsers = argparse._SubParsersAction


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="recovery-monitor",
        description="Watches a back-pain recovery plan from BLE wearables; speaks up over MQTT.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the service in the foreground")
    run.add_argument("--config", required=True, type=Path, help="the TOML config file")
    run.set_defaults(handler=run_command)

    check = commands.add_parser("check-config", help="validate a config file")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=check_config_command)

    rebuild = commands.add_parser(
        "rebuild", help="derive per-minute activity again from the raw log (service stopped)"
    )
    rebuild.add_argument("--config", required=True, type=Path)
    rebuild.set_defaults(handler=rebuild_command)

    demo.add_parser(commands)
    analyze.add_parser(commands)
    logcmd.add_parser(commands)
    report.add_parser(commands)
    scan.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


def load_for_cli(path: Path) -> Config | None:
    """Load a config, printing its problems to stderr (then None) if it has any."""
    try:
        return load_config(path)
    except ConfigError as error:
        print(f"recovery-monitor: {error}", file=sys.stderr)
        return None


def check_config_command(args: argparse.Namespace) -> int:
    """`check-config FILE`: print OK and a summary, or every problem with its key."""
    config = load_for_cli(args.file)
    if config is None:
        return EXIT_USAGE
    if config.mqtt.password_file is not None:
        warning = password_file_warning(config.mqtt.password_file)
        if warning is not None:
            print(f"recovery-monitor: warning: {warning}", file=sys.stderr)
    wearables = sum(len(p.devices) for p in config.persons)
    print(f"{args.file}: OK ({len(config.persons)} person(s), {wearables} wearable(s))")
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    """`run --config FILE`: the service, until SIGTERM or SIGINT."""
    config = load_for_cli(args.config)
    if config is None:
        return EXIT_USAGE
    configure_logging(config.service.log_level)
    links = BleLinkFactory(timezone=config.service.timezone)
    app = App(config, clock=SystemClock(), link_factory=links)
    return report_failure(lambda: asyncio.run(serve(app)))


async def serve(app: App) -> None:
    """Run the app until SIGTERM or SIGINT asks it to stop, then let it stop cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(app.run(), name="service")
    stopping = asyncio.create_task(stop.wait(), name="stop signal")
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if running.done():
        running.result()  # it ended by itself: only a failure does that
        return
    log.info("stopping")
    running.cancel()
    try:
        await running
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    log.info("stopped")


def rebuild_command(args: argparse.Namespace) -> int:
    """`rebuild --config FILE`: derive every per-minute row again from the raw log."""
    config = load_for_cli(args.config)
    if config is None:
        return EXIT_USAGE
    configure_logging(config.service.log_level)

    async def rebuild() -> None:
        async with Store.open(config.service.database, exclusive=True) as store:
            rows = await Ingest(store, config.service.timezone, SystemClock()).rebuild()
        print(f"rebuilt per-minute activity from {rows} raw-log rows")

    return report_failure(lambda: asyncio.run(rebuild()))


def report_failure(job: Callable[[], None]) -> int:
    """Run `job()`; a MonitorError (even inside task groups) becomes stderr lines and exit 1."""
    try:
        job()
    except KeyboardInterrupt:
        return EXIT_OK
    except (MonitorError, BaseExceptionGroup) as error:
        leaves = _leaves(error)
        if not all(isinstance(leaf, MonitorError) for leaf in leaves):
            raise  # a bug: keep the traceback
        for leaf in leaves:
            print(f"recovery-monitor: {leaf}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]
