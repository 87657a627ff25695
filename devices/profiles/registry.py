"""The profiles by their config names, and which profile an advertisement belongs to."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType

from devices.profiles import heart_rate, infinitime, polar_pmd, rsc, thingy52
from devices.profiles.gatt import Profile

# Most specific first: watches and Polar straps may also advertise Heart Rate.
_ORDER: tuple[Profile, ...] = (
    infinitime.PROFILE,
    thingy52.PROFILE,
    polar_pmd.PROFILE,
    rsc.PROFILE,
    heart_rate.PROFILE,
)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in _ORDER})
"""Every profile the device layer speaks, by its name in the config."""


class UnknownProfileError(KeyError):
    """A profile name that the device layer does not know."""


def get_profile(name: str) -> Profile:
    """The profile called `name` in the config; UnknownProfileError if there is none."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UnknownProfileError(f"no device profile {name!r} (known: {known})") from None


def identify(local_name: str | None, service_uuids: Collection[str]) -> Profile | None:
    """The profile that would serve a wearable with this advertisement, if any."""
    uuids = {u.lower() for u in service_uuids}
    for profile in _ORDER:
        if profile.recognises(local_name, uuids):
            return profile
    return None
