"""The virtual Bluetooth radio: an in-process Bumble link, a central for bleak, simulated wearables.

`VirtualRadio` is what tests, the demo and `scan --virtual` use instead of an adapter:

    async with VirtualRadio() as radio:
        watch = await radio.add_wearable(profile="infinitime", wearer=person, clock=clock)
        link = radio.link_factory()(person_id, device_config, clock)   # a real BleLink

Bumble's virtual controller has gaps this module closes: a connection cancel that never
completes, no link supervision (a vanished peripheral is never reported), 27-byte data packets,
and controllers that keep advertising after leaving the link.

Given the simulation's clock, the radio keeps to it: a connect gives up after simulated, not
real, seconds, and whatever a scan or a connect waits for (the peripheral's next advertisement)
is sent at once rather than on Bumble's real-time advertising timer, so a paced clock (see
`monitor.clock`) never moves on while the radio has something on its way.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from datetime import tzinfo
from types import TracebackType

from bumble import core, hci, ll
from bumble.controller import Controller, LegacyAdvertiser
from bumble.device import Advertisement, Connection, Device, DeviceConfiguration
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from devices.ble import BleLinkFactory, LinkSettings
from devices.clock import Clock
from monitor.clock import SimulatedClock
from simulators.bleak_backend import (
    Advert,
    VirtualClient,
    VirtualScanner,
    backends_for,
    parse_advert,
)
from simulators.person import Wearer
from simulators.wearables import (
    PROFILE_DEFAULTS,
    MotionSource,
    SimulatedWearable,
    advertising_data,
)

_LOGGER = logging.getLogger(__name__)

# LE Data Length Extension: 251-byte link packets instead of 27, so that a notification is
# one packet, as on any phone or adapter made since 2016 (fragments cost 4x the CPU here).
_LE_DATA_LENGTH = 251
_CENTRAL_ADDRESS = "F0:F1:F2:F3:F4:F5"
# A connect waits for the peripheral's next advertisement (sent at once here); one that has not
# completed in this long (seconds of the radio's clock) never will.
DEFAULT_CONNECT_TIMEOUT_S = 2.0
DEFAULT_ADVERTISING_INTERVAL_MS = 20.0


class VirtualLink(LocalLink):
    """The in-process air: adds range, refusal and link loss to Bumble's `LocalLink`."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Bumble leaves it unannotated
        self._out_of_range: set[Controller] = set()
        self._refusing: set[Controller] = set()

    def send_advertising_pdu(
        self, sender_controller: Controller, packet: ll.AdvertisingPdu
    ) -> None:
        """Deliver an advertisement to every other controller in range of the sender."""
        if sender_controller in self._out_of_range:
            return
        loop = asyncio.get_running_loop()
        for controller in self.controllers:
            if controller is not sender_controller and controller not in self._out_of_range:
                loop.call_soon(controller.on_ll_advertising_pdu, packet)

    def send_acl_data(
        self,
        sender_controller: Controller,
        destination_address: hci.Address,
        transport: core.PhysicalTransport,
        data: bytes,
    ) -> None:
        """Deliver data unless either end is out of range."""
        if sender_controller in self._out_of_range:
            return
        destination = self.find_le_controller(destination_address)
        if destination is not None and destination in self._out_of_range:
            return
        super().send_acl_data(sender_controller, destination_address, transport, data)

    def advertise_now(self, controller: Controller) -> None:
        """Have `controller` send its advertisement on the next loop turn, if it advertises.

        What a scan or a connect waits for then arrives within loop turns, not on Bumble's
        real-time advertising timer (which goes on as well).
        """
        loop = asyncio.get_running_loop()
        legacy: LegacyAdvertiser = controller.le_legacy_advertiser
        loop.call_soon(legacy.send_advertising_data)  # sends only if enabled
        for advertising_set in controller.advertising_sets.values():
            if advertising_set.enabled:
                loop.call_soon(advertising_set.send_extended_advertising_data)

    def advertise_all_now(self) -> None:
        """Have every controller on the air advertise on the next loop turn (those that do)."""
        for controller in tuple(self.controllers):
            if controller not in self._out_of_range:
                self.advertise_now(controller)

    def set_in_range(self, controller: Controller, in_range: bool) -> None:
        """Bring a controller into range, or take it out (dropping its connections)."""
        if in_range:
            self._out_of_range.discard(controller)
            self.advertise_now(controller)
        else:
            self.drop_connections(controller)
            self._out_of_range.add(controller)

    def set_refusing(self, controller: Controller, refusing: bool) -> None:
        """Make a peripheral refuse (or accept again) new connections."""
        if refusing:
            self._refusing.add(controller)
        else:
            self._refusing.discard(controller)

    def refuses(self, address: hci.Address) -> bool:
        """Whether a connection to `address` would fail to be established."""
        controller = self.find_le_controller(address)
        return controller is not None and (
            controller in self._refusing or controller in self._out_of_range
        )

    def drop_connections(
        self, controller: Controller, reason: int = hci.HCI_CONNECTION_TIMEOUT_ERROR
    ) -> None:
        """Lose every LE connection of `controller`, as a supervision timeout does on both ends."""
        for peer_address, connection in list(controller.le_connections.items()):
            peer = self.find_le_controller(peer_address)
            if peer is not None and (peer_side := peer.le_connections.get(connection.self_address)):
                peer.on_le_disconnected(peer_side, reason)
            controller.on_le_disconnected(connection, reason)

    def detach(self, controller: Controller) -> None:
        """Take a controller off the air for good: drop links, stop advertising, forget it."""
        self.drop_connections(
            controller, hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR
        )
        controller.le_legacy_advertiser.stop()
        for advertising_set in controller.advertising_sets.values():
            advertising_set.stop()
        self.controllers.discard(controller)
        self._out_of_range.discard(controller)
        self._refusing.discard(controller)


class VirtualController(Controller):
    """Bumble's virtual controller with a working connection cancel, refusal and long packets."""

    le_acl_data_packet_length = _LE_DATA_LENGTH
    supported_max_tx_octets = _LE_DATA_LENGTH
    supported_max_rx_octets = _LE_DATA_LENGTH
    suggested_max_tx_octets = _LE_DATA_LENGTH

    def __init__(self, name: str, link: VirtualLink) -> None:
        super().__init__(name, link=link)
        self._air = link

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Dispatch a packet from the host (without the base class's per-packet debug string)."""
        if isinstance(packet, hci.HCI_Command):
            self.on_hci_command_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)

    def on_hci_acl_data_packet(self, packet: hci.HCI_AclDataPacket) -> None:
        """Pass data to its connection; data for a link just lost is dropped, as on air."""
        if self.find_connection_by_handle(packet.connection_handle) is not None:
            super().on_hci_acl_data_packet(packet)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Hand a packet to the host on the next loop turn (without the debug string)."""
        if self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))

    def on_hci_le_create_connection_command(
        self, command: hci.HCI_LE_Create_Connection_Command
    ) -> None:
        """Start connecting; the peer's next advertisement is sent at once (see the module)."""
        super().on_hci_le_create_connection_command(command)
        self._call_peer(command.peer_address)

    def on_hci_le_extended_create_connection_command(
        self, command: hci.HCI_LE_Extended_Create_Connection_Command
    ) -> None:
        """Start connecting (extended); the peer's next advertisement is sent at once."""
        super().on_hci_le_extended_create_connection_command(command)
        self._call_peer(command.peer_address)

    def _call_peer(self, address: hci.Address) -> None:
        peer = self._air.find_le_controller(address)
        if peer is not None and self.pending_le_connection is not None:
            self._air.advertise_now(peer)

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        """Cancel a pending connection and report it as failed, as the specification requires."""
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        # Scheduled so that the Command Complete reaches the host before the Connection Complete.
        asyncio.get_running_loop().call_soon(
            self._report_connection_failure,
            pending.peer_address,
            hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
        )
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def create_le_connection(self, peer_address: hci.Address) -> None:
        """Connect to an advertiser, unless it refuses (then the connection fails to establish)."""
        if self._air.refuses(peer_address):
            self.pending_le_connection = None
            self._report_connection_failure(
                peer_address, hci.HCI_ErrorCode.CONNECTION_FAILED_TO_BE_ESTABLISHED_ERROR
            )
            return
        super().create_le_connection(peer_address)

    def _report_connection_failure(self, peer_address: hci.Address, status: int) -> None:
        self.send_hci_packet(
            hci.HCI_LE_Connection_Complete_Event(
                status=status,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=peer_address.address_type,
                peer_address=peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
        )


def new_device(
    link: VirtualLink, name: str, address: str, **config: object
) -> tuple[Device, VirtualController]:
    """A Bumble device (host and virtual controller) on `link`, not yet powered on."""
    controller = VirtualController(name, link)
    configuration = DeviceConfiguration(
        name=name, address=hci.Address(address, hci.Address.RANDOM_DEVICE_ADDRESS)
    )
    for key, value in config.items():
        setattr(configuration, key, value)
    device = Device(config=configuration, host=Host(controller, AsyncPipeSink(controller)))
    return device, controller


ScanListener = Callable[[Advert], None]


class VirtualCentral:
    """The central the bleak backend drives: shared scanning and one connect at a time."""

    def __init__(
        self,
        device: Device,
        controller: VirtualController,
        air: VirtualLink,
        *,
        connect_timeout_s: float,
        clock: Clock | None = None,
    ) -> None:
        self.device = device
        self.controller = controller
        self._air = air
        self._connect_timeout_s = connect_timeout_s
        self._clock = clock
        self._listeners: list[ScanListener] = []
        self._scan_lock = asyncio.Lock()
        # Controllers accept one pending LE connection at a time (so do real adapters).
        self._connect_lock = asyncio.Lock()
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)

    async def add_scan_listener(self, listener: ScanListener) -> None:
        """Receive every advertisement until removed; scanning runs while anyone listens."""
        async with self._scan_lock:
            self._listeners.append(listener)
            if not self.device.is_scanning:
                await self.device.start_scanning(filter_duplicates=False)
        # A new listener hears everyone in range at once, not on the next real-time timer.
        self._air.advertise_all_now()

    async def remove_scan_listener(self, listener: ScanListener) -> None:
        """Stop receiving advertisements; scanning stops with the last listener."""
        async with self._scan_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
            if not self._listeners and self.device.is_scanning and self.device.powered_on:
                await self.device.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        if not self._listeners:
            return
        advert = parse_advert(advertisement.address, advertisement.data_bytes, advertisement.rssi)
        for listener in tuple(self._listeners):
            listener(advert)

    async def connect(self, address: hci.Address, limit_s: float) -> Connection:
        """Connect to an advertising peripheral; Bumble's TimeoutError if it does not answer.

        The limit is in the radio clock's seconds (real ones without a clock).
        """
        limit_s = min(limit_s, self._connect_timeout_s)
        async with self._connect_lock:
            if self._clock is None:
                connection: Connection = await self.device.connect(
                    address, transport=core.PhysicalTransport.LE, timeout=limit_s
                )
                return connection
            return await self._connect_on_clock(self._clock, address, limit_s)

    def keep_to(self, clock: Clock) -> None:
        """Time connects on `clock`, unless the radio was given a clock of its own."""
        if self._clock is None:
            self._clock = clock

    def attempt_started(self) -> None:
        """A connect attempt begins: it waits on the clock, so a paced clock may move."""
        if isinstance(self._clock, SimulatedClock):
            self._clock.release()

    def attempt_failed(self) -> None:
        """A connect attempt failed: hold a paced clock until the caller next waits on it.

        bleak-retry-connector backs off in real time before its next attempt; simulated time
        must not run on meanwhile, or a slow machine would see fewer attempts than a fast one.
        """
        if isinstance(self._clock, SimulatedClock):
            self._clock.hold()

    async def _connect_on_clock(
        self, clock: Clock, address: hci.Address, limit_s: float
    ) -> Connection:
        """Connect, giving up after `limit_s` of `clock` time as Bumble does after real time."""
        connecting = asyncio.ensure_future(
            self.device.connect(address, transport=core.PhysicalTransport.LE, timeout=None)
        )
        expiry = asyncio.ensure_future(clock.sleep(limit_s))
        try:
            await asyncio.wait({connecting, expiry}, return_when=asyncio.FIRST_COMPLETED)
            if not connecting.done():
                # What Bumble does on its own timeout: cancel at the controller, which reports
                # the pending connection as failed (or it completed just now).
                await self.device.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
                try:
                    return await connecting
                except core.ConnectionError as error:
                    raise core.TimeoutError() from error
            return connecting.result()
        finally:
            expiry.cancel()
            if not connecting.done():
                connecting.cancel()
                # Cancelled from outside: leave no connection pending at the controller.
                self.controller.pending_le_connection = None


class VirtualRadio:
    """An in-process Bluetooth radio: the Bumble link, the central bleak uses, the wearables."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,  # None: the first wearable's clock
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS,
    ) -> None:
        self._clock = clock
        self._connect_timeout_s = connect_timeout_s
        self._advertising_interval_ms = advertising_interval_ms
        self._link: VirtualLink | None = None
        self._central: VirtualCentral | None = None
        self._wearables: list[SimulatedWearable] = []
        self._bystanders: list[tuple[Device, VirtualController]] = []
        self._backends: tuple[type[VirtualScanner], type[VirtualClient]] | None = None
        self._numbers = itertools.count(1)

    async def __aenter__(self) -> VirtualRadio:
        self._link = VirtualLink()
        device, controller = new_device(self._link, "recovery-monitor", _CENTRAL_ADDRESS)
        await device.power_on()
        self._central = VirtualCentral(
            device,
            controller,
            self._link,
            connect_timeout_s=self._connect_timeout_s,
            clock=self._clock,
        )
        self._backends = backends_for(self._central)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for wearable in reversed(self._wearables):
            await wearable.close()
        self._wearables.clear()
        for bystander, controller in self._bystanders:
            if self._link is not None:
                self._link.detach(controller)
            await bystander.power_off()
        self._bystanders.clear()
        if self._central is not None and self._link is not None:
            device = self._central.device
            if device.is_scanning:
                await device.stop_scanning()
            self._link.detach(self._central.controller)
            await device.power_off()
        self._central = None
        self._link = None

    @property
    def central(self) -> VirtualCentral:
        """The central the bleak backend drives."""
        if self._central is None:
            raise RuntimeError("the virtual radio is not running (use `async with`)")
        return self._central

    @property
    def scanner_backend(self) -> type[VirtualScanner]:
        """The `backend=` class for `BleakScanner` on this radio."""
        return self._bound_backends()[0]

    @property
    def client_backend(self) -> type[VirtualClient]:
        """The `backend=` class for `BleakClient` on this radio."""
        return self._bound_backends()[1]

    @property
    def wearables(self) -> tuple[SimulatedWearable, ...]:
        """The wearables on the air, in the order they were added."""
        return tuple(self._wearables)

    def _bound_backends(self) -> tuple[type[VirtualScanner], type[VirtualClient]]:
        if self._backends is None:
            raise RuntimeError("the virtual radio is not running (use `async with`)")
        return self._backends

    def _require(self) -> VirtualLink:
        if self._link is None:
            raise RuntimeError("the virtual radio is not running (use `async with`)")
        return self._link

    async def add_wearable(
        self,
        *,
        profile: str,
        wearer: Wearer,
        clock: Clock,
        address: str | None = None,
        name: str | None = None,
        motion_source: MotionSource | None = None,
        battery: int = 90,
        notify_interval_s: float = 5.0,
        motion_period_s: float | None = None,
        boot_s: float = 8.0,
    ) -> SimulatedWearable:
        """Power on a simulated wearable of `profile` and start it advertising.

        Steps come from `wearer.steps_until(clock.now())`; step notifications are sent at most
        every `notify_interval_s` simulated seconds, raw motion every `motion_period_s` (the
        device's own rate if None), and a reboot keeps the wearable away for `boot_s`.
        """
        link = self._require()
        self.central.keep_to(clock)
        if profile not in PROFILE_DEFAULTS:
            known = ", ".join(sorted(PROFILE_DEFAULTS))
            raise ValueError(f"no simulated wearable for profile {profile!r} (known: {known})")
        number = next(self._numbers)
        address = address or f"F0:5A:00:00:{number >> 8:02X}:{number & 0xFF:02X}"
        name = name or PROFILE_DEFAULTS[profile].name
        device, controller = new_device(
            link,
            name,
            address,
            advertising_interval_min=self._advertising_interval_ms,
            advertising_interval_max=self._advertising_interval_ms,
        )
        wearable = SimulatedWearable(
            profile=profile,
            device=device,
            controller=controller,
            air=link,
            wearer=wearer,
            clock=clock,
            motion_source=motion_source,
            battery=battery,
            notify_interval_s=notify_interval_s,
            motion_period_s=motion_period_s,
            boot_s=boot_s,
        )
        await wearable.start()
        self._wearables.append(wearable)
        _LOGGER.debug("%s: simulated %s on the air at %s", name, profile, address)
        return wearable

    async def add_bystander(
        self, *, name: str, address: str, uuids16: tuple[int, ...] = ()
    ) -> None:
        """Something else that advertises nearby (a speaker, a phone): no profile serves it."""
        link = self._require()
        device, controller = new_device(
            link,
            name,
            address,
            advertising_interval_min=self._advertising_interval_ms,
            advertising_interval_max=self._advertising_interval_ms,
        )
        await device.power_on()
        await device.start_advertising(advertising_data=advertising_data(name, uuids16))
        self._bystanders.append((device, controller))

    def link_factory(
        self, *, timezone: tzinfo | None = None, settings: LinkSettings | None = None
    ) -> BleLinkFactory:
        """A LinkFactory whose links are production `BleLink`s speaking bleak over this radio."""
        return BleLinkFactory(
            timezone=timezone,
            settings=settings,
            scanner_backend=self.scanner_backend,
            client_backend=self.client_backend,
        )
