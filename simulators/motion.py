"""Synthetic body-worn acceleration with known truth.

Walking at a given cadence and placement (wrist, hip, trouser pocket, lower back) with the
variability of real gait, and the everyday movements a step detector must not count: arm
gestures, typing, brushing teeth, a car or bus ride, a device put down and picked up. Segments
can be strung together into mixtures; the recording carries the true step times.

Body motion is built on a fine uniform grid in the world frame (z up, x forward, y left),
turned into what a device mounted on that body part measures (gravity included, in its own
rotating frame), low-passed like a real sensor's output stage, then sampled at the requested
rate with jitter, dropped packets, calibration error and noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy import signal

Array = NDArray[np.float64]
G = 9.80665  # m/s^2 per g


class Placement(StrEnum):
    """Where the device is worn."""

    WRIST = "wrist"
    HIP = "hip"  # clipped to the belt at the side
    POCKET = "pocket"  # front trouser pocket, riding on the thigh
    LOWER_BACK = "lower_back"  # clipped at the small of the back


class Activity(StrEnum):
    """What the wearer is doing during a segment."""

    WALKING = "walking"
    STILL = "still"
    ARM_GESTURES = "arm_gestures"
    TYPING = "typing"
    BRUSHING_TEETH = "brushing_teeth"
    VEHICLE = "vehicle"
    PUT_DOWN_PICK_UP = "put_down_pick_up"


NON_WALKING: tuple[Activity, ...] = (
    Activity.ARM_GESTURES,
    Activity.TYPING,
    Activity.BRUSHING_TEETH,
    Activity.VEHICLE,
    Activity.PUT_DOWN_PICK_UP,
)
"""The activities that must give no steps."""


@dataclass(frozen=True, slots=True)
class Segment:
    """`seconds` of one activity; `cadence_spm` and `turns_at_s` are used by walking only."""

    activity: Activity
    seconds: float
    cadence_spm: float = 100.0
    turns_at_s: tuple[float, ...] = ()
    """Times (s from the segment's start) at which the walker makes a U-turn without stopping."""


@dataclass(frozen=True, slots=True)
class Sampling:
    """How the device samples: rate, timestamp jitter, and BLE packets lost."""

    rate_hz: float = 50.0
    jitter: float = 0.1
    """Standard deviation of timestamp jitter, as a fraction of the sample interval."""
    dropouts_per_min: float = 0.0
    dropout_s: float = 0.25
    """Mean length of a lost stretch (exponentially distributed)."""
    lowpass: float = 0.35
    """Cut-off of the sensor's low-pass before sampling, as a fraction of its rate (most
    sensors filter at about a third of it); 0 for none: samples are picked from the motion as
    it is, impacts and all, and what lies above half the rate folds down (cheap wrist devices,
    and decimation by dropping samples)."""


@dataclass(frozen=True, slots=True)
class Walker:
    """How the simulated person walks; `from_seed` draws a plausible one."""

    stride_cv: float = 0.025
    """Stride-to-stride variability of stride time (healthy 0.02-0.03, impaired up to 0.06)."""
    step_asymmetry: float = 0.03
    """Left and right step times differ by this fraction (antalgic gait: up to 0.1)."""
    impact_asymmetry: float = 0.1
    """Left and right heel strikes differ in strength by this fraction."""
    vigour: float = 1.0
    """Scales body acceleration (people differ about twofold at the same cadence)."""
    arm_swing: float = 1.0
    """Scales arm swing (guarded gait with back pain swings the arms less)."""
    second_harmonic: float = 0.35
    """Relative strength of the vertical second harmonic (the double bump of each step)."""
    arm_offset_deg: float = 0.0
    """Forward angle the forearm swings about (0: hanging straight). A bent elbow tilts the
    swing, so its pull has a vertical part at the stride frequency: at the wrist the norm's
    strongest rhythm is then the stride, half the step rate."""

    @classmethod
    def shuffler(cls) -> Walker:
        """A guarded, slow, shuffling gait (acute back pain): feeble, irregular, arms held."""
        return cls(
            stride_cv=0.06,
            step_asymmetry=0.08,
            impact_asymmetry=0.3,
            vigour=0.5,
            arm_swing=0.3,
            second_harmonic=0.5,
        )

    @classmethod
    def arm_swinger(cls) -> Walker:
        """A slow walker whose watch sees mostly the arm's swing at the stride frequency."""
        return cls(vigour=0.6, arm_swing=1.5, arm_offset_deg=35.0)

    @classmethod
    def from_seed(cls, rng: np.random.Generator) -> Walker:
        """A person drawn from ranges reported for adults, with and without back pain."""
        return cls(
            stride_cv=float(rng.uniform(0.015, 0.05)),
            step_asymmetry=float(rng.uniform(0.0, 0.08)),
            impact_asymmetry=float(rng.uniform(0.0, 0.4)),
            vigour=float(rng.uniform(0.7, 1.3)),
            arm_swing=float(rng.uniform(0.3, 1.2)),
            second_harmonic=float(rng.uniform(0.1, 0.6)),
        )


@dataclass(frozen=True, slots=True, eq=False)
class Recording:
    """A simulated recording: sample times (s), acceleration (N x 3, g) and the truth."""

    t: Array
    xyz: Array
    step_times: Array
    walks: tuple[tuple[float, float, float], ...]
    """Each walking segment as (start s, end s, cadence steps/min)."""
    placement: Placement

    @property
    def steps(self) -> int:
        """True number of steps."""
        return int(self.step_times.size)


# Sensor imperfections of a consumer MEMS accelerometer after factory calibration.
_NOISE_G = 0.004
_GAIN_ERROR = 0.01
_OFFSET_ERROR_G = 0.01
_FINE_HZ = 400.0  # the grid body motion is built on before sampling

_Generator = Callable[["_Context"], tuple[Array, Array, Array]]
"""Returns kinematic acceleration (n x 3, world frame, g), device rotation (n x 3 x 3, device
to world) and step times, on the context's grid."""


@dataclass(frozen=True, slots=True)
class _Context:
    tau: Array  # fine grid times from the segment start
    seconds: float
    cadence: float
    turns_at: tuple[float, ...]
    placement: Placement
    walker: Walker
    rng: np.random.Generator


def simulate(
    segments: Sequence[Segment],
    placement: Placement,
    *,
    seed: int,
    sampling: Sampling | None = None,
    walker: Walker | None = None,
    start_s: float = 0.0,
) -> Recording:
    """Simulate `segments` one after the other, as measured by a device at `placement`."""
    sampling = sampling or Sampling()
    rng = np.random.default_rng(seed)
    walker = walker or Walker.from_seed(rng)
    fine_parts: list[Array] = []
    time_parts: list[Array] = []
    steps: list[Array] = []
    walks: list[tuple[float, float, float]] = []
    begin = start_s
    for segment in segments:
        n = max(2, round(segment.seconds * _FINE_HZ))
        tau = np.arange(n) / _FINE_HZ
        ctx = _Context(
            tau, segment.seconds, segment.cadence_spm, segment.turns_at_s, placement, walker, rng
        )
        acc, rot, seg_steps = _GENERATORS[segment.activity](ctx)
        # What the device measures: kinematic acceleration plus 1 g up, in its own frame.
        world = acc + np.array([0.0, 0.0, 1.0])
        fine_parts.append(np.einsum("nji,nj->ni", rot, world))
        time_parts.append(begin + tau)
        steps.append(begin + seg_steps)
        if segment.activity is Activity.WALKING:
            walks.append((begin, begin + segment.seconds, segment.cadence_spm))
        begin += segment.seconds
    fine_t = np.concatenate(time_parts)
    fine = np.concatenate(fine_parts)
    t = _sample_times(start_s, begin, sampling, rng)
    # The sensor's output stage low-passes at about a third of its rate, as most real ones do;
    # without it only the fine grid's own limit remains.
    cutoff = sampling.lowpass * sampling.rate_hz if sampling.lowpass > 0 else 0.45 * _FINE_HZ
    sos = signal.butter(4, min(cutoff, 0.45 * _FINE_HZ), fs=_FINE_HZ, output="sos")
    fine = signal.sosfiltfilt(sos, fine, axis=0)
    xyz = np.column_stack([np.interp(t, fine_t, fine[:, i]) for i in range(3)])
    gain = 1.0 + rng.normal(0.0, _GAIN_ERROR, 3)
    offset = rng.normal(0.0, _OFFSET_ERROR_G, 3)
    xyz = xyz * gain + offset + rng.normal(0.0, _NOISE_G, xyz.shape)
    all_steps = np.concatenate(steps) if steps else np.empty(0)
    return Recording(t, xyz, np.sort(all_steps), tuple(walks), placement)


def _sample_times(start: float, end: float, sampling: Sampling, rng: np.random.Generator) -> Array:
    dt = 1.0 / sampling.rate_hz
    nominal = start + dt * np.arange(int((end - start) * sampling.rate_hz))
    jitter = rng.normal(0.0, sampling.jitter * dt, nominal.size).clip(-0.45 * dt, 0.45 * dt)
    t: Array = nominal + jitter
    keep = np.ones(t.size, dtype=bool)
    lost = rng.poisson(sampling.dropouts_per_min * (end - start) / 60.0)
    for at in rng.uniform(start, end, lost):
        keep &= ~((t >= at) & (t < at + rng.exponential(sampling.dropout_s)))
    return t[keep]


# --- rotations -------------------------------------------------------------------------------


def _axis_rotation(axis: int, angle: Array) -> NDArray[np.float64]:
    """Rotation matrices (n x 3 x 3) about a body axis (0 x, 1 y, 2 z) by `angle` radians."""
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros((angle.size, 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r[:, axis, axis] = 1.0
    r[:, i, i] = c
    r[:, j, j] = c
    r[:, i, j] = -s
    r[:, j, i] = s
    return r


def _random_rotation(rng: np.random.Generator) -> NDArray[np.float64]:
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _mount(rng: np.random.Generator, n: int, tilt_deg: float) -> NDArray[np.float64]:
    """A fixed mounting rotation: any yaw, then tilted up to `tilt_deg`, repeated n times."""
    yaw = _axis_rotation(2, np.array([rng.uniform(0, 2 * np.pi)]))[0]
    tilt = np.deg2rad(rng.uniform(-tilt_deg, tilt_deg, 2))
    pitch = _axis_rotation(1, tilt[:1])[0]
    roll = _axis_rotation(0, tilt[1:])[0]
    return np.broadcast_to(yaw @ pitch @ roll, (n, 3, 3)).copy()


def _fixed(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    return np.broadcast_to(_random_rotation(rng), (n, 3, 3)).copy()


# --- shared motion primitives ------------------------------------------------------------------


def _span(tau: Array, start: float, end: float) -> slice:
    """The grid indices from `start` to `end` (s)."""
    lo, hi = np.searchsorted(tau, [start, end])
    return slice(int(lo), int(hi))


class _Moves:
    """Minimum-jerk moves and turns added up on a grid (each touches only its own span)."""

    def __init__(self, tau: Array) -> None:
        self.tau = tau
        self.acc = np.zeros((tau.size, 3))
        self._angles = np.zeros((tau.size, 3))
        self._settled = np.zeros((tau.size + 1, 3))  # turns completed, added from their end on

    def add(self, at: float, duration: float, displacement_m: Array, turn_rad: Array) -> None:
        span = _span(self.tau, at, at + duration)
        part = self.tau[span]
        self.acc[span] += np.outer(_min_jerk_acc(part, at, duration), displacement_m / G)
        self._angles[span] += np.outer(_min_jerk_pos(part, at, duration), turn_rad)
        self._settled[span.stop] += turn_rad

    @property
    def angles(self) -> Array:
        """The accumulated turn about each axis (rad)."""
        settled: Array = np.cumsum(self._settled, axis=0)[:-1]
        return self._angles + settled


def _min_jerk_acc(tau: Array, start: float, duration: float) -> Array:
    """Acceleration profile (per unit displacement) of a minimum-jerk move, zero outside it."""
    s = (tau - start) / duration
    inside = (s >= 0) & (s <= 1)
    return np.where(inside, (60 * s - 180 * s**2 + 120 * s**3) / duration**2, 0.0)


def _min_jerk_pos(tau: Array, start: float, duration: float) -> Array:
    s = np.clip((tau - start) / duration, 0.0, 1.0)
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def _narrowband(rng: np.random.Generator, n: int, freq: float, damping: float, rms: float) -> Array:
    """Noise through a resonance at `freq` Hz with damping ratio `damping`, scaled to `rms`."""
    w = 2 * np.pi * freq / _FINE_HZ
    r = np.exp(-damping * w)
    x = signal.lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], rng.normal(size=n))
    return np.asarray(x * rms / max(float(np.std(x)), 1e-12))


def _band_noise(rng: np.random.Generator, n: int, low: float, high: float, rms: float) -> Array:
    sos = signal.butter(2, [low, high], btype="bandpass", fs=_FINE_HZ, output="sos")
    x = signal.sosfilt(sos, rng.normal(size=n))
    return np.asarray(x * rms / max(float(np.std(x)), 1e-12))


def _tremor(ctx: _Context, rms: float) -> Array:
    """Physiological tremor and postural sway of a hand or body held still."""
    n = ctx.tau.size
    return np.column_stack([_band_noise(ctx.rng, n, 0.3, 12.0, rms) for _ in range(3)])


def _still_pose(ctx: _Context) -> NDArray[np.float64]:
    if ctx.placement is Placement.WRIST:
        return _fixed(ctx.rng, ctx.tau.size)
    return _mount(ctx.rng, ctx.tau.size, 25.0)


# --- walking -------------------------------------------------------------------------------


def _step_times(ctx: _Context) -> Array:
    """Heel strikes: stride times vary (AR(1) around the mean), left and right alternate."""
    rng, w = ctx.rng, ctx.walker
    step = 60.0 / ctx.cadence
    times: list[float] = []
    t = rng.uniform(0.1, 0.6) * step
    drift = 0.0
    i = 0
    while t < ctx.seconds:
        times.append(t)
        if i % 2 == 0:
            drift = 0.6 * drift + rng.normal(0.0, w.stride_cv * np.sqrt(1 - 0.36))
        side = 1.0 if i % 2 == 0 else -1.0
        t += step * (1.0 + drift + side * w.step_asymmetry / 2)
        i += 1
    return np.array(times)


# Heel strikes are sharp: 10-20 ms jolts that carry more acceleration than the step's bounce.
# In real recordings the norm's RMS above 6.25 Hz is 0.34-1.2 times its RMS in the gait band
# (0.4-4 Hz) at the lower back (IPOL, median 0.68), 0.8-1.1 in trouser pockets and 0.1-0.45
# elsewhere on the body (Oxford); tests/simulators/test_motion.py keeps the simulator in range.
_IMPACT_WIDTH_S = 0.012
_IMPACT_SHARE = 4.5
# Log-normal sigma of a jolt's strength from step to step (real lower back: CV 0.13-0.42).
_IMPACT_SPREAD = 0.25
_RING_HZ = (10.0, 30.0)
_RING_S = (0.02, 0.06)
_RING_SHARE = 0.8
_TURN_S = 1.8  # a U-turn at usual speed (IPOL lower-back trials: 1.4-2.4 s)
_TURN_GAIN = 0.35


def _bump(tau: Array, centre: float, width: float) -> Array:
    """A smooth 0-1-0 window `width` s wide centred on `centre` (raised cosine)."""
    x = np.clip((tau - centre) / width, -0.5, 0.5)
    out: Array = 0.5 + 0.5 * np.cos(2 * np.pi * x)
    return out


def _walk(ctx: _Context) -> tuple[Array, Array, Array]:
    acc, rot, strikes = _walk_straight(ctx)
    if not ctx.turns_at:
        return acc, rot, strikes
    yaw = np.zeros(ctx.tau.size)
    for at in ctx.turns_at:
        yaw += np.pi * _min_jerk_pos(ctx.tau, at - _TURN_S / 2, _TURN_S)
    # The body, and the device with it, turns about the vertical: world-frame motion after the
    # turn runs the other way.
    turn = _axis_rotation(2, yaw)
    acc = np.einsum("nij,nj->ni", turn, acc)
    return acc, np.einsum("nij,njk->nik", turn, rot), strikes


def _walk_straight(ctx: _Context) -> tuple[Array, Array, Array]:
    rng, w, tau = ctx.rng, ctx.walker, ctx.tau
    strikes = _step_times(ctx)
    if strikes.size < 2:
        return _still(ctx)
    # Step phase: 0 at the first heel strike, +1 at each one after.
    index = np.arange(strikes.size, dtype=np.float64)
    first_rate = 1.0 / (strikes[1] - strikes[0])
    phase = np.interp(tau, strikes, index, left=np.nan, right=np.nan)
    before = tau < strikes[0]
    phase[before] = (tau[before] - strikes[0]) * first_rate
    after = tau > strikes[-1]
    phase[after] = index[-1] + (tau[after] - strikes[-1]) / (strikes[-1] - strikes[-2])
    rate = np.gradient(phase, tau)  # steps per second

    speed = ctx.cadence / 110.0
    vertical = 0.25 * w.vigour * speed**2.5  # g; about 0.05 at 60 steps/min, 0.25 at 110
    # Gait initiation and termination: the body is still before the first step and after the
    # last, the first steps are weaker (about half, then four fifths of steady walking) and so
    # is the last one.
    knots = np.arange(-1, strikes.size + 1)
    ramp_at = np.ones(knots.size)
    ramp_at[[0, -1]] = 0.0
    ramp_at[1:3] = np.minimum(ramp_at[1:3], (0.5, 0.8)[: ramp_at[1:3].size])
    ramp_at[-3:-1] = np.minimum(ramp_at[-3:-1], (0.85, 0.6)[-ramp_at[-3:-1].size :])
    ramp = np.interp(phase, knots, ramp_at)
    per_step = ramp_at * (1.0 + 0.1 * rng.normal(size=knots.size))
    per_step[::2] *= 1.0 + w.impact_asymmetry / 2
    per_step[1::2] *= 1.0 - w.impact_asymmetry / 2
    envelope = np.interp(phase, knots, per_step)
    # U-turns: for about 1.8 s (three or four steps) the steps are short and pivoting, the
    # trunk bounces about a third as much (a tenth of the energy), and the body yaws 180 degrees.
    turning = np.zeros(tau.size)
    for at in ctx.turns_at:
        turning = np.maximum(turning, _bump(tau, at, _TURN_S))
    envelope = envelope * (1.0 - (1.0 - _TURN_GAIN) * turning)
    p2 = 2 * np.pi * phase
    h2_phase = rng.uniform(0, 2 * np.pi)
    a_v = vertical * envelope * (np.cos(p2) + w.second_harmonic * np.cos(2 * p2 + h2_phase))
    a_ap = 0.6 * vertical * envelope * (np.sin(p2 + 0.5) + 0.3 * np.cos(2 * p2))
    a_ml = 0.4 * vertical * ramp * np.sin(np.pi * phase + rng.uniform(0, 2 * np.pi))
    trunk = np.column_stack([a_ap, a_ml, a_v])

    side = np.where(np.arange(strikes.size) % 2 == 0, 1.0, -1.0)  # +1 the device's side
    width = _IMPACT_WIDTH_S
    n = tau.size
    own = np.zeros(n)
    other = np.zeros(n)
    # Real jolts are not alike: each heel strike lands differently, and what it sets ringing
    # (soft tissue, a phone rattling in a pocket) rings at its own 10-30 Hz for 20-60 ms,
    # unlocked from the step. Sampled without an anti-alias filter this folds into the gait
    # band as noise, not as a copy of the step (real lower-back walks picked to 12.5 Hz lose
    # up to 0.4 of their step correlation, median 0.12). Drawn from a stream of their own, so
    # every other draw of the simulation is as before.
    ring_rng = np.random.default_rng([strikes.size, abs(round(1e6 * float(strikes[0])))])
    strength = ring_rng.lognormal(0.0, _IMPACT_SPREAD, strikes.size)
    ring_hz = ring_rng.uniform(*_RING_HZ, strikes.size)
    ring_s = ring_rng.uniform(*_RING_S, strikes.size)
    ring_phase = ring_rng.uniform(0.0, 2 * np.pi, strikes.size)
    for k, (s, sd, gain) in enumerate(zip(strikes, side, ramp_at[1:-1], strict=True)):
        lo, hi = np.searchsorted(tau, [s - 4 * width, s + 4 * ring_s[k]])
        dt = tau[lo:hi] - s
        pulse = np.exp(-0.5 * (dt / width) ** 2)
        ring = np.exp(-np.maximum(dt, 0.0) / ring_s[k]) * np.sin(
            2 * np.pi * ring_hz[k] * dt + ring_phase[k]
        )
        ring[dt < 0] = 0.0
        pulse = gain * strength[k] * ((1.0 - _RING_SHARE) * pulse + _RING_SHARE * ring)
        (own if sd > 0 else other)[lo:hi] += pulse
    impact_g = _IMPACT_SHARE * vertical * w.vigour
    # Turning steps are short pivots: their heel strikes soften as much as the bounce.
    softened = 1.0 - (1.0 - _TURN_GAIN) * turning
    own *= softened
    other *= softened

    if ctx.placement is Placement.WRIST:
        return _walk_wrist(ctx, trunk, phase, rate, ramp, impact_g * (own + other), strikes)
    if ctx.placement is Placement.POCKET:
        # The thigh takes the heel strike undamped by the spine: about twice the trunk's jolt
        # (phones in trouser pockets, Oxford: power above 6.25 Hz as large as the gait band's).
        impacts = 2.0 * impact_g * (1.5 * own + 0.5 * other)
        return _walk_pocket(ctx, trunk, phase, rate, ramp, impacts, strikes)
    if ctx.placement is Placement.HIP:
        trunk[:, 2] += impact_g * (1.3 * own + 0.7 * other)
        trunk[:, 1] *= 1.5
        sway = np.deg2rad(5.0) * ramp * np.sin(np.pi * phase)
        rot = np.einsum("nij,njk->nik", _axis_rotation(2, sway), _mount(rng, n, 20.0))
        return trunk, rot, strikes
    trunk[:, 2] += impact_g * (own + other)
    pitch = np.deg2rad(2.0) * ramp * np.cos(2 * np.pi * phase)
    roll = np.deg2rad(3.0) * ramp * np.sin(np.pi * phase)
    rot = np.einsum(
        "nij,njk,nkl->nil", _axis_rotation(1, pitch), _axis_rotation(0, roll), _mount(rng, n, 20.0)
    )
    return trunk, rot, strikes


def _pendulum(
    angle: Array, velocity: Array, accel: Array, length: float, axis: int
) -> NDArray[np.float64]:
    """Acceleration (g) of a point `length` m below a pivot swinging about y (axis 0 forward)."""
    tangential = length * accel / G
    centripetal = length * velocity**2 / G
    acc = np.zeros((angle.size, 3))
    acc[:, axis] = tangential * np.cos(angle) - centripetal * np.sin(angle)
    acc[:, 2] = tangential * np.sin(angle) + centripetal * np.cos(angle)
    return acc


def _walk_wrist(
    ctx: _Context,
    trunk: Array,
    phase: Array,
    rate: Array,
    ramp: Array,
    impacts: Array,
    strikes: Array,
) -> tuple[Array, Array, Array]:
    rng, w = ctx.rng, ctx.walker
    amplitude = ramp * np.deg2rad(18.0) * w.arm_swing * min(1.5, (ctx.cadence / 110.0) ** 1.5)
    stride = np.pi * phase + rng.uniform(0, 2 * np.pi)
    angle = amplitude * np.sin(stride) + np.deg2rad(w.arm_offset_deg)
    velocity = amplitude * np.cos(stride) * np.pi * rate
    accel = -amplitude * np.sin(stride) * (np.pi * rate) ** 2
    arm = _pendulum(angle, velocity, accel, 0.65, axis=0)
    # The arm damps what the trunk does: the shoulder passes most of the bounce, less of the jolt.
    body = 0.8 * trunk
    body[:, 2] += 0.4 * impacts
    mount = _fixed(rng, angle.size)
    rot = np.einsum("nij,njk->nik", _axis_rotation(1, angle), mount)
    return body + arm, rot, strikes


def _walk_pocket(
    ctx: _Context,
    trunk: Array,
    phase: Array,
    rate: Array,
    ramp: Array,
    impacts: Array,
    strikes: Array,
) -> tuple[Array, Array, Array]:
    rng = ctx.rng
    amplitude = ramp * np.deg2rad(float(np.clip(22.0 * ctx.cadence / 110.0, 8.0, 32.0)))
    stride = np.pi * phase + rng.uniform(0, 2 * np.pi)
    angle = amplitude * np.sin(stride) + np.deg2rad(5.0)
    velocity = amplitude * np.cos(stride) * np.pi * rate
    accel = -amplitude * np.sin(stride) * (np.pi * rate) ** 2
    thigh = _pendulum(angle, velocity, accel, 0.25, axis=0)
    body = trunk.copy()
    body[:, 2] += impacts
    rot = np.einsum("nij,njk->nik", _axis_rotation(1, angle), _mount(rng, angle.size, 15.0))
    return body + thigh, rot, strikes


# --- not walking ------------------------------------------------------------------------------


def _none() -> Array:
    return np.empty(0)


def _still(ctx: _Context) -> tuple[Array, Array, Array]:
    worn = 0.002 if ctx.placement is Placement.WRIST else 0.001
    return _tremor(ctx, worn), _still_pose(ctx), _none()


def _moves(
    ctx: _Context, reach_m: tuple[float, float], dur_s: tuple[float, float], pause_s: float
) -> tuple[Array, Array]:
    """Random point-to-point moves (minimum jerk) with turns of the hand; returns acc and angles."""
    rng = ctx.rng
    moves = _Moves(ctx.tau)
    at = rng.uniform(0.0, pause_s)
    while at < ctx.seconds:
        duration = rng.uniform(*dur_s)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        moves.add(at, duration, direction * rng.uniform(*reach_m), rng.normal(0.0, 0.5, 3))
        at += duration + rng.exponential(pause_s)
    return moves.acc, moves.angles


def _rotations(angles: Array, mount: NDArray[np.float64]) -> NDArray[np.float64]:
    rot = np.einsum(
        "nij,njk,nkl->nil",
        _axis_rotation(0, angles[:, 0]),
        _axis_rotation(1, angles[:, 1]),
        _axis_rotation(2, angles[:, 2]),
    )
    out: NDArray[np.float64] = np.einsum("nij,njk->nik", rot, mount)
    return out


def _arm_gestures(ctx: _Context) -> tuple[Array, Array, Array]:
    rng, tau = ctx.rng, ctx.tau
    if ctx.placement is not Placement.WRIST:
        # The trunk leans and shifts a little while the hands talk.
        acc, angles = _moves(ctx, (0.01, 0.05), (0.5, 1.5), 2.0)
        return acc + _tremor(ctx, 0.002), _rotations(0.2 * angles, _still_pose(ctx)), _none()
    acc, angles = _moves(ctx, (0.05, 0.4), (0.3, 1.2), 1.0)
    # Beat gestures: a few quick strokes at 1.5-3 Hz that punctuate speech.
    at = rng.uniform(2.0, 8.0)
    while at < ctx.seconds:
        cycles = int(rng.integers(2, 5))
        freq = rng.uniform(1.5, 3.0)
        amp = rng.uniform(0.03, 0.1)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        span = _span(tau, at, at + cycles / freq)
        stroke = -amp * (2 * np.pi * freq) ** 2 * np.sin(2 * np.pi * freq * (tau[span] - at)) / G
        acc[span] += np.outer(stroke, direction)
        at += cycles / freq + rng.uniform(3.0, 12.0)
    return acc + _tremor(ctx, 0.004), _rotations(angles, _still_pose(ctx)), _none()


def _typing(ctx: _Context) -> tuple[Array, Array, Array]:
    rng, tau = ctx.rng, ctx.tau
    if ctx.placement is not Placement.WRIST:
        return _tremor(ctx, 0.0015), _still_pose(ctx), _none()
    acc = np.zeros((tau.size, 3))
    at = 0.0
    while at < ctx.seconds:
        burst = rng.uniform(2.0, 10.0)
        keys = at + np.cumsum(rng.exponential(1.0 / rng.uniform(3.0, 7.0), int(burst * 8)))
        for k in keys[keys < min(at + burst, ctx.seconds)]:
            lo, hi = np.searchsorted(tau, [k, k + 0.08])
            dt = tau[lo:hi] - k
            ring = rng.uniform(0.02, 0.08) * np.exp(-dt / 0.015) * np.sin(2 * np.pi * 25.0 * dt)
            acc[lo:hi] += np.outer(ring, [0.2, 0.1, 1.0])
        at += burst + rng.uniform(1.0, 5.0)
    moves, angles = _moves(ctx, (0.01, 0.04), (0.3, 0.8), 4.0)
    return acc + moves + _tremor(ctx, 0.002), _rotations(0.3 * angles, _still_pose(ctx)), _none()


def _brushing(ctx: _Context) -> tuple[Array, Array, Array]:
    rng, tau = ctx.rng, ctx.tau
    n = tau.size
    if ctx.placement is not Placement.WRIST:
        # The body rocks faintly with the strokes.
        freq = rng.uniform(3.0, 5.0)
        rock = 0.01 * np.sin(2 * np.pi * freq * tau)
        acc = _tremor(ctx, 0.002)
        acc[:, 0] += rock
        return acc, _still_pose(ctx), _none()
    acc = np.zeros((n, 3))
    angles = np.zeros((n, 3))
    at = 0.0
    # Horizontal scrubbing is the most common technique; some areas are brushed up and down.
    while at < ctx.seconds:
        region = rng.uniform(5.0, 15.0)
        freq = rng.uniform(3.0, 5.0)
        amp = rng.uniform(0.005, 0.015)
        vertical = rng.uniform() < 0.3
        direction = np.array([0.0, 0.0, 1.0]) if vertical else np.array([1.0, 0.0, 0.0])
        span = _span(tau, at, at + region)
        part = tau[span] - at
        wander = np.cumsum(rng.normal(0.0, 0.02, part.size)) / np.sqrt(_FINE_HZ)
        phase = 2 * np.pi * freq * part * (1.0 + 0.1 * np.tanh(wander))
        acc[span] += np.outer(-amp * (2 * np.pi * freq) ** 2 * np.sin(phase) / G, direction)
        angles[span] = rng.normal(0.0, 0.6, 3)
        at += region + rng.uniform(0.5, 2.0)
    return acc + _tremor(ctx, 0.004), _rotations(angles, _still_pose(ctx)), _none()


def _vehicle(ctx: _Context) -> tuple[Array, Array, Array]:
    rng, tau = ctx.rng, ctx.tau
    n = tau.size
    bus = rng.uniform() < 0.5
    bounce_hz = rng.uniform(0.8, 1.3) if bus else rng.uniform(1.0, 1.8)
    acc = np.zeros((n, 3))
    # The body bounces on the suspension, a resonance driven by the road.
    acc[:, 2] = _narrowband(rng, n, bounce_hz, rng.uniform(0.2, 0.4), rng.uniform(0.02, 0.07))
    acc[:, 1] = _narrowband(rng, n, 0.7 * bounce_hz, 0.3, rng.uniform(0.01, 0.03))
    road = rng.uniform(0.01, 0.05)
    acc += np.column_stack([_band_noise(rng, n, 8.0, 25.0, road * f) for f in (0.5, 0.5, 1.0)])
    # Speeding up, braking and turning: smooth pushes of a few seconds.
    at = rng.uniform(0.0, 10.0)
    while at < ctx.seconds:
        duration = rng.uniform(2.0, 8.0)
        axis = int(rng.integers(0, 2))
        push = rng.uniform(0.05, 0.3) * rng.choice([-1.0, 1.0])
        span = _span(tau, at, at + duration)
        acc[span, axis] += push * np.sin(np.pi * (tau[span] - at) / duration) ** 2
        at += duration + rng.uniform(2.0, 20.0)
    # Bumps: a jolt, then the suspension rings.
    at = rng.uniform(2.0, 30.0)
    while at < ctx.seconds:
        span = _span(tau, at, at + 4.0)
        dt = tau[span] - at
        jolt = rng.uniform(0.1, 0.5) * np.exp(-dt / 0.4) * np.sin(2 * np.pi * bounce_hz * dt)
        acc[span, 2] += jolt
        at += rng.uniform(5.0, 30.0)
    return acc + _tremor(ctx, 0.002), _still_pose(ctx), _none()


def _put_down_pick_up(ctx: _Context) -> tuple[Array, Array, Array]:
    rng, tau = ctx.rng, ctx.tau
    n = tau.size
    moves = _Moves(tau)
    held = np.zeros(n, dtype=bool)
    at = rng.uniform(2.0, 10.0)
    while at < ctx.seconds:
        lift = rng.uniform(0.8, 1.5)
        up = np.array([0.0, 0.0, rng.uniform(0.2, 0.6)])
        turn = rng.normal(0.0, 1.2, 3)
        moves.add(at, lift, up, turn)
        down = at + lift + rng.uniform(3.0, 10.0)
        held[_span(tau, at, down)] = True
        moves.add(down, lift, -up, -turn)
        # It lands with a knock.
        span = _span(tau, down + lift, down + lift + 0.1)
        dt = tau[span] - (down + lift)
        knock = rng.uniform(0.2, 1.0) * np.exp(-dt / 0.01) * np.sin(2 * np.pi * 40.0 * dt)
        moves.acc[span, 2] += knock
        at = down + lift + rng.uniform(5.0, 20.0)
    hand = _tremor(ctx, 0.005) * held[:, None]
    acc = moves.acc + hand + _tremor(ctx, 0.0005)
    return acc, _rotations(moves.angles, _fixed(rng, n)), _none()


_GENERATORS: dict[Activity, _Generator] = {
    Activity.WALKING: _walk,
    Activity.STILL: _still,
    Activity.ARM_GESTURES: _arm_gestures,
    Activity.TYPING: _typing,
    Activity.BRUSHING_TEETH: _brushing,
    Activity.VEHICLE: _vehicle,
    Activity.PUT_DOWN_PICK_UP: _put_down_pick_up,
}
