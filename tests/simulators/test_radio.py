"""The virtual radio through plain bleak: scanning, connecting, GATT, and the controller fixes."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import hci

from devices.profiles import battery, heart_rate, infinitime, polar_pmd, rsc, thingy52
from monitor.clock import SimulatedClock
from simulators.bleak_backend import VirtualClient, parse_advert
from simulators.person import SimulatedPerson, Walk
from simulators.radio import VirtualRadio
from simulators.wearables import SimulatedWearable, advertising_data
from simulators.wearables.polar import VERITY_SENSE, PolarPeripheral

pytestmark = pytest.mark.timeout(20)

START = datetime(2026, 11, 20, 8, tzinfo=UTC)


@pytest.fixture
async def radio() -> AsyncIterator[VirtualRadio]:
    async with VirtualRadio(connect_timeout_s=0.2) as running:
        yield running


async def add(
    radio: VirtualRadio, profile: str, *, name: str | None = None, battery: int = 90
) -> SimulatedWearable:
    clock = SimulatedClock(START, speed=100, paced=True)
    return await radio.add_wearable(
        profile=profile, wearer=SimulatedPerson(), clock=clock, name=name, battery=battery
    )


def client_for(
    radio: VirtualRadio,
    address: str,
    disconnected_callback: Callable[[BleakClient], None] | None = None,
) -> BleakClient:
    return BleakClient(address, disconnected_callback, backend=radio.client_backend)


def test_parse_advert_dedupes_and_survives_garbage() -> None:
    data = advertising_data("Thingy", uuids128=(thingy52.CONFIGURATION_SERVICE,))
    assert len(data) <= 31
    manufacturer = bytes([5, 0xFF, 0x59, 0x00, 0xAB, 0xCD])
    tx_power = bytes([2, 0x0A, 0xF8])
    truncated = bytes([9, 0x09, 0x41])
    advert = parse_advert(
        hci.Address("C0:00:00:00:00:01"), data + data + manufacturer + tx_power + truncated, -60
    )
    assert advert.local_name == "Thingy"
    assert advert.service_uuids == (thingy52.CONFIGURATION_SERVICE,)
    assert advert.manufacturer_data == {0x0059: b"\xab\xcd"}
    assert advert.tx_power == -8
    assert advert.rssi == -60


def test_long_names_are_shortened_to_fit() -> None:
    data = advertising_data("A wearable with a very long name indeed", uuids16=(0x1814,))
    assert len(data) == 31
    advert = parse_advert(hci.Address("C0:00:00:00:00:01"), data, -50)
    assert advert.local_name is not None
    assert "A wearable with a very long name indeed".startswith(advert.local_name)
    assert advert.service_uuids == (rsc.SERVICE,)


async def test_scanner_sees_every_wearable_with_name_and_services(radio: VirtualRadio) -> None:
    watch = await add(radio, "infinitime")
    thingy = await add(radio, "thingy52")
    pod = await add(radio, "rsc", name="Stryd")
    found = await BleakScanner.discover(0.2, return_adv=True, backend=radio.scanner_backend)
    assert set(found) == {watch.address, thingy.address, pod.address}
    assert found[watch.address][1].local_name == "InfiniTime"
    assert found[thingy.address][1].service_uuids == [thingy52.CONFIGURATION_SERVICE]
    assert found[pod.address][0].name == "Stryd"
    assert found[pod.address][1].service_uuids == [rsc.SERVICE]
    only_pods = await BleakScanner.discover(
        0.2, service_uuids=[rsc.SERVICE], backend=radio.scanner_backend
    )
    assert [d.address for d in only_pods] == [pod.address]


async def test_connect_discovers_services_with_a_large_mtu(radio: VirtualRadio) -> None:
    watch = await add(radio, "infinitime", battery=55)
    device = await BleakScanner.find_device_by_name(
        "InfiniTime", 1.0, backend=radio.scanner_backend
    )
    assert device is not None
    async with BleakClient(device, backend=radio.client_backend) as client:
        assert client.is_connected
        assert watch.connected
        assert client.mtu_size == 247
        assert client.name == "InfiniTime"
        uuids = {s.uuid for s in client.services}
        assert {battery.SERVICE, infinitime.MOTION_SERVICE, heart_rate.SERVICE} <= uuids
        steps = client.services.get_characteristic(infinitime.STEP_COUNT)
        assert steps is not None
        assert set(steps.properties) == {"read", "notify"}
        assert [d.uuid for d in steps.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
        assert await client.read_gatt_char(battery.LEVEL) == bytearray([55])
        # Long link packets: a notification is one packet, not four.
        queue = radio.central.device.host.le_acl_packet_queue
        assert queue is not None
        assert queue.max_packet_size == 251
    assert not watch.connected


async def test_notifications_reads_writes_and_protocol_errors(radio: VirtualRadio) -> None:
    thingy = await add(radio, "thingy52")
    received: asyncio.Queue[bytearray] = asyncio.Queue()
    async with client_for(radio, thingy.address) as client:
        await client.start_notify(battery.LEVEL, lambda _c, data: received.put_nowait(data))
        await thingy.set_battery(41)
        async with asyncio.timeout(2):
            assert await received.get() == bytearray([41])
        await client.stop_notify(battery.LEVEL)
        config = thingy52.MotionConfig(motion_frequency_hz=100)
        await client.write_gatt_char(thingy52.MOTION_CONFIG, thingy52.build_config(config), True)
        assert thingy.motion_config == config
        assert await client.read_gatt_char(thingy52.MOTION_CONFIG) == thingy52.build_config(config)
        with pytest.raises(BleakGATTProtocolError) as not_readable:
            await client.read_gatt_char(thingy52.PEDOMETER)
        assert not_readable.value.code == 0x02  # READ_NOT_PERMITTED
        bad = struct.pack("<HHHHB", 1000, 10000, 1000, 400, 1)  # 400 Hz is out of range
        with pytest.raises(BleakGATTProtocolError) as rejected:
            await client.write_gatt_char(thingy52.MOTION_CONFIG, bad, True)
        assert rejected.value.code == 0x13  # VALUE_NOT_ALLOWED
        assert thingy.motion_config == config


async def test_timed_out_connect_is_cancelled_and_the_next_one_works(radio: VirtualRadio) -> None:
    absent = client_for(radio, "C0:FF:EE:00:00:01")
    with pytest.raises(TimeoutError):
        await absent.connect(timeout=0.1)
    # Without the controller fix the cancelled connection stays pending and this is refused.
    watch = await add(radio, "infinitime")
    async with client_for(radio, watch.address) as client:
        assert client.is_connected


async def test_refused_connection_fails_to_be_established(radio: VirtualRadio) -> None:
    watch = await add(radio, "infinitime")
    await watch.refuse_connections(True)
    with pytest.raises(BleakError, match="CONNECTION_FAILED_TO_BE_ESTABLISHED"):
        await client_for(radio, watch.address).connect()
    await watch.refuse_connections(False)
    async with client_for(radio, watch.address) as client:
        assert client.is_connected


async def test_link_loss_is_reported_once_and_fails_pending_requests(radio: VirtualRadio) -> None:
    watch = await add(radio, "infinitime")
    calls: list[BleakClient] = []
    client = client_for(radio, watch.address, disconnected_callback=calls.append)
    await client.connect()
    await watch.stall(60, hang_requests=True)
    read = asyncio.create_task(client.read_gatt_char(battery.LEVEL))
    await asyncio.sleep(0.02)
    await watch.vanish()
    with pytest.raises(BleakError, match="disconnected during read"):
        await read
    assert calls == [client]
    assert not client.is_connected
    with pytest.raises(BleakError, match="not connected"):
        await client.read_gatt_char(battery.LEVEL)
    await client.disconnect()  # a no-op once disconnected
    assert calls == [client]


async def test_out_of_range_wearable_cannot_be_found_until_it_returns(radio: VirtualRadio) -> None:
    clock = SimulatedClock(START, speed=0)  # time moves only when the test says so
    watch = await radio.add_wearable(profile="infinitime", wearer=SimulatedPerson(), clock=clock)
    await watch.out_of_range(600)
    gone = await BleakScanner.find_device_by_address(
        watch.address, 0.2, backend=radio.scanner_backend
    )
    assert gone is None
    await clock.advance(600)
    back = await BleakScanner.find_device_by_address(
        watch.address, 1.0, backend=radio.scanner_backend
    )
    assert back is not None


async def test_pairing_over_the_virtual_link(radio: VirtualRadio) -> None:
    watch = await add(radio, "infinitime")
    async with client_for(radio, watch.address) as client:
        await client.pair()
        assert await client.read_gatt_char(battery.LEVEL) == bytearray([90])
        await client.unpair()
        assert not client.is_connected


async def test_closing_the_radio_takes_everything_off_the_air() -> None:
    async with VirtualRadio() as radio:
        await add(radio, "infinitime")
        await add(radio, "heart_rate")
        link = radio.central.controller.link
        assert len(link.controllers) == 3
    assert link.controllers == set()
    with pytest.raises(RuntimeError, match="not running"):
        _ = radio.central


async def test_a_cancellation_racing_a_result_is_not_lost() -> None:
    # Bumble waits with asyncio.wait_for, which on Python 3.11 returns a result that arrives
    # together with a cancellation; the backend must still let the task be cancelled.
    client = VirtualClient("C0:00:00:00:00:01", disconnected_callback=None, timeout=1.0)
    answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    started = asyncio.Event()

    async def read() -> bytes:
        started.set()
        return await asyncio.wait_for(answer, 10)

    task = asyncio.create_task(client._op("read", read()))
    await started.wait()
    answer.set_result(b"\x01")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_simulated_wearables_serve_the_bytes_real_ones_were_seen_to_send(
    radio: VirtualRadio,
) -> None:
    """Reads from the simulators against payloads from public reports (docs/ble.md)."""
    clock = SimulatedClock(START, speed=100, paced=True)
    walker = SimulatedPerson([Walk(START, 0.08)])  # 8 steps in 4.8 s
    watch = await radio.add_wearable(profile="infinitime", wearer=walker, clock=clock)
    strap = await radio.add_wearable(profile="polar_pmd", wearer=SimulatedPerson(), clock=clock)
    sense = await radio.add_wearable(profile="polar_pmd", wearer=SimulatedPerson(), clock=clock)
    sense.as_(PolarPeripheral, sense.peripheral).model = VERITY_SENSE
    await clock.sleep_until(START + timedelta(seconds=6))  # the counter ticks every 5 s
    async with client_for(radio, watch.address) as client:
        # InfiniTimeOrg/InfiniTime#928: the step count characteristic read as 08 00 00 00.
        assert (await client.read_gatt_char(infinitime.STEP_COUNT)).hex() == "08000000"
    async with client_for(radio, strap.address) as client:
        # polarofficial/polar-ble-sdk#360: an H10's control point reads 0f 05 00 ... (17 bytes).
        features = bytes(await client.read_gatt_char(polar_pmd.CONTROL_POINT))
        assert features == bytes.fromhex("0f05") + bytes(15)
    async with client_for(radio, sense.address) as client:
        # polarofficial/polar-ble-sdk#249: a Verity Sense's reads 0f 6e 02 00 ...
        features = bytes(await client.read_gatt_char(polar_pmd.CONTROL_POINT))
        assert features.hex().startswith("0f6e02")
        assert polar_pmd.parse_features(features) == {"ppg", "acc", "ppi", "gyro", "mag"}


async def test_a_connect_gives_up_after_the_clocks_seconds_not_real_ones() -> None:
    # The radio's timeouts and the simulated clock agree: a wearable out of range is given up
    # on after the connect limit of simulated time, however much or little real time passed.
    clock = SimulatedClock(START, speed=0)  # time moves only when the test says so
    async with VirtualRadio(clock=clock, connect_timeout_s=0.1) as radio:
        watch = await radio.add_wearable(
            profile="infinitime", wearer=SimulatedPerson(), clock=clock
        )
        await watch.out_of_range(3600)
        connect = asyncio.create_task(client_for(radio, watch.address).connect())
        await asyncio.sleep(0.3)  # three times the limit in real time: not given up on yet
        assert not connect.done()
        await clock.advance(0.1)
        with pytest.raises(TimeoutError, match="no connection within"):
            await connect
        assert radio.central.controller.pending_le_connection is None
        await clock.advance(3600)  # back in range: its advertisement answers the connect at once
        async with client_for(radio, watch.address) as client:
            assert client.is_connected
            assert clock.now() == START + timedelta(seconds=3600.1)
