"""The oldest Home Assistant docs/home-assistant.md supports, and the release just before it.

Device-based MQTT discovery (one `homeassistant/device/<id>/config` document for all entities)
arrived in Home Assistant 2024.11.0; 2024.10 logs "Integration device is not supported" and
shows nothing. The docs' automations use the `triggers:`/`actions:` syntax of 2024.10 and later.
Each release runs in a venv of its own (Python 3.12 is enough for both), against the session's
broker and service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from simulators.broker import PrivateBroker
from tests.interop.conftest import (
    AUTOMATION_IDS,
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

ENTITIES = 20


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
    interop_dir: Path, interop_broker: PrivateBroker, service: Service
) -> None:
    """Home Assistant 2024.10 does not understand device-based discovery: no device, and its
    log says why. This is what makes 2024.11.0 the minimum."""
    ha = await running_release(BEFORE_MINIMUM, interop_dir, interop_broker)
    try:

        async def refused() -> bool | None:
            return True if "Integration device is not supported" in ha.log() else None

        await eventually(refused, within=120.0, what="2024.10 refusing the device discovery")
        assert await device_entities(ha) is None
    finally:
        await ha.stop()
