"""Every parser: known bytes give known readings; any other bytes a reading or a GattParseError."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.profiles import (
    battery,
    current_time,
    heart_rate,
    infinitime,
    polar_pmd,
    rsc,
    thingy52,
)
from devices.profiles.gatt import GattParseError
from devices.readings import Battery, CounterEpoch, HeartRate, RunningCadence, StepCount

PARSERS: list[Callable[[bytes], Any]] = [
    battery.parse_level,
    heart_rate.parse_measurement,
    infinitime.parse_step_count,
    infinitime.parse_motion,
    thingy52.parse_config,
    thingy52.parse_pedometer,
    thingy52.parse_raw,
    rsc.parse_measurement,
    current_time.parse_current_time,
    current_time.parse_local_time_information,
    polar_pmd.parse_frame,
    polar_pmd.parse_start,
    polar_pmd.parse_response,
]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: f"{p.__module__}.{p.__name__}")
@given(data=st.binary(max_size=40))
def test_arbitrary_bytes_parse_or_raise_a_typed_error(
    parse: Callable[[bytes], Any], data: bytes
) -> None:
    # Anything but GattParseError (struct.error, IndexError, ValueError) fails the test.
    with contextlib.suppress(GattParseError):
        parse(data)


def test_battery_level() -> None:
    assert battery.parse_level(b"\x57") == Battery(87)
    assert battery.build_level(87) == b"\x57"
    with pytest.raises(GattParseError, match="not a percentage"):
        battery.parse_level(b"\x65")
    with pytest.raises(GattParseError, match="expected 1 bytes"):
        battery.parse_level(b"")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # uint8 bpm, no contact support
        (bytes.fromhex("0048"), HeartRate(72)),
        # uint16 bpm
        (bytes.fromhex("014801"), HeartRate(328)),
        # contact supported, not detected
        (bytes.fromhex("0448"), HeartRate(72, contact=False)),
        # contact supported and detected
        (bytes.fromhex("0648"), HeartRate(72, contact=True)),
        # contact bit without "supported": not reported
        (bytes.fromhex("0248"), HeartRate(72, contact=None)),
        # energy expended 0x0102 kJ
        (bytes.fromhex("08480201"), HeartRate(72, energy_kj=258)),
        # two RR intervals: 1024 -> 1000 ms, 512 -> 500 ms
        (bytes.fromhex("104800040002"), HeartRate(72, rr_ms=(1000.0, 500.0))),
        # everything at once, uint16 bpm
        (
            bytes.fromhex("1f48000a000004"),
            HeartRate(72, contact=True, energy_kj=10, rr_ms=(1000.0,)),
        ),
    ],
)
def test_heart_rate_flag_variants(data: bytes, expected: HeartRate) -> None:
    assert heart_rate.parse_measurement(data) == expected


@pytest.mark.parametrize(
    "data",
    [b"\x00", b"\x01\x48", b"\x08\x48\x01", b"\x10\x48\x00", b"\x00\x48\x00"],
    ids=["short", "short-uint16", "short-energy", "odd-rr", "trailing"],
)
def test_heart_rate_rejects_truncated_or_padded(data: bytes) -> None:
    with pytest.raises(GattParseError):
        heart_rate.parse_measurement(data)


@given(
    bpm=st.integers(0, 0xFFFF),
    contact=st.none() | st.booleans(),
    energy=st.none() | st.integers(0, 0xFFFF),
    rr=st.lists(st.integers(0, 0xFFFF), max_size=8),
)
def test_heart_rate_round_trip(
    bpm: int, contact: bool | None, energy: int | None, rr: list[int]
) -> None:
    data = heart_rate.build_measurement(bpm, contact=contact, energy_kj=energy, rr_units=rr)
    parsed = heart_rate.parse_measurement(data)
    assert (parsed.bpm, parsed.contact, parsed.energy_kj) == (bpm, contact, energy)
    assert parsed.rr_ms == tuple(v * 1000 / 1024 for v in rr)


def test_infinitime_step_count_and_motion() -> None:
    assert infinitime.parse_step_count(bytes.fromhex("39300000")) == StepCount(
        12345, CounterEpoch.LOCAL_DAY
    )
    # 1 g down on z, half a g on x, -0.25 g on y (binary milli-g).
    raw = bytes.fromhex("000200ff0004")
    assert infinitime.parse_motion(raw) == (0.5, -0.25, 1.0)
    assert infinitime.build_motion((0.5, -0.25, 1.0)) == raw
    assert infinitime.build_motion((40.0, -40.0, 0.0)) == bytes.fromhex("ff7f00800000")


def test_thingy_pedometer_raw_and_config() -> None:
    assert thingy52.parse_pedometer(bytes.fromhex("e803000060ea0000")) == StepCount(
        1000, CounterEpoch.POWER_ON, walking_ms=60000
    )
    raw = bytes.fromhex("0004000000fe") + bytes(12)
    assert thingy52.parse_raw(raw) == (1.0, 0.0, -0.5)
    config = thingy52.MotionConfig(1000, 10000, 1000, 50, True)
    assert thingy52.build_config(config) == bytes.fromhex("e8031027e803320001")
    assert thingy52.parse_config(thingy52.build_config(config)) == config
    with pytest.raises(ValueError, match="5-200"):
        thingy52.build_config(thingy52.MotionConfig(motion_frequency_hz=400))


def test_rsc_measurement_variants() -> None:
    # walking, 1.5 m/s (384/256), 110 spm
    assert rsc.parse_measurement(bytes.fromhex("0080016e")) == RunningCadence(
        110, 1.5, running=False
    )
    # running with stride 1.25 m and total distance 1234.5 m
    data = bytes.fromhex("070003a07d0039300000")
    assert rsc.parse_measurement(data) == RunningCadence(
        160, 3.0, running=True, stride_m=1.25, distance_m=1234.5
    )
    assert rsc.build_measurement(160, 3.0, running=True, stride_m=1.25, distance_m=1234.5) == data
    with pytest.raises(GattParseError, match="stride"):
        rsc.parse_measurement(bytes.fromhex("0180016e7d"))


def test_cadence_integrator_credits_each_report_its_interval_and_skips_gaps() -> None:
    # Changed with issue 13: a report covers at most the pod's report interval (here 1 s).
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    integrator = rsc.CadenceIntegrator(max_gap_s=10)
    assert integrator.add(start, 120) == 2  # covers the second before it
    for second in range(1, 60):
        integrator.add(start + timedelta(seconds=second), 120)
    assert integrator.total == 120
    assert integrator.report_interval_s == 1.0
    # A gap is credited only the pod's interval (x 1.25), whatever the cadence.
    assert integrator.add(start + timedelta(seconds=90), 120) == 122
    integrator.pause()
    assert integrator.add(start + timedelta(seconds=91), 120) == 124


@pytest.mark.parametrize("every_s", [1.0, 2.0, 0.5])
def test_a_pod_silent_while_its_wearer_stops_is_not_credited_the_silence(every_s: float) -> None:
    # Issue 13: 60 s at 100 spm, a 12 s stop with no reports, 60 s at 100 spm: 200 steps
    # (the old integrator credited the 12 s at 100 spm: about 220).
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    integrator = rsc.CadenceIntegrator()
    reports = round(60 / every_s)
    for resumed in (0.0, 72.0):
        for index in range(1, reports + 1):
            integrator.add(start + timedelta(seconds=resumed + index * every_s), 100)
    assert integrator.total == pytest.approx(200, abs=1)
    assert integrator.report_interval_s == every_s


def test_local_time_information_for_a_zone_with_dst() -> None:
    london = ZoneInfo("Europe/London")
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert current_time.build_local_time_information(
        current_time.local_time_info(summer, london)
    ) == bytes([0, 4])
    assert current_time.build_local_time_information(
        current_time.local_time_info(winter, london)
    ) == bytes([0, 0])
    kathmandu = current_time.local_time_info(summer, ZoneInfo("Asia/Kathmandu"))
    assert current_time.build_local_time_information(kathmandu) == bytes([23, 0])
    new_york = current_time.local_time_info(winter, ZoneInfo("America/New_York"))
    encoded = current_time.build_local_time_information(new_york)
    assert encoded == bytes([(-20) & 0xFF, 0])
    assert current_time.parse_local_time_information(encoded).utc_offset == timedelta(hours=-5)


def test_current_time_is_local_with_iso_weekday() -> None:
    moment = datetime(2026, 11, 22, 23, 30, 15, 500000, tzinfo=UTC)  # a Sunday
    data = current_time.build_current_time(moment, ZoneInfo("Europe/Berlin"))
    # 2026-11-23 00:30:15.5 local, Monday (1), 128/256 s, external reference.
    assert data == bytes.fromhex("ea070b17001e0f018002")
    local = current_time.parse_current_time(data)
    info = current_time.parse_local_time_information(bytes([4, 0]))
    assert current_time.utc_of(local, info) == moment


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2099, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_current_time_round_trip(moment: datetime) -> None:
    zone = ZoneInfo("Europe/London")
    aware = moment
    info = current_time.local_time_info(aware, zone)
    local = current_time.parse_current_time(current_time.build_current_time(aware, zone))
    assert abs(current_time.utc_of(local, info) - aware) < timedelta(milliseconds=4)


@given(moment=st.datetimes(timezones=st.just(UTC)))
def test_watch_is_set_slightly_ahead_on_a_whole_second(moment: datetime) -> None:
    written = infinitime.clock_to_write(moment)
    assert written.microsecond == 0
    assert timedelta(seconds=1) <= written - moment < timedelta(seconds=2)


def test_polar_start_command_and_response() -> None:
    # Start the accelerometer: 52 Hz, 16 bits, 8 g.
    assert polar_pmd.build_start(52) == bytes.fromhex("0202000134000101100002010800")
    assert polar_pmd.parse_start(polar_pmd.build_start(52)).rates == (52,)
    assert polar_pmd.parse_response(bytes.fromhex("f002020000")).status == 0
    assert polar_pmd.parse_response(bytes.fromhex("f002020501")).status == 5
    with pytest.raises(GattParseError, match="not an accelerometer start"):
        polar_pmd.parse_start(bytes.fromhex("0201"))


def test_polar_plain_and_compressed_frames() -> None:
    header = bytes.fromhex("020100000000000000")
    plain = header + bytes.fromhex("01e803000018fce903ffff17fc")
    assert polar_pmd.parse_frame(plain) == polar_pmd.AccFrame(
        1, ((1000, 0, -1000), (1001, -1, -1001)), 0x01
    )
    # Reference (1000, 0, -1000), then one block of two samples with 3-bit deltas:
    # (+1, -1, +2) and (+3, 0, -4), packed least significant bit first.
    deltas = [1, -1, 2, 3, 0, -4]
    packed = sum((d & 0b111) << (3 * i) for i, d in enumerate(deltas))
    compressed = header + bytes([0x81]) + bytes.fromhex("e803000018fc") + bytes([3, 2])
    compressed += packed.to_bytes(3, "little")
    assert polar_pmd.parse_frame(compressed).samples == (
        (1000, 0, -1000),
        (1001, -1, -998),
        (1004, -1, -1002),
    )
    with pytest.raises(GattParseError, match="not whole samples"):
        polar_pmd.parse_frame(plain[:-1])
    with pytest.raises(GattParseError, match="not the accelerometer"):
        polar_pmd.parse_frame(bytes([0x00]) + plain[1:])


@given(
    samples=st.lists(st.tuples(*[st.integers(-8000, 8000)] * 3), min_size=1, max_size=36),
    compressed=st.booleans(),
)
def test_polar_frames_round_trip(samples: list[tuple[int, int, int]], compressed: bool) -> None:
    frame = polar_pmd.build_frame(123, samples, compressed=compressed)
    parsed = polar_pmd.parse_frame(frame)
    assert (parsed.timestamp_ns, parsed.samples) == (123, tuple(samples))
