"""A real Home Assistant against the real service: fixtures shared by every interop test.

A pinned Home Assistant Core installed from PyPI into a cached venv of its own (once per
session), and, for the tests of this package only (so nothing keeps running while the rest of
the suite does): a real Mosquitto; `recovery-monitor run` as a user starts it; Home Assistant
on 127.0.0.1, onboarded and given the MQTT integration through its REST API, with the
automations of docs/home-assistant.md loaded. Every process started here is killed at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from monitor.mqtt.discovery import discovery_topic, object_id
from simulators.broker import PrivateBroker
from tests.conftest import config_toml
from tests.interop.homeassistant import HomeAssistant, end, eventually, spawn
from tests.interop.provision import (
    HA_VERSION,
    HaInstall,
    find_python,
    provision,
    required_python,
)
from tests.interop.watch import Watcher

REPO = Path(__file__).parents[2]
DOCS = REPO / "docs" / "home-assistant.md"
INTEROP_TIMEOUT_S = 2400  # a cold install of Home Assistant included
PERSON = "p7f3a"
BASE = "recovery"
DISCOVERY_TOPIC = discovery_topic("homeassistant", BASE, PERSON)
# The ids of the automations in docs/home-assistant.md.
AUTOMATION_IDS = ("recovery_alert_to_phone", "recovery_alert_acknowledged")
PERSON_TOML = f"""
[[person]]
id = "{PERSON}"
pain_type = "acute"
plan_start = 2026-11-23
waking_hours = "00:00-23:59"
checkpoints = ["12:00", "16:00", "19:00"]

[[person.device]]
id = "watch"
profile = "infinitime"
name = "InfiniTime"
"""
# docs/home-assistant.md sends alerts to `notify.mobile_app_my_phone`; here that action exists
# and writes each message to a file, one per line, so the documented automation runs verbatim.
NOTIFY_CONFIG = """
command_line:
  - notify:
      name: mobile_app_my_phone
      command: "cat >> {file}; echo >> {file}"
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here: marked `interop` (pyproject.toml), on the session's event loop, with room
    to install, and on one xdist worker (`--dist loadgroup`), so one Home Assistant serves all."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.interop)
            item.add_marker(pytest.mark.xdist_group("home-assistant"))
            item.add_marker(pytest.mark.timeout(INTEROP_TIMEOUT_S))
            item.add_marker(pytest.mark.asyncio(loop_scope="session"))


@dataclass
class Timings:
    """How long each phase took, printed at the end of the session."""

    phases: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time one phase."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - started


TIMINGS = Timings()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The duration of each phase of the interop tests, when they ran."""
    if TIMINGS.phases:
        terminalreporter.write_sep("-", "Home Assistant interop: phases")
        for name, seconds in TIMINGS.phases.items():
            terminalreporter.write_line(f"{name:<44} {seconds:8.1f} s")


def documented_automations() -> str:
    """The YAML of the automations in docs/home-assistant.md, exactly as the docs give it."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/home-assistant.md has no YAML block"
    return str(blocks[0])


def install_home_assistant(version: str) -> HaInstall:
    """Home Assistant `version` in its cached venv; skip (one line) without a fit Python."""
    needed = required_python(version)
    found = find_python(needed)
    if found is None:
        pytest.skip(
            f"Home Assistant {version} needs Python >= {'.'.join(map(str, needed))}; none "
            "found on PATH or under pyenv"
        )
    with TIMINGS.phase(f"install Home Assistant {version} (0 s when cached)"):
        install = provision(version, *found)
    return install


@pytest.fixture(scope="package")
def interop_dir() -> Iterator[Path]:
    """A folder of the session's own for the broker, the service and Home Assistant.

    Not pytest's tmp_path: other pytest sessions on the machine rotate those away while Home
    Assistant still runs. Removed at the end unless RECOVERY_MONITOR_KEEP_INTEROP is set.
    """
    folder = Path(tempfile.mkdtemp(prefix="recovery-monitor-interop-"))
    yield folder
    if not os.environ.get("RECOVERY_MONITOR_KEEP_INTEROP"):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def ha_install() -> HaInstall:
    """The pinned Home Assistant release, installed once and cached between runs."""
    return install_home_assistant(HA_VERSION)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def interop_broker(interop_dir: Path) -> AsyncIterator[PrivateBroker]:
    """A real Mosquitto for the session; it logs each subscription with its QoS."""
    folder = interop_dir / "broker"
    async with PrivateBroker(folder, extra_config="log_type subscribe\n") as broker:
        yield broker


@dataclass
class Service:
    """`recovery-monitor run` in a process of its own."""

    process: subprocess.Popen[bytes]
    config_file: Path
    log_file: Path

    def log(self) -> str:
        """What the service logged so far."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def watcher(interop_broker: PrivateBroker) -> AsyncIterator[Watcher]:
    """A subscriber to every topic of the service and Home Assistant's birth topic."""
    topics = [f"{BASE}/#", "homeassistant/#"]
    async with Watcher(interop_broker.port, topics, client_id="interop-watcher") as watching:
        yield watching


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def service(
    interop_dir: Path, interop_broker: PrivateBroker, watcher: Watcher
) -> AsyncIterator[Service]:
    """The real service, run as a user runs it, until it has published its discovery."""
    folder = interop_dir / "service"
    folder.mkdir()
    config_file = folder / "config.toml"
    config_file.write_text(
        config_toml(database=folder / "monitor.db", port=interop_broker.port, persons=PERSON_TOML),
        encoding="utf-8",
    )
    log_file = folder / "service.log"
    with TIMINGS.phase("start the service"):
        process = spawn(
            [sys.executable, "-m", "monitor", "run", "--config", str(config_file)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            log=log_file,
        )
        try:
            await watcher.wait_for(DISCOVERY_TOPIC, within=60.0)
            await watcher.wait_for(f"{BASE}/{PERSON}/state", within=60.0)
        except BaseException:
            await asyncio.to_thread(end, process)
            raise
    yield Service(process, config_file, log_file)
    await asyncio.to_thread(end, process, within=20.0)


async def start_home_assistant(
    install: HaInstall, folder: Path, broker: PrivateBroker
) -> HomeAssistant:
    """Home Assistant on 127.0.0.1, onboarded, with MQTT pointed at `broker`."""
    ha = HomeAssistant(install, folder)
    ha.write_config()
    notifications = folder / "notifications.txt"
    with (folder / "configuration.yaml").open("a", encoding="utf-8") as config:
        config.write(NOTIFY_CONFIG.format(file=notifications))
    try:
        with TIMINGS.phase(f"start Home Assistant {install.version} (first time)"):
            await ha.start()
        with TIMINGS.phase("onboarding through the REST API"):
            await ha.onboard()
            await ha.wait_running()
        with TIMINGS.phase("MQTT config flow"):
            await ha.add_mqtt(broker.port)
    except BaseException:
        await ha.kill()
        raise
    return ha


async def device_entities(
    ha: HomeAssistant,
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The person's device in Home Assistant's registry and its entities, or None."""
    identifier = ["mqtt", object_id(BASE, PERSON)]
    devices = await ha.devices()
    device = next((d for d in devices if identifier in [list(i) for i in d["identifiers"]]), None)
    if device is None:
        return None
    entities = [e for e in await ha.entities() if e.get("device_id") == device["id"]]
    return device, entities


async def wait_for_device(ha: HomeAssistant, count: int, *, within: float = 120.0) -> None:
    """Wait until the person's device is in the registry with `count` entities, all available.

    Available matters: Home Assistant silently skips an unavailable entity in an action, and
    each entity is unavailable until it has seen the service's retained `online` status.
    """

    async def complete() -> bool | None:
        found = await device_entities(ha)
        if found is None or len(found[1]) < count:
            return None
        for entity in found[1]:
            state = await ha.state(str(entity["entity_id"]))
            if state is None or state["state"] == "unavailable":
                return None
        return True

    await eventually(complete, within=within, what=f"the device with {count} entities", every=1.0)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def home_assistant(
    ha_install: HaInstall,
    interop_dir: Path,
    interop_broker: PrivateBroker,
    service: Service,
) -> AsyncIterator[HomeAssistant]:
    """The pinned Home Assistant with the documented automations, and the service's device."""
    folder = interop_dir / f"ha-{ha_install.version}"
    ha = await start_home_assistant(ha_install, folder, interop_broker)
    try:
        with TIMINGS.phase("discovery: device and entities in Home Assistant"):
            await wait_for_device(ha, 20)
        # As the docs have it: MQTT first, then the automations (an MQTT trigger set up before
        # the MQTT integration exists stays detached until Home Assistant restarts).
        with TIMINGS.phase("load the documented automations"):
            await ha.add_automations(documented_automations(), AUTOMATION_IDS)
        yield ha
    finally:
        with TIMINGS.phase("stop Home Assistant"):
            await ha.stop()
            await ha.kill()
