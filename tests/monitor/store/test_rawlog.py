"""The raw log's encoding: every reading comes back exactly; damaged rows are typed errors."""

from __future__ import annotations

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
from monitor.store.rawlog import decode, from_micros, pack, to_micros, unpack

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
    st.builds(LinkState, st.booleans(), st.text(max_size=20)),
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
