"""A bleak backend on the virtual radio: `BleakScanner` and `BleakClient` talk to a Bumble central.

bleak takes custom backends through its public `backend=` parameter, so the production link code
runs unchanged against simulated wearables. `backends_for(central)` gives the scanner and client
classes bound to one radio's central.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import core, hci
from bumble.att import ATT_Error
from bumble.device import Connection
from bumble.gatt import Characteristic
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy, ServiceProxy

if TYPE_CHECKING:
    from simulators.radio import VirtualCentral

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

# The largest ATT MTU the central asks for; Bumble peripherals accept it.
_PREFERRED_MTU = 247
_DEFAULT_MTU = 23
# Advertising data types (Core Specification Supplement, Part A, 1).
_AD_UUID16 = (0x02, 0x03)
_AD_UUID32 = (0x04, 0x05)
_AD_UUID128 = (0x06, 0x07)
_AD_NAME = (0x08, 0x09)
_AD_TX_POWER = 0x0A
_AD_SERVICE_DATA16 = 0x16
_AD_MANUFACTURER = 0xFF
_SIG_SUFFIX = "-0000-1000-8000-00805f9b34fb"

_PROPERTY_NAMES: tuple[tuple[int, CharacteristicPropertyName], ...] = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


@dataclass(frozen=True, slots=True)
class Advert:
    """One received advertisement, parsed into what bleak reports."""

    address: hci.Address
    local_name: str | None
    service_uuids: tuple[str, ...]
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)
    tx_power: int | None = None
    rssi: int = -50
    raw: bytes = b""


def parse_advert(address: hci.Address, data: bytes, rssi: int) -> Advert:
    """Parse advertising data (length-type-value structures); malformed tails are ignored.

    The virtual controller repeats the advertisement as its scan response, so structures may
    appear twice: UUIDs are de-duplicated, keeping their first order.
    """
    name: str | None = None
    uuids: list[str] = []
    manufacturer: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    tx_power: int | None = None
    offset = 0
    while offset < len(data):
        length = data[offset]
        if length == 0 or offset + 1 + length > len(data):
            break
        kind, value = data[offset + 1], data[offset + 2 : offset + 1 + length]
        offset += 1 + length
        if kind in _AD_UUID16:
            uuids += [
                f"0000{v:04x}{_SIG_SUFFIX}"
                for (v,) in struct.iter_unpack("<H", value[: len(value) // 2 * 2])
            ]
        elif kind in _AD_UUID32:
            uuids += [
                f"{v:08x}{_SIG_SUFFIX}"
                for (v,) in struct.iter_unpack("<I", value[: len(value) // 4 * 4])
            ]
        elif kind in _AD_UUID128:
            uuids += [
                str(uuidlib.UUID(bytes=bytes(reversed(value[i : i + 16]))))
                for i in range(0, len(value) - 15, 16)
            ]
        elif kind in _AD_NAME:
            name = value.decode("utf-8", errors="replace")
        elif kind == _AD_TX_POWER and value:
            tx_power = struct.unpack("<b", value[:1])[0]
        elif kind == _AD_MANUFACTURER and len(value) >= 2:
            manufacturer[struct.unpack("<H", value[:2])[0]] = bytes(value[2:])
        elif kind == _AD_SERVICE_DATA16 and len(value) >= 2:
            service_data[f"0000{struct.unpack('<H', value[:2])[0]:04x}{_SIG_SUFFIX}"] = bytes(
                value[2:]
            )
    return Advert(
        address=address,
        local_name=name,
        service_uuids=tuple(dict.fromkeys(uuids)),
        manufacturer_data=manufacturer,
        service_data=service_data,
        tx_power=tx_power,
        rssi=rssi,
        raw=data,
    )


def bleak_uuid(uuid: core.UUID) -> str:
    """A Bumble UUID in bleak's spelling: the lowercase 128-bit form."""
    return str(uuidlib.UUID(bytes=bytes(reversed(uuid.to_bytes(force_128=True)))))


class VirtualScanner(BaseBleakScanner):
    """Scanner backend: advertisements seen by the radio's central, fed to bleak."""

    central: ClassVar[VirtualCentral]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._scanning = False

    async def start(self) -> None:
        """Start receiving the central's advertisements."""
        self.seen_devices = {}
        if not self._scanning:
            self._scanning = True
            await self.central.add_scan_listener(self._on_advert)

    async def stop(self) -> None:
        """Stop receiving advertisements."""
        if self._scanning:
            self._scanning = False
            await self.central.remove_scan_listener(self._on_advert)

    def _on_advert(self, advert: Advert) -> None:
        if not self.is_allowed_uuid(list(advert.service_uuids)):
            return
        address = advert.address.to_string(with_type_qualifier=False)
        data = AdvertisementData(
            local_name=advert.local_name,
            manufacturer_data=advert.manufacturer_data,
            service_data=advert.service_data,
            service_uuids=list(advert.service_uuids),
            tx_power=advert.tx_power,
            rssi=advert.rssi,
            platform_data=(advert.raw,),
        )
        # The Bumble address (with its type) is what the client needs to connect.
        device = self.create_or_update_device(
            address, address, advert.local_name, advert.address, data
        )
        self.call_detection_callbacks(device, data)


class VirtualClient(BaseBleakClient):
    """Client backend: one GATT connection from the radio's central to a peripheral."""

    central: ClassVar[VirtualCentral]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        if isinstance(address_or_ble_device, BLEDevice):
            details = address_or_ble_device.details
            self._name = address_or_ble_device.name or self.address
        else:
            details = None
            self._name = address_or_ble_device
        self._target = (
            details
            if isinstance(details, hci.Address)
            else hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        )
        self._connection: Connection | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """The advertised name, or the address."""
        return self._name

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU."""
        return self._connection.att_mtu if self._connection is not None else _DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover every service, characteristic and descriptor."""
        timeout = float(kwargs.get("timeout", self._timeout))
        self.central.attempt_started()
        try:
            await self._connect(pair, timeout)
        except Exception:
            self.central.attempt_failed()  # a retry after a real-time back-off may follow
            raise

    async def _connect(self, pair: bool, limit_s: float) -> None:
        try:
            connection = await self.central.connect(self._target, limit_s)
            _raise_if_cancel_was_swallowed()
        except core.TimeoutError as exc:
            # bleak's own backends time out with asyncio.TimeoutError; retry logic relies on it.
            raise TimeoutError(f"{self.address}: no connection within {limit_s:g} s") from exc
        except core.ConnectionError as exc:
            raise BleakError(f"{self.address}: connection failed: {exc.error_name}") from exc
        self._connection = connection
        self._subscribers = {}
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            await self._op("MTU exchange", connection.gatt_client.request_mtu(_PREFERRED_MTU))
            self.services = await self._discover(connection)
            if pair:
                await self.pair()
        except BaseException:
            await self._drop()
            raise

    async def _discover(self, connection: Connection) -> BleakGATTServiceCollection:
        client = connection.gatt_client
        collection = BleakGATTServiceCollection()
        services: list[ServiceProxy] = await self._op("discovery", client.discover_services())
        for proxy in services:
            service = BleakGATTService(proxy, proxy.handle, bleak_uuid(proxy.uuid))
            collection.add_service(service)
            characteristics: list[CharacteristicProxy[bytes]] = await self._op(
                "discovery", client.discover_characteristics([], proxy)
            )
            for char_proxy in characteristics:
                characteristic = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle,
                    bleak_uuid(char_proxy.uuid),
                    [name for bit, name in _PROPERTY_NAMES if char_proxy.properties & bit],
                    lambda: self.mtu_size - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                descriptors: list[DescriptorProxy] = await self._op(
                    "discovery", client.discover_descriptors(char_proxy)
                )
                for desc_proxy in descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            desc_proxy,
                            desc_proxy.handle,
                            bleak_uuid(desc_proxy.type),
                            characteristic,
                        )
                    )
        return collection

    def _on_disconnection(self, _reason: int) -> None:
        if self._connection is None:
            return
        self._connection = None
        self._subscribers = {}
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _drop(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            await connection.disconnect()
        except (core.BaseBumbleError, hci.HCI_Error):
            _LOGGER.debug("%s: disconnect after a failed setup did not complete", self.address)
        self._on_disconnection(hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR)

    async def disconnect(self) -> None:
        """Disconnect (at once if already disconnected)."""
        await self._drop()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (Just Works) over the virtual link."""
        connection = self._require()
        await self._op("pairing", connection.pair())

    async def unpair(self) -> None:
        """Forget the pairing keys for this peripheral and disconnect."""
        keystore = self.central.device.keystore
        if keystore is not None:
            await keystore.delete(str(self._target))
        await self._drop()

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value."""
        self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        return bytearray(await self._op("read", proxy.read_value()))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        self._require()
        proxy: DescriptorProxy = descriptor.obj
        return bytearray(await self._op("read", proxy.read_value()))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic value, with or without response."""
        self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        await self._op("write", proxy.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value (with response)."""
        self._require()
        proxy: DescriptorProxy = descriptor.obj
        await self._op("write", proxy.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Subscribe (notifications preferred over indications)."""
        connection = self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        if not proxy.properties & (
            Characteristic.Properties.NOTIFY | Characteristic.Properties.INDICATE
        ):
            raise BleakError(f"{self.address}: {characteristic.uuid} does not notify")

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        await self._op("subscribe", connection.gatt_client.subscribe(proxy, subscriber))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe."""
        connection = self._require()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._op("unsubscribe", connection.gatt_client.unsubscribe(proxy, subscriber))

    def _require(self) -> Connection:
        if self._connection is None:
            raise BleakError(f"{self.address}: not connected")
        return self._connection

    async def _op(self, what: str, operation: Awaitable[_T]) -> _T:
        """Await a GATT operation, turning Bumble's errors into the ones bleak users expect."""
        try:
            result = await operation
        except ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc
        except core.TimeoutError as exc:
            raise TimeoutError(f"{self.address}: {what} timed out") from exc
        except asyncio.CancelledError:
            # Bumble cancels a pending request's future when the link drops: that is a lost
            # connection, not a cancellation of this task, unless the task is being cancelled.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise BleakError(f"{self.address}: disconnected during {what}") from None
        _raise_if_cancel_was_swallowed()
        return result


def _raise_if_cancel_was_swallowed() -> None:
    """Raise CancelledError if this task is being cancelled but the awaited call returned.

    Bumble waits with `asyncio.wait_for`, which on Python 3.11 returns the result instead of
    raising when the cancellation and the result arrive together; the task would then never
    learn it was cancelled (and a task group waiting for it would wait forever).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def backends_for(central: VirtualCentral) -> tuple[type[VirtualScanner], type[VirtualClient]]:
    """Scanner and client backend classes bound to `central` (bleak instantiates them itself)."""
    scanner = type("VirtualScanner", (VirtualScanner,), {"central": central})
    client = type("VirtualClient", (VirtualClient,), {"central": central})
    return scanner, client
