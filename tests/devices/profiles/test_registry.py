"""The profile registry: config names, and recognising wearables from their advertisements."""

from __future__ import annotations

import pytest

from devices.profiles import heart_rate, infinitime, polar_pmd, rsc, thingy52
from devices.profiles.registry import PROFILES, UnknownProfileError, get_profile, identify
from monitor import config


def test_every_config_profile_name_has_a_profile() -> None:
    assert set(PROFILES) == config.PROFILES
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert get_profile(name) is profile


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(UnknownProfileError, match="infinitime"):
        get_profile("fitbit")


@pytest.mark.parametrize(
    ("name", "uuids", "expected"),
    [
        ("InfiniTime", [], "infinitime"),
        ("Pinetime-JF", [], "infinitime"),
        (None, [infinitime.MOTION_SERVICE], "infinitime"),
        ("Thingy", [], "thingy52"),
        (None, [thingy52.CONFIGURATION_SERVICE.upper()], "thingy52"),
        ("Stryd", [rsc.SERVICE], "rsc"),
        ("H10 1234", [heart_rate.SERVICE], "heart_rate"),
        ("Polar H10 5A3B", [heart_rate.SERVICE], "polar_pmd"),
        (None, [polar_pmd.SERVICE.upper()], "polar_pmd"),
        # A watch that also advertises Heart Rate is still a watch.
        ("InfiniTime", [heart_rate.SERVICE], "infinitime"),
        ("Speaker", ["0000110b-0000-1000-8000-00805f9b34fb"], None),
        (None, [], None),
    ],
)
def test_identify(name: str | None, uuids: list[str], expected: str | None) -> None:
    found = identify(name, uuids)
    assert (found.name if found else None) == expected
