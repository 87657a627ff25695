"""The raw log's encoding: every reading comes back exactly; damaged rows are typed errors."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.readings import (
    Battery,
    CounterEpoch,
    HeartRate,
    LinkState,
    Motion,
    Reading,
    RunningCadence,
    StepCount,
)
from monitor.errors import ParseError
from monitor.store.rawlog import decode, from_micros, pack, pack_stored, to_micros, unpack

T0 = datetime(2026, 11, 24, 10, tzinfo=UTC)
# float32 holds these exactly: what wearables send (int16 milli-g / 1024).
_g = st.integers(-32768, 32767).map(lambda raw: raw / 1024)
_values = st.one_of(
    st.builds(
        StepCount,
        st.integers(0, 2**32 - 1),
        st.sampled_from(CounterEpoch),
        st.none() | st.integers(0, 2**32 - 1),
    ),
    st.builds(Battery, st.integers(0, 100)),
    st.builds(
        HeartRate,
        st.integers(0, 300),
        st.none() | st.booleans(),
        st.none() | st.integers(0, 65535),
        st.lists(st.floats(0, 3000, allow_nan=False), max_size=4).map(tuple),
    ),
    st.builds(
        RunningCadence,
        st.integers(0, 255),
        st.floats(0, 20, allow_nan=False),
        st.booleans(),
        st.none() | st.floats(0, 3, allow_nan=False),
        st.none() | st.floats(0, 1e6, allow_nan=False),
    ),
    st.builds(LinkState, st.booleans(), st.text(max_size=20), st.none() | st.text(max_size=20)),
    st.builds(
        Motion,
        st.lists(st.tuples(_g, _g, _g), min_size=1, max_size=5).map(tuple),
        st.sampled_from([10.0, 50.0]),
    ),
)


@given(
    st.lists(
        st.tuples(st.sampled_from(["watch", "band"]), st.integers(0, 10**9), _values), max_size=20
    )
)
def test_every_batch_of_readings_comes_back_exactly(entries: list[tuple[str, int, object]]) -> None:
    readings = [
        Reading("p1", device, T0 + timedelta(microseconds=us), value)  # type: ignore[arg-type]
        for device, us, value in entries
    ]
    back = [r for row in pack(readings) for r in unpack(*row)]
    assert sorted(back, key=repr) == sorted(readings, key=repr)


@given(st.integers(0, 253_402_300_799_999_999))  # up to the last instant of year 9999
def test_microseconds_round_trip(micros: int) -> None:
    assert to_micros(from_micros(micros)) == micros


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("step_count", b"{}"),
        ("step_count", b"not json"),
        ("battery", b'{"percent": "x"}'),
        ("motion", b"\x01\x02"),
        ("motion", b"\x00" * 8 + b"\x05\x00" + b"\x00\x00\x20\x41"),
        ("teleport", b"{}"),
    ],
)
def test_a_damaged_row_is_a_parse_error(kind: str, payload: bytes) -> None:
    with pytest.raises(ParseError):
        decode(kind, payload)


_any_g = st.floats(-16.0, 16.0, allow_nan=False)  # float64 values float32 cannot all hold
_motion = st.builds(
    Motion,
    st.lists(st.tuples(_any_g, _any_g, _any_g), min_size=1, max_size=5).map(tuple),
    st.sampled_from([10.0, 12.5, 52.0, 26.3]),
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["watch", "band"]), st.integers(-(10**8), 10**9), _values | _motion
        ),
        max_size=30,
    )
)
def test_what_is_processed_live_is_exactly_what_the_raw_log_gives_back(
    entries: list[tuple[str, int, object]],
) -> None:
    readings = [
        Reading("p1", device, T0 + timedelta(microseconds=us), value)  # type: ignore[arg-type]
        for device, us, value in entries
    ]
    rows, stored = pack_stored(readings)
    assert stored == [r for row in rows for r in unpack(*row)]


def test_rows_written_before_v2_still_read_back() -> None:
    first = Motion(((0.5, -0.25, 1.0),), 52.0)
    second = Motion(((0.0, 0.0, 1.0), (0.125, 0.0, 0.75)), 52.0)
    # The v1 layout: (offset us int64, samples uint16, rate float32) then float32 samples.
    v1 = b"".join(
        struct.pack("<qHf", offset, len(m.samples), m.rate_hz)
        + b"".join(struct.pack("<fff", *s) for s in m.samples)
        for offset, m in ((0, first), (20_000, second))
    )
    back = unpack("p1", "band", to_micros(T0), "motion", v1)
    assert back == [
        Reading("p1", "band", T0, first),
        Reading("p1", "band", T0 + timedelta(microseconds=20_000), second),
    ]


def test_a_second_of_10_hz_motion_costs_little_more_than_its_samples() -> None:
    readings = [
        Reading(
            "p1", "band", T0 + timedelta(milliseconds=100 * i), Motion(((0.0, 0.0, 1.0),), 10.0)
        )
        for i in range(10)
    ]
    (row,) = pack(readings)
    samples = 10 * 12
    # 1 version byte, 1 of how many, the rate once (4), per notification 1 byte of samples and
    # 3 of time since the one before (1 for the first): 164 bytes where v1 took 260.
    assert len(row[4]) == 1 + 1 + 4 + samples + 10 + 1 + 9 * 3
