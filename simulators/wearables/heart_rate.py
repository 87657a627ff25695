"""A simulated heart rate strap, and the heart rate every simulated wearable with one reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from bumble.gatt import Service

from devices.profiles import heart_rate
from simulators.wearables.host import NOTIFY, Host, PeripheralBase, service

# Beats per minute while the wearer walked in the last minute, and at rest.
WALKING_BPM, RESTING_BPM = 96, 68


def heart_rate_service(host: Host) -> Service:
    """The Heart Rate service with its measurement characteristic."""
    return service(heart_rate.SERVICE, [host.characteristic(heart_rate.MEASUREMENT, NOTIFY)])


async def send_heart_rate(host: Host, now: datetime) -> None:
    """Notify a heart rate measurement: higher if the wearer walked in the last minute."""
    wearer = host.wearer
    walking = wearer.steps_until(now) > wearer.steps_until(now - timedelta(seconds=60))
    bpm = WALKING_BPM if walking else RESTING_BPM
    value = heart_rate.build_measurement(bpm, contact=True, rr_units=(round(61440 / bpm),))
    await host.notify(heart_rate.MEASUREMENT, value)


class HeartRatePeripheral(PeripheralBase):
    """A plain heart rate strap."""

    primary_uuid = heart_rate.MEASUREMENT

    def __init__(self, host: Host) -> None:
        super().__init__(host)

    def services(self) -> list[Service]:
        """The Heart Rate service."""
        return [heart_rate_service(self.host)]

    async def tick(self, now: datetime) -> None:
        """A measurement every interval."""
        await send_heart_rate(self.host, now)
