"""The oldest Home Assistant docs/home-assistant.md supports, and the release just before it.

Device-based MQTT discovery (one `homeassistant/device/<id>/config` document for all entities)
arrived in Home Assistant 2024.11.0; 2024.10 does not subscribe to it and shows nothing. The
docs' automations use the `triggers:`/`actions:` syntax of 2024.10 and later. Each release runs
in a venv of its own (Python 3.12 is enough for both), against the session's broker and service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from simulators.broker import PrivateBroker
from tests.interop.conftest import (
    AUTOMATION_IDS,
    DISCOVERY_TOPIC,
    TIMINGS,
    Service,
    device_entities,
    documented_automations,
    install_home_assistant,
    start_home_assistant,
    wait_for_device,
)
from tests.interop.homeassistant import HomeAssistant, eventually
from tests.interop.provision import BEFORE_MINIMUM, MINIMUM_VERSION
from tests.interop.watch import Watcher

ENTITIES = 20
SENTINEL = "recovery_monitor_interop_sentinel"


async def running_release(version: str, folder: Path, broker: PrivateBroker) -> HomeAssistant:
    """Home Assistant `version`, installed (cached) and started, with MQTT on `broker`."""
    install = await asyncio.to_thread(install_home_assistant, version)
    return await start_home_assistant(install, folder / f"ha-{version}", broker)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def minimum_release(
    interop_dir: Path, interop_broker: PrivateBroker, service: Service
) -> AsyncIterator[HomeAssistant]:
    """The minimum supported Home Assistant, next to the service."""
    ha = await running_release(MINIMUM_VERSION, interop_dir, interop_broker)
    yield ha
    await ha.stop()


async def test_the_minimum_version_shows_the_device_and_loads_the_automations(
    minimum_release: HomeAssistant,
) -> None:
    """Home Assistant 2024.11.0 shows the device with every entity, available, and loads the
    documented automations."""
    with TIMINGS.phase(f"discovery in Home Assistant {MINIMUM_VERSION}"):
        await wait_for_device(minimum_release, ENTITIES)
    found = await device_entities(minimum_release)
    assert found is not None
    assert len(found[1]) == ENTITIES
    await minimum_release.add_automations(documented_automations(), AUTOMATION_IDS)


async def test_the_release_before_the_minimum_does_not_show_the_device(
    interop_dir: Path, interop_broker: PrivateBroker, service: Service, watcher: Watcher
) -> None:
    """Home Assistant 2024.10 does not understand device-based discovery (it does not even
    subscribe to it): after it has announced itself, been sent the device again, and
    processed a later single-entity discovery, there is still no device. This is what makes
    2024.11.0 the minimum."""
    births = len(watcher.on("homeassistant/status"))
    ha = await running_release(BEFORE_MINIMUM, interop_dir, interop_broker)
    try:

        async def announced() -> bool | None:
            said = watcher.on("homeassistant/status")[births:]
            return True if any(m.payload == b"online" for m in said) else None

        await eventually(announced, within=120.0, what="Home Assistant 2024.10's birth message")
        documents = len(watcher.on(DISCOVERY_TOPIC))
        await eventually(
            lambda: _present(len(watcher.on(DISCOVERY_TOPIC)) > documents),
            within=60.0,
            what="the service sending its device discovery again",
        )
        # A marker sent after the device document: once Home Assistant shows it, the device
        # document (sent earlier, through the same broker) has had its chance.
        watcher.publish(
            f"homeassistant/sensor/{SENTINEL}/config",
            json.dumps(
                {"name": "Interop sentinel", "state_topic": "interop/x", "uniq_id": SENTINEL}
            ),
        )

        async def sentinel_shown() -> bool | None:
            entities = await ha.entities()
            return await _present(any(e.get("unique_id") == SENTINEL for e in entities))

        await eventually(sentinel_shown, within=60.0, what="the sentinel entity in 2024.10")
        assert await device_entities(ha) is None
    finally:
        await ha.stop()


async def _present(condition: bool) -> bool | None:
    return True if condition else None
