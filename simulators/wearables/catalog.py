"""Which simulated peripheral serves each profile, and what it is called and advertises."""

from __future__ import annotations

from collections.abc import Callable

from devices.profiles import thingy52
from simulators.wearables.heart_rate import HeartRatePeripheral
from simulators.wearables.host import Host, Peripheral, WearableDefaults
from simulators.wearables.infinitime import InfiniTimePeripheral
from simulators.wearables.polar import PolarPeripheral
from simulators.wearables.rsc import RscPeripheral
from simulators.wearables.thingy52 import Thingy52Peripheral

PROFILE_DEFAULTS = {
    "infinitime": WearableDefaults("InfiniTime"),
    "thingy52": WearableDefaults("Thingy", uuids128=(thingy52.CONFIGURATION_SERVICE,)),
    "rsc": WearableDefaults("FootPod", uuids16=(0x1814,)),
    "heart_rate": WearableDefaults("HRM", uuids16=(0x180D,)),
    "polar_pmd": WearableDefaults("Polar H10", uuids16=(0x180D,)),
}

PERIPHERALS: dict[str, Callable[[Host], Peripheral]] = {
    "infinitime": InfiniTimePeripheral,
    "thingy52": Thingy52Peripheral,
    "rsc": RscPeripheral,
    "heart_rate": HeartRatePeripheral,
    "polar_pmd": PolarPeripheral,
}
