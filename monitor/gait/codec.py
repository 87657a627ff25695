"""A compact binary form of the detector's state, field by field, to keep it across restarts."""

from __future__ import annotations

import struct

import numpy as np
from numpy.typing import NDArray

from monitor.errors import ParseError


class GaitStateError(ParseError):
    """Bytes that are not a gait state this version can read; start a fresh detector instead."""


_COUNT = struct.Struct("<I")


class StateWriter:
    """Appends typed fields; `getvalue` returns the bytes."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes) -> None:
        """Append bytes as they are (a fixed-size header)."""
        self._parts.append(data)

    def ints(self, *values: int) -> None:
        """Append signed 64-bit integers."""
        self._parts.append(struct.pack(f"<{len(values)}q", *values))

    def floats(self, *values: float) -> None:
        """Append 64-bit floats (bit-exact)."""
        self._parts.append(struct.pack(f"<{len(values)}d", *values))

    def int_array(self, values: NDArray[np.int64]) -> None:
        """Append a length and the little-endian 64-bit integers."""
        self._parts.append(_COUNT.pack(values.size))
        self._parts.append(np.ascontiguousarray(values, "<i8").tobytes())

    def float_array(self, values: NDArray[np.float64]) -> None:
        """Append a length and the little-endian 64-bit floats."""
        self._parts.append(_COUNT.pack(values.size))
        self._parts.append(np.ascontiguousarray(values, "<f8").tobytes())

    def getvalue(self) -> bytes:
        """Everything appended so far."""
        return b"".join(self._parts)


class StateReader:
    """Reads fields in the order a `StateWriter` wrote them; a mismatch raises `GaitStateError`."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def _take(self, size: int) -> memoryview:
        end = self._pos + size
        if size < 0 or end > len(self._data):
            raise GaitStateError("gait state is truncated")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def raw(self, size: int) -> bytes:
        """Read `size` bytes."""
        return bytes(self._take(size))

    def ints(self, count: int) -> tuple[int, ...]:
        """Read `count` signed 64-bit integers."""
        return struct.unpack(f"<{count}q", self._take(8 * count))

    def floats(self, count: int) -> tuple[float, ...]:
        """Read `count` 64-bit floats."""
        return struct.unpack(f"<{count}d", self._take(8 * count))

    def _count(self, limit: int) -> int:
        (n,) = _COUNT.unpack(self._take(_COUNT.size))
        if n > limit:
            raise GaitStateError(f"gait state holds an array of {n} items, more than {limit}")
        return int(n)

    def int_array(self, limit: int) -> NDArray[np.int64]:
        """Read an integer array of at most `limit` items."""
        n = self._count(limit)
        return np.frombuffer(self._take(8 * n), "<i8").astype(np.int64)

    def float_array(self, limit: int) -> NDArray[np.float64]:
        """Read a float array of at most `limit` items."""
        n = self._count(limit)
        return np.frombuffer(self._take(8 * n), "<f8").astype(np.float64)

    def finish(self) -> None:
        """Check that every byte was read."""
        if self._pos != len(self._data):
            raise GaitStateError("gait state has trailing bytes")
