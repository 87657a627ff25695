"""Simulated wearables: Bumble GATT peripherals that serve the exact bytes of each profile.

One shell (`shell.SimulatedWearable`: radio, connection, faults) and one peripheral per profile
behind the small `host.Peripheral` protocol: `infinitime`, `thingy52`, `rsc`, `heart_rate`,
`polar`. A wearable's step counter follows its wearer (`wearer.steps_until(clock.now())`), less
what it counted before its last reset.
"""

from simulators.wearables.catalog import PERIPHERALS, PROFILE_DEFAULTS
from simulators.wearables.host import (
    MotionSource,
    Peripheral,
    WearableDefaults,
    advertising_data,
    bumble_uuid,
)
from simulators.wearables.shell import Air, SimulatedWearable

__all__ = [
    "PERIPHERALS",
    "PROFILE_DEFAULTS",
    "Air",
    "MotionSource",
    "Peripheral",
    "SimulatedWearable",
    "WearableDefaults",
    "advertising_data",
    "bumble_uuid",
]
