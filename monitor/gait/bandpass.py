"""The detector's band-pass filter, exact and without scipy at run time.

Importing scipy.signal costs a long-running service about 70 MB of memory and half a second
of start-up, for one small filter. The filter is the same 4th-order IIR (two biquads, direct
form II transposed, as scipy.signal.sosfilt runs it), computed in chunks of CHUNK grid values
by matrices worked out once from the recurrence itself: each chunk's outputs are one fixed
matrix-vector product of its inputs and of the filter state at its start. A chunk is always
computed whole (the inputs not yet seen are zeros, which the triangular matrix never uses), so
every output is the same arithmetic whatever the blocks the values arrive in: streaming stays
identical to batch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# scipy.signal.butter(2, (0.4, 4.0), btype="bandpass", fs=20, output="sos"): the band keeps the
# stride of the slowest gait counted and the step of the quickest (see engine.BAND_HZ); the test
# suite checks these against scipy.
SOS: tuple[tuple[float, ...], ...] = (
    (0.17508764367210083, 0.35017528734420167, 0.17508764367210083,
     1.0, -0.47338545635197216, 0.2607010831459818),
    (1.0, -2.0, 1.0, 1.0, -1.8256698996865246, 0.8425510982273042),
)  # fmt: skip
# scipy.signal.sosfilt_zi(SOS), flattened: the state of a filter that has seen 1.0 for ever.
ZI_UNIT: tuple[float, ...] = (
    0.7144546832600693,
    -0.05681700446331294,
    -0.8895423269321672,
    0.8895423269321677,
)
STATE_SIZE = len(ZI_UNIT)

# Grid values per chunk: 3.2 s at 20 Hz. Larger chunks mean fewer, bigger products.
CHUNK = 64


def _recurrence(x: list[float], state: list[float]) -> tuple[list[float], list[float]]:
    """The cascade run sample by sample (direct form II transposed), as the reference."""
    z = list(state)
    out: list[float] = []
    for value in x:
        v = value
        for s, (b0, b1, b2, _, a1, a2) in enumerate(SOS):
            y = b0 * v + z[2 * s]
            z[2 * s] = b1 * v - a1 * y + z[2 * s + 1]
            z[2 * s + 1] = b2 * v - a2 * y
            v = y
        out.append(v)
    return out, z


def _matrices() -> tuple[NDArray[np.float64], ...]:
    """The chunk's linear maps: outputs from inputs and from the state; end state likewise."""
    from_input = np.zeros((CHUNK, CHUNK))
    end_from_input = np.zeros((STATE_SIZE, CHUNK))
    for j in range(CHUNK):
        impulse = [0.0] * CHUNK
        impulse[j] = 1.0
        y, z = _recurrence(impulse, [0.0] * STATE_SIZE)
        from_input[:, j] = y
        end_from_input[:, j] = z
    from_state = np.zeros((CHUNK, STATE_SIZE))
    end_from_state = np.zeros((STATE_SIZE, STATE_SIZE))
    for i in range(STATE_SIZE):
        unit = [0.0] * STATE_SIZE
        unit[i] = 1.0
        y, z = _recurrence([0.0] * CHUNK, unit)
        from_state[:, i] = y
        end_from_state[:, i] = z
    return from_input, from_state, end_from_input, end_from_state


def _stacked() -> NDArray[np.float64]:
    """One matrix from [chunk inputs; state at its start] to [chunk outputs; state at its end]."""
    from_input, from_state, end_from_input, end_from_state = _matrices()
    return np.block([[from_input, from_state], [end_from_input, end_from_state]])


_CHUNK_MAP = _stacked()


class BandPass:
    """The band-pass filter for one signal, fed in blocks of any size."""

    __slots__ = ("_pending", "_state")

    def __init__(self) -> None:
        self._state = np.zeros(STATE_SIZE)  # at the start of the current chunk
        self._pending = np.zeros(0)  # the current chunk's inputs so far (fewer than CHUNK)

    def restart(self, first_value: float) -> None:
        """Start again in the steady state for `first_value`: no transient at a signal's start."""
        self._state = np.asarray(ZI_UNIT) * first_value
        self._pending = np.zeros(0)

    def filter(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """The filtered values, one for each value given."""
        pending = np.concatenate((self._pending, values))
        done = self._pending.size
        chunks = -(-pending.size // CHUNK)
        out = np.empty(chunks * CHUNK)
        vector = np.zeros(CHUNK + STATE_SIZE)
        for index in range(chunks):
            chunk = pending[index * CHUNK : (index + 1) * CHUNK]
            vector[: chunk.size] = chunk
            vector[chunk.size : CHUNK] = 0.0
            vector[CHUNK:] = self._state
            result = _CHUNK_MAP @ vector
            out[index * CHUNK : (index + 1) * CHUNK] = result[:CHUNK]
            if chunk.size == CHUNK:
                self._state = result[CHUNK:]
        tail = pending.size % CHUNK
        self._pending = pending[pending.size - tail :].copy() if tail else np.zeros(0)
        return out[done : pending.size]

    def state(self) -> NDArray[np.float64]:
        """The filter's state as one array, for saving: chunk-start state, then pending inputs."""
        return np.concatenate((self._state, self._pending))

    @classmethod
    def from_state(cls, saved: NDArray[np.float64]) -> BandPass:
        """The filter saved by `state`; ValueError if it cannot be one."""
        if not STATE_SIZE <= saved.size < STATE_SIZE + CHUNK:
            raise ValueError("malformed band-pass state")
        self = cls()
        self._state = saved[:STATE_SIZE].copy()
        self._pending = saved[STATE_SIZE:].copy()
        return self
