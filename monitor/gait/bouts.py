"""From per-second verdicts to bouts: confirm, bridge turns, find where walking began and ended.

Each second of signal gets one verdict from the 5 s window centred on it: a step period, or
not walking. A window is judged walking when walking fills its active span (at least 3 of its
5 s, its own second among them), so the first and last walking verdicts of a walk lie up to a
second or two inside it; the seconds between are taken back by their energy (a second in which
the person still walked moves the sensor about as much as the walking seconds next to it, a
second walked in part proportionally less). Steps are laid out by integrating the cadence: a
step each time the step phase passes a whole number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from monitor.gait.codec import GaitStateError, StateReader, StateWriter
from monitor.gait.periodicity import MIN_SECOND_SHARE
from monitor.gait.resample import GRID_HZ

# A run of walking seconds becomes a bout once it is MIN_BOUT_S long, or MICRO_BOUT_S long
# when it is a whole walk: still before it and after it (its neighbouring seconds carry under
# MIN_SECOND_SHARE of its energy, as a window's inactive seconds do). A window is judged walking
# once walking fills at least 3 of its 5 seconds including its own (periodicity.py), so a walk
# of 3 s, four or five steps at 80-100 steps/min (Mobilise-D counts micro-bouts from two
# strides), gives three walking seconds. Three seconds of rhythm inside ongoing motion are too
# often chance (a car's suspension matches itself for a few seconds); a micro-walk from
# standing to standing is what people recovering from back pain take around the home.
MIN_BOUT_S = 4
MICRO_BOUT_S = 3

# A kerb or a stumble breaks the rhythm for a second or two while the person keeps stepping:
# up to this many seconds without an agreeing verdict are bridged when the cadence on both
# sides agrees.
MAX_BRIDGE_S = 2

# A turn (a U-turn takes 1.5-2.5 s) spoils the rhythm of every 5 s window that holds any of
# it: up to one window's length more of seconds without a verdict. Such a gap is bridged as
# well when each of its seconds still moves the body (at least TURN_SHARE of the energy of the
# bout's latest walking seconds: turning steps are about a third as vigorous as straight
# ones, a tenth of the energy; standing still carries under 1%), so a stop is not bridged.
MAX_TURN_S = 5
TURN_SHARE = 0.03

# Adjacent seconds of one bout may differ in cadence by at most this ratio: the 5 s windows
# overlap by 80%, so a real change of pace moves the estimate by far less in one second; a
# larger jump is a misread (a stride taken for a step or the reverse) or another activity.
MAX_CADENCE_RATIO = 1.25

# At a bout's edges, seconds carrying at least EDGE_SHARE of the energy of the bout's nearest
# walking seconds hold walking too, up to the reach of the half window (2.5 s) plus a second;
# standing still carries under 1%. How much of such a second was walked is read from its
# energy: a second walked throughout carries at least EDGE_FULL_SHARE (steady seconds vary by
# about a third, and the first and last steps of a walk move the body about half as much as
# the others, a quarter of the energy), a second walked for part of its length proportionally
# less. Whole seconds would misplace each edge by half a second, a step, on average: as much
# as a 4-step walk's tolerance.
EDGE_SHARE = 0.05
EDGE_FULL_SHARE = 0.25
EDGE_REACH_S = 3

# Lost BLE packets leave holes in the signal. A walk that goes on at the same cadence on both
# sides of a hole up to this long is one bout; the hole itself is not walking and has no steps.
MAX_HOLE_S = 2

_BINS_PER_S = GRID_HZ
_REF_SECONDS = 4  # walking seconds whose energy is the reference at an edge
_KEEP_ENERGY_S = EDGE_REACH_S + MAX_TURN_S + MIN_BOUT_S + 2


def _alike(a: float, b: float) -> bool:
    return a <= b * MAX_CADENCE_RATIO and b <= a * MAX_CADENCE_RATIO


def _same_octave(p: float, ref: float) -> float:
    """`p` moved to the octave of the bout's cadence `ref` when it is twice or half of it.

    Inside a walk the cadence does not double or halve from one second to the next: such a
    verdict read a stride as one step (or one step as a stride), and is that cadence.
    """
    if _alike(p, ref):
        return p
    if _alike(0.5 * p, ref):
        return 0.5 * p
    if _alike(2.0 * p, ref):
        return 2.0 * p
    return p


def _walked_bins(length: int, energy: float, ref: float) -> int:
    """How many bins of an edge piece `length` bins long were walked, from its energy."""
    share = energy / ref if ref > 0 else 1.0
    return max(1, min(length, round(length * share / EDGE_FULL_SHARE)))


Piece = tuple[int, int, float]
"""A stretch of signal without its own verdict: start bin, end bin, energy (mean square, g^2)."""


@dataclass(slots=True)
class Walked:
    """What the tracker decided since last asked: walking intervals and closed bouts."""

    starts: list[int] = field(default_factory=list)
    """Start of each walking interval, in grid bins; every interval lies inside one second."""
    ends: list[int] = field(default_factory=list)
    periods: list[float] = field(default_factory=list)
    """Step period over the interval, in seconds."""
    phases: list[float] = field(default_factory=list)
    """Step phase at the interval's start: a step falls where the phase passes a whole number."""
    bouts: list[tuple[int, int, int]] = field(default_factory=list)
    """Closed bouts: start bin, end bin, steps."""


class BoutTracker:
    """Takes one verdict per second, segment by segment; decides walking seconds and bouts."""

    __slots__ = (
        "_bout_start",
        "_core",
        "_energy",
        "_free_bin",
        "_gap",
        "_in_bout",
        "_in_segment",
        "_last_p",
        "_last_s",
        "_lead",
        "_next_s",
        "_out",
        "_phase",
        "_run_e",
        "_run_p",
        "_run_start",
        "_seg_first_s",
        "_susp_end",
        "_suspended",
    )

    def __init__(self) -> None:
        self._in_segment = False
        self._seg_first_s = 0  # the first second of the segment that has a full window
        self._next_s = 0  # the next second expected
        self._free_bin = 0  # earlier bins of the segment belong to a closed bout
        self._lead: list[Piece] = []  # the segment's start, before its first verdict
        self._energy: dict[int, float] = {}  # energy of the latest seconds with a verdict
        self._run_start = 0  # first second of the unconfirmed run of walking verdicts
        self._run_p: list[float] = []  # its step periods
        self._run_e: list[float] = []  # and energies
        self._in_bout = False
        self._bout_start = 0  # first bin of the open bout
        self._phase = 0.0
        self._last_s = 0  # the bout's latest walking second
        self._last_p = 0.0
        self._gap = 0  # seconds since then without an agreeing verdict
        self._core: list[float] = []  # energies of the bout's latest walking seconds
        self._suspended = False  # the open bout reached a hole; it may go on after it
        self._susp_end = 0  # where its signal stopped
        self._out = Walked()

    @property
    def next_second(self) -> int:
        """The second whose verdict is expected next."""
        return self._next_s

    @property
    def awaits_lead(self) -> bool:
        """Whether the open segment's first verdicts (and so its lead) are still to come."""
        return self._in_segment and self._next_s == self._seg_first_s

    @property
    def suspended(self) -> bool:
        """Whether a walk reached the end of the last segment and may go on in the next."""
        return self._suspended

    def start_segment(self, start_bin: int, first_second: int) -> None:
        """Begin a stretch of signal at `start_bin`; verdicts will come from `first_second` on."""
        if self._suspended and start_bin - self._susp_end > _BINS_PER_S * MAX_HOLE_S:
            self._suspended = False
            self._finish(self._susp_end)
        self._in_segment = True
        self._seg_first_s = first_second
        self._next_s = first_second
        self._free_bin = start_bin
        self._lead = []
        self._energy.clear()

    def push(
        self, periods: list[float], energies: list[float], lead: list[Piece] | None = None
    ) -> None:
        """Verdicts (step period, or NaN) and energies for the seconds from `next_second` on.

        The first push of a segment also gives `lead`: the pieces before its first verdict.
        """
        if lead is not None:
            self._lead = lead
        energy = self._energy
        for p, e in zip(periods, energies, strict=True):
            s = self._next_s
            self._next_s = s + 1
            if self._suspended:
                self._resume_or_finish(p)
            energy[s] = e
            energy.pop(s - _KEEP_ENERGY_S, None)
            if p == p:  # not NaN
                if self._in_bout and _alike(p, self._last_p) and not self._gap:
                    self._walk_on(s, p, e)  # the common case, inlined for speed
                else:
                    self._walking(s, p, e)
            elif self._in_bout:
                self._odd(s)
            elif not self._run_p:
                continue  # nothing under way: sitting, standing, most of a day
            elif self._whole_micro_walk(e):
                self._confirm()
                self._odd(s)
            else:
                self._run_hole(e)

    def end_segment(self, end_bin: int, tail: list[Piece]) -> None:
        """End the open stretch at `end_bin`; `tail` are the pieces after the last verdict.

        A segment too short for any verdict gives all its pieces as `tail`.
        """
        if not self._in_segment:
            return
        if self._suspended:
            # A stretch between two holes, too short to judge: walking if it moves like walking.
            self._susp_end = self._reach(tail, self._susp_end, end_bin)
            if self._susp_end != end_bin:
                self._suspended = False
                self._finish(self._susp_end)
        elif self._in_bout:
            last = _BINS_PER_S * (self._last_s + 1)
            end = self._reach(self._after_last(tail), last, last + _BINS_PER_S * EDGE_REACH_S)
            if end == end_bin:
                self._suspended = True
                self._susp_end = end
            else:
                self._finish(end)
        self._run_p.clear()
        self._run_e.clear()
        self._in_segment = False
        self._energy.clear()

    def finish(self) -> None:
        """No more signal will come: a walk waiting across a hole ends where its signal did."""
        if self._suspended:
            self._suspended = False
            self._finish(self._susp_end)

    def horizon_bin(self) -> int | None:
        """The first bin not yet decided, or None if everything seen so far is decided."""
        if self._suspended:
            return self._susp_end
        if not self._in_segment:
            return None
        if self._in_bout:
            return _BINS_PER_S * (self._last_s + 1)
        # A run, confirmed now or later, may reach back over the seconds before it.
        first = self._run_start if self._run_p else self._next_s
        return max(self._free_bin, _BINS_PER_S * (first - EDGE_REACH_S))

    def take(self) -> Walked:
        """What was decided since the last call."""
        out = self._out
        self._out = Walked()
        return out

    def _walking(self, s: int, p: float, e: float) -> None:
        if self._in_bout:
            p = _same_octave(p, self._last_p)
            if not _alike(p, self._last_p):
                self._odd(s, p, e)
                return
            if self._gap:
                # Bridge the gap, easing from one side's cadence to the other's.
                span = self._gap + 1
                for g in range(1, span):
                    q = self._last_p + (p - self._last_p) * g / span
                    self._walk_second(self._last_s + g, q)
                self._gap = 0
                self._run_p.clear()
                self._run_e.clear()
            self._walk_on(s, p, e)
            return
        last = self._run_p[-1] if self._run_p else math.nan
        if math.isnan(last) and len(self._run_p) > 1:
            last = self._run_p[-2]  # the run's latest verdict, before its hole
        if not math.isnan(last) and _alike(p, last):
            self._run_p.append(p)
            self._run_e.append(e)
        elif len(self._run_p) > 1 and not math.isnan(self._run_p[-1]):
            self._run_hole(e)  # one second that disagrees: a hole in the run, not its end
            return
        else:
            self._run_start = s
            self._run_p = [p]
            self._run_e = [e]
        # Each hole costs the run one more agreeing second: chance rhythm (a vehicle's
        # suspension) also comes and goes.
        holes = sum(math.isnan(q) for q in self._run_p)
        if len(self._run_p) - holes >= MIN_BOUT_S + holes:
            self._confirm()

    def _whole_micro_walk(self, e: float) -> bool:
        """Whether the run, now followed by a second of energy `e` without a verdict, is a walk.

        A short run counts when it is a whole walk: still before it and now still after it.
        """
        run = self._run_p
        if len(run) != MICRO_BOUT_S or any(math.isnan(q) for q in run):
            return False
        still = MIN_SECOND_SHARE * sum(self._run_e) / len(self._run_e)
        before = self._energy.get(self._run_start - 1)
        return e < still and before is not None and before < still

    def _run_hole(self, e: float) -> None:
        """A second without an agreeing verdict while no bout is open.

        One such second inside a run keeps it (a 5 s window that holds a stumble, a misread
        octave, or an aliased impact at a low rate fails alone); a second one ends it.
        """
        if self._run_p and not any(math.isnan(q) for q in self._run_p):
            self._run_p.append(math.nan)
            self._run_e.append(e)
        else:
            # A second hole, in a row or not: rhythm that comes and goes is not a walk starting
            # (and a run stays bounded, for the saved state).
            self._run_p.clear()
            self._run_e.clear()

    def _walk_on(self, s: int, p: float, e: float) -> None:
        """Second `s` of an open bout walked at step period `p`, its energy `e`."""
        start = _BINS_PER_S * s
        out = self._out
        out.starts.append(start)
        out.ends.append(start + _BINS_PER_S)
        out.periods.append(p)
        out.phases.append(self._phase)
        self._phase += _BINS_PER_S / (GRID_HZ * p)
        self._last_s = s
        self._last_p = p
        core = self._core
        core.append(e)
        if len(core) > _REF_SECONDS:
            del core[0]

    def _odd(self, s: int, p: float | None = None, e: float = 0.0) -> None:
        """A second inside a bout without an agreeing verdict (none, or a cadence that jumps)."""
        if p is None:
            self._run_p.clear()
            self._run_e.clear()
        elif self._run_p and _alike(p, self._run_p[-1]):
            self._run_p.append(p)
            self._run_e.append(e)
        else:
            self._run_start = s
            self._run_p = [p]
            self._run_e = [e]
        self._gap += 1
        if self._gap > MAX_BRIDGE_S and (self._gap > MAX_TURN_S or self._stopped(s)):
            self._close(None)
            if len(self._run_p) >= MIN_BOUT_S:
                self._confirm()

    def _stopped(self, s: int) -> bool:
        """Whether any second of the gap up to `s` was too quiet to be a turn: a stop."""
        threshold = TURN_SHARE * sum(self._core) / max(1, len(self._core))
        return any(self._energy.get(k, 0.0) < threshold for k in range(self._last_s + 1, s + 1))

    def _confirm(self) -> None:
        first = self._run_start
        ref = sum(self._run_e[:_REF_SECONDS]) / min(_REF_SECONDS, len(self._run_e))
        threshold = EDGE_SHARE * ref
        # Reach back over the seconds before the run, then over the segment's lead.
        start = _BINS_PER_S * first
        reach = start - _BINS_PER_S * EDGE_REACH_S
        back: list[Piece] = []
        for s in range(first - 1, first - 1 - EDGE_REACH_S, -1):
            if s < self._seg_first_s:
                back.extend(reversed(self._lead))
                break
            back.append((_BINS_PER_S * s, _BINS_PER_S * (s + 1), self._energy.get(s, 0.0)))
        for a, b, e in back:
            if e < threshold or a < max(reach, self._free_bin):
                break
            start = b - _walked_bins(b - a, e, ref)
            if start > a:
                break
        self._phase = 0.5
        self._in_bout = True
        self._bout_start = start
        self._walk_span(start, _BINS_PER_S * first, self._run_p[0])
        for i, p in enumerate(self._run_p):
            # A hole lies between two verdicts of the run: it walks at their mean.
            q = 0.5 * (self._run_p[i - 1] + self._run_p[i + 1]) if math.isnan(p) else p
            self._walk_second(first + i, q)
        self._last_s = first + len(self._run_p) - 1
        self._last_p = self._run_p[-1]
        self._core = self._run_e[-_REF_SECONDS:]
        self._gap = 0
        self._run_p = []
        self._run_e = []

    def _resume_or_finish(self, p: float) -> None:
        """The first verdict after a hole: the walk goes on if the rhythm and the energy do."""
        self._suspended = False
        threshold = EDGE_SHARE * sum(self._core) / max(1, len(self._core))
        if (
            not math.isnan(p)
            and _alike(p, self._last_p)
            and all(e >= threshold for _, _, e in self._lead)
        ):
            for a, b, _ in self._lead:
                self._walk_span(a, b, self._last_p)
            self._last_s = self._seg_first_s - 1
            self._gap = 0
        else:
            self._finish(self._susp_end)

    def _close(self, tail: list[Piece] | None) -> None:
        """Close the open bout after its last walking second, reaching forward by energy."""
        last = _BINS_PER_S * (self._last_s + 1)
        self._finish(self._reach(self._after_last(tail), last, last + _BINS_PER_S * EDGE_REACH_S))

    def _after_last(self, tail: list[Piece] | None) -> list[Piece]:
        """The seconds after the bout's last walking one that no run claims, then `tail`."""
        stop = min(self._run_start if self._run_p else self._next_s, self._next_s)
        pieces: list[Piece] = [
            (_BINS_PER_S * s, _BINS_PER_S * (s + 1), self._energy.get(s, 0.0))
            for s in range(self._last_s + 1, stop)
        ]
        if tail is not None and not self._run_p:
            pieces.extend(tail)
        return pieces

    def _reach(self, pieces: list[Piece], end: int, limit: int) -> int:
        """Walk on from bin `end` over the pieces that carry walking energy, up to `limit`."""
        ref = sum(self._core) / max(1, len(self._core))
        for a, b, e in pieces:
            if e < EDGE_SHARE * ref or b > limit:
                break
            end = a + _walked_bins(b - a, e, ref)
            self._walk_span(a, end, self._last_p)
            if end < b:
                break
        return end

    def _finish(self, end: int) -> None:
        self._out.bouts.append((self._bout_start, end, int(self._phase)))
        self._free_bin = max(self._free_bin, end)
        self._in_bout = False
        self._gap = 0

    def _walk_second(self, s: int, p: float) -> None:
        start = _BINS_PER_S * s
        self._emit(start, start + _BINS_PER_S, p)

    def _walk_span(self, start: int, end: int, p: float) -> None:
        """Walking from bin `start` to `end`, cut at whole seconds."""
        while start < end:
            cut = min(end, (start // _BINS_PER_S + 1) * _BINS_PER_S)
            self._emit(start, cut, p)
            start = cut

    def _emit(self, start: int, end: int, p: float) -> None:
        out = self._out
        out.starts.append(start)
        out.ends.append(end)
        out.periods.append(p)
        out.phases.append(self._phase)
        self._phase += (end - start) / (GRID_HZ * p)

    def dump(self, w: StateWriter) -> None:
        """Write the tracker's state (the decided output must have been taken)."""
        w.ints(
            self._in_segment,
            self._in_bout,
            self._suspended,
            self._susp_end,
            self._seg_first_s,
            self._next_s,
            self._free_bin,
            self._run_start,
            self._bout_start,
            self._last_s,
            self._gap,
        )
        w.floats(self._phase, self._last_p)
        w.float_array(np.array(self._run_p))
        w.float_array(np.array(self._run_e))
        w.float_array(np.array(self._core))
        keys = sorted(self._energy)
        w.int_array(np.array(keys, np.int64))
        w.float_array(np.array([self._energy[k] for k in keys]))
        w.int_array(np.array([x for a, b, _ in self._lead for x in (a, b)], np.int64))
        w.float_array(np.array([e for _, _, e in self._lead]))

    @classmethod
    def load(cls, r: StateReader) -> BoutTracker:
        """Read a tracker written by `dump`."""
        self = cls()
        (
            in_segment,
            in_bout,
            suspended,
            self._susp_end,
            self._seg_first_s,
            self._next_s,
            self._free_bin,
            self._run_start,
            self._bout_start,
            self._last_s,
            self._gap,
        ) = r.ints(11)
        self._suspended = bool(suspended)
        self._in_segment = bool(in_segment)
        self._in_bout = bool(in_bout)
        self._phase, self._last_p = r.floats(2)
        limit = MIN_BOUT_S + MAX_TURN_S
        self._run_p = r.float_array(limit).tolist()
        self._run_e = r.float_array(limit).tolist()
        self._core = r.float_array(_REF_SECONDS).tolist()
        keys = r.int_array(_KEEP_ENERGY_S + 1).tolist()
        values = r.float_array(_KEEP_ENERGY_S + 1).tolist()
        bounds = r.int_array(2 * EDGE_REACH_S + 2).tolist()
        energies = r.float_array(EDGE_REACH_S + 1).tolist()
        if (
            len(keys) != len(values)
            or len(self._run_p) != len(self._run_e)
            or len(bounds) != 2 * len(energies)
        ):
            raise GaitStateError("gait state has a malformed bout tracker")
        self._energy = dict(zip(keys, values, strict=True))
        self._lead = [(bounds[2 * i], bounds[2 * i + 1], e) for i, e in enumerate(energies)]
        return self
