"""Device-layer cases from public bug reports (inputs in our own words; see docs/ble.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.profiles import current_time, heart_rate, infinitime, polar_pmd
from devices.profiles.gatt import GattParseError
from devices.readings import HeartRate

NEW_YORK = ZoneInfo("America/New_York")


def test_current_time_is_the_full_ten_bytes_infinitime_1_12_requires() -> None:
    # InfiniTimeOrg/InfiniTime#1724 (and InfiniLink#90): from 1.12 the watch ignores a Current
    # Time write a byte or two short; companion apps writing 7-9 bytes stopped setting it.
    moment = datetime(2026, 4, 2, 9, 30, 15, tzinfo=UTC)
    data = current_time.build_current_time(moment, UTC)
    assert data.hex() == "ea0704020" + "91e0f040002"
    for short in (data[:7], data[:9]):
        with pytest.raises(GattParseError, match="expected 10 bytes"):
            current_time.parse_current_time(short)


def test_the_watch_is_set_at_the_dst_change_to_the_new_local_time() -> None:
    # InfiniTimeOrg/InfiniTime#673: at the spring change the phone went 01:59 -> 03:00 but the
    # watch, given no zone and not rewritten then, showed 02:00 for over an hour.
    change = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 02:00 EST -> 03:00 EDT
    found = current_time.next_zone_change(change - timedelta(hours=1), NEW_YORK, timedelta(hours=6))
    assert found == change
    writes = infinitime._set_clock(change, NEW_YORK)
    lti, cts = (write.build(None) for write in writes)
    assert lti == bytes([(-20) & 0xFF, 4])  # -5 h standard, +1 h DST
    assert current_time.parse_current_time(cts).hour == 3


def test_local_time_information_carries_dst_apart_from_the_standard_offset() -> None:
    # theironrobin/siglo#108: a companion wrote Local Time Information with DST always 0.
    summer = datetime(2026, 7, 1, 16, tzinfo=UTC)
    info = current_time.local_time_info(summer, NEW_YORK)
    assert current_time.build_local_time_information(info) == bytes.fromhex("ec04")


def test_pmd_features_read_from_the_control_point() -> None:
    # polarofficial/polar-ble-sdk#360: reading the control point always gives the features,
    # 0f 05 00 ...: bits 0 and 2, ECG and accelerometer (an H10).
    data = bytes.fromhex("0f05" + "00" * 15)
    assert polar_pmd.parse_features(data) == {"ecg", "acc"}


def test_a_control_point_read_is_not_a_command_answer() -> None:
    # polarofficial/polar-ble-sdk#249: a client read the control point after each command and
    # always got 0f 6e 02 ... (the features); answers come only as indications (f0 ...).
    with pytest.raises(GattParseError, match="0x0f"):
        polar_pmd.parse_response(bytes.fromhex("0f6e02" + "00" * 14))
    assert polar_pmd.parse_features(bytes.fromhex("0f6e02")) >= {"ppg", "acc", "ppi"}
    assert polar_pmd.parse_response(bytes.fromhex("f002030000")).status == 0


def test_an_unused_range_setting_and_an_unusual_resolution() -> None:
    # polarofficial/polar-ble-sdk#691: setting type 3 (range in milli-units, 4-byte values) is
    # no longer used but may come; each type's values have their own width.
    data = bytes.fromhex("0302ffffffffff00000001010e00")
    settings = polar_pmd.parse_settings(data)
    assert settings.resolutions == (14,)
    assert settings.ranges == ()


def test_a_corrupted_step_count_parses_and_is_left_to_the_counter_logic() -> None:
    # InfiniTimeOrg/InfiniTime#928: a log line showed the characteristic as 08 00 00 00 (8
    # steps); the user's app showed 536 million steps by midday (2**29 and a few).
    assert infinitime.parse_step_count(bytes.fromhex("08000000")).total == 8
    assert infinitime.parse_step_count((2**29 + 5000).to_bytes(4, "little")).total == 2**29 + 5000


def test_a_heart_rate_measurement_as_a_watch_logged_it() -> None:
    # piggz/harbour-amazfish#181: a log shows Heart Rate Measurement changes as "\x00O":
    # flags 0 (8-bit rate, no contact, energy or RR fields), 0x4F = 79 bpm.
    assert heart_rate.parse_measurement(b"\x00O") == HeartRate(79)
