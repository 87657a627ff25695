"""Polar PMD bytes as Polar devices send them, from the Polar BLE SDK's documented examples.

Source of every payload: polarofficial/polar-ble-sdk (its parsers' unit tests, which document
frames byte by byte, and issues #360, #451, #691 and pull request #866). Only the bytes are
taken; the code here is ours.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.profiles import polar_pmd
from devices.profiles.gatt import GattParseError
from devices.profiles.polar_pmd import PmdSettings

# Accelerometer, sensor timestamp 2,000,000,000 ns (00 94 35 77 00 00 00 00).
HEADER = bytes.fromhex("020094357700000000")


def test_raw_16_bit_frame_type_1_in_milli_g() -> None:
    # An H10-style frame: 16-bit samples, x y z in milli-g, the strap flat (z ~ 1 g).
    frame = HEADER + bytes.fromhex("01f7ffffffe703f8fffeffe503")
    parsed = polar_pmd.parse_frame(frame)
    assert parsed.timestamp_ns == 2_000_000_000
    assert parsed.samples == ((-9, -1, 999), (-8, -2, 997))
    assert polar_pmd.to_g(parsed, None)[0] == pytest.approx((-0.009, -0.001, 0.999))


def test_raw_8_and_24_bit_frames() -> None:
    eight = polar_pmd.parse_frame(HEADER + bytes.fromhex("00f7ff64"))
    assert eight.samples == ((-9, -1, 100),)
    wide = polar_pmd.parse_frame(HEADER + bytes.fromhex("02f7ffffffffffe80300"))
    assert wide.samples == ((-9, -1, 1000),)


def test_delta_frame_type_1_in_milli_g() -> None:
    # Reference (-15, 20, 1008); one block: 6-bit deltas, 1 sample: 7B 0F 08 packs
    # (-5, -3, 0) least significant bit first.
    frame = bytes.fromhex("02650000000000000081f1ff1400f00306017b0f08")
    parsed = polar_pmd.parse_frame(frame)
    assert parsed.timestamp_ns == 101
    assert parsed.samples == ((-15, 20, 1008), (-20, 17, 1008))


def test_compressed_type_0_frame_scaled_by_the_start_factor() -> None:
    # Verity Sense style: reference (1905, 27376, -29282) in raw units, then a block of 10-bit
    # deltas; the first delta sample is (+190, -105, -85). Factor 2.44e-4 (16 bits, 8 g).
    body = bytes.fromhex("7107f06a9e8d0a01be5cbeba")
    parsed = polar_pmd.parse_frame(HEADER + bytes([0x80]) + body)
    assert parsed.samples == ((1905, 27376, -29282), (2095, 27271, -29367))
    factor = struct.unpack("<f", struct.pack("<f", 2.44e-4))[0]
    in_g = polar_pmd.to_g(parsed, factor)
    assert [int(v * 1000) for v in in_g[0]] == [
        int(factor * v * 1000) for v in (1905, 27376, -29282)
    ]


def test_a_resting_verity_sense_reads_one_g_not_four() -> None:
    # Issue 13: without the factor, raw 4096 read as milli-g is 4.1 g at rest.
    frame = polar_pmd.build_frame(0, [(0, 0, 4096), (1, -1, 4095)], frame_type=0x80)
    parsed = polar_pmd.parse_frame(frame)
    assert polar_pmd.to_g(parsed, 8 / 32768)[0][2] == pytest.approx(1.0)
    assert polar_pmd.to_g(parsed, None)[0][2] == pytest.approx(1.0)  # 8 g at 16 bits


def test_settings_offered_with_many_ranges_and_a_one_byte_channel_count() -> None:
    # 52 Hz; 16 bits; four ranges (245, 500, 1000, 2000); 3 channels (a 1-byte value).
    data = bytes.fromhex("00013400010110000204f500f401e803d007040103")
    assert polar_pmd.parse_settings(data) == PmdSettings(
        rates=(52,), resolutions=(16,), ranges=(245, 500, 1000, 2000), channels=(3,)
    )


def test_control_point_responses() -> None:
    answer = polar_pmd.parse_response(bytes.fromhex("f001020000ffffff"))
    assert (answer.op, answer.measurement, answer.status) == (0x01, 0x02, 0)
    assert answer.parameters == bytes.fromhex("ffffff")
    refused = polar_pmd.parse_response(bytes.fromhex("f001060700"))
    assert (refused.op, refused.measurement, refused.status, refused.parameters) == (1, 6, 7, b"")


def test_get_settings_is_the_op_code_and_the_measurement_type() -> None:
    # A longer command is refused with ERROR_INVALID_PARAMETER (issue #451).
    assert polar_pmd.build_get_settings() == bytes.fromhex("0102")


def test_start_response_carries_the_factor() -> None:
    response = bytes.fromhex("f002020000") + bytes([5, 1]) + struct.pack("<f", 8 / 32768)
    answer = polar_pmd.parse_response(response)
    assert polar_pmd.parse_settings(answer.parameters).factor == 8 / 32768


@pytest.mark.parametrize(
    ("offered", "wanted", "start"),
    [
        # H10: 25-200 Hz, 2/4/8 g, no channel count.
        (PmdSettings((25, 50, 100, 200), (16,), (2, 4, 8)), 50, "0202000132000101100002010800"),
        # Verity Sense: 52 Hz only, 8 g, 3 channels (the old command asked 50 Hz, no channels).
        (PmdSettings((52,), (16,), (8,), (3,)), 50, "0202000134000101100002010800040103"),
        # A model whose widest range is 4 g.
        (PmdSettings((26, 52), (16,), (2, 4)), 100, "0202000134000101100002010400"),
    ],
)
def test_start_asks_for_supported_settings(offered: PmdSettings, wanted: int, start: str) -> None:
    assert polar_pmd.build_start_of(polar_pmd.choose(offered, wanted)).hex() == start


@given(
    samples=st.lists(st.tuples(*[st.integers(-30000, 30000)] * 3), min_size=1, max_size=36),
    frame_type=st.sampled_from([0x01, 0x02, 0x80, 0x81]),
)
def test_every_frame_type_round_trips(samples: list[tuple[int, int, int]], frame_type: int) -> None:
    frame = polar_pmd.build_frame(7, samples, frame_type=frame_type)
    assert polar_pmd.parse_frame(frame).samples == tuple(samples)


def test_unknown_compressed_type_is_a_parse_error() -> None:
    with pytest.raises(GattParseError, match="0x82"):
        polar_pmd.parse_frame(HEADER + bytes([0x82]) + bytes(6))
