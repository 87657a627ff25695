"""Benchmark of the gait detector next to a plain baseline; prints one JSON document.

Measured in the same run, for the detector (`monitor.gait`) and for a plain baseline (the norm
band-passed 0.5-3 Hz, scipy `find_peaks` at least 0.3 s apart and 0.05 g high):

- step counts on the real recordings with ground truth, per data set: the Oxford validation
  phone walks and the IPOL lower-back dev trials, each at its own rate and decimated to
  12.5 Hz both by averaging (a device that filters) and by picking samples (one that does not):
  MAPE, median absolute error, signed bias, the worst recordings, and (IPOL) MAPE per subject;
- false steps per minute on every synthetic non-walking activity;
- step error on the synthetic cases the detector failed on real recordings: short walks with
  U-turns, stride-dominant wrist swing at 12.5 Hz, slow shuffles, walks of 4-5 steps, and
  sampling without anti-aliasing;
- throughput on one core, in samples per second of CPU time, at 12.5, 25, 50 and 100 Hz:
  the whole recording at once, and streamed in blocks of 10 samples.

- with `--loso`, the leave-one-subject-out check of the white floor's upper edge (the one
  constant whose alternatives were looked at on the dev files' decimated copies).

Run from the repository root: `python bench/gait.py [--skip-throughput] [--loso]`.
"""

from __future__ import annotations

import os

# One core means one thread as well: keep numpy's helpers from spreading out.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - after the thread limits, which must precede numpy
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from scipy import signal  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.gait import StreamingGait, analyze_gait  # noqa: E402
from simulators.motion import (  # noqa: E402
    NON_WALKING,
    Activity,
    Placement,
    Recording,
    Sampling,
    Segment,
    Walker,
    simulate,
)
from simulators.recordings import ValidationRecording, load_lumbar, load_validation  # noqa: E402

Array = NDArray[np.float64]
Counter = Callable[[Array, Array], int]

LOW_RATE_HZ = 12.5
SYNTHETIC_SEEDS = 3
NON_WALKING_MINUTES = 5.0  # per activity, placement and seed
NON_WALKING_RATES_HZ = (12.5, 25.0, 50.0, 100.0)  # cycled over the seeds
THROUGHPUT_RATES_HZ = (12.5, 25.0, 50.0, 100.0)
THROUGHPUT_SECONDS = 1.5  # least time spent measuring each figure
WORST = 3


@dataclass(frozen=True, slots=True, eq=False)
class Truthful:
    """A recording with its true step count (and, for IPOL, its subject)."""

    name: str
    t: Array
    xyz: Array
    truth: int
    group: str = ""


# --- the baseline ---------------------------------------------------------------------------


def _rate_of(t: Array) -> float:
    return float(1.0 / np.median(np.diff(t))) if t.size > 1 else 1.0


def baseline_steps(t: Array, xyz: Array) -> int:
    """Plain band-pass (2nd-order Butterworth, 0.5-3 Hz) on the norm, then scipy find_peaks."""
    if t.size < 16:
        return 0
    fs = _rate_of(t)
    sos = signal.butter(2, (0.5, min(3.0, 0.45 * fs)), btype="bandpass", fs=fs, output="sos")
    y = signal.sosfilt(sos, np.linalg.norm(xyz, axis=1))
    peaks, _ = signal.find_peaks(y, height=0.05, distance=max(1, round(0.3 * fs)))
    return int(peaks.size)


class StreamingBaseline:
    """The baseline fed block by block: filter state carried, peaks found once per second."""

    def __init__(self, rate_hz: float) -> None:
        self.fs = rate_hz
        self.sos = signal.butter(
            2, (0.5, min(3.0, 0.45 * rate_hz)), btype="bandpass", fs=rate_hz, output="sos"
        )
        self.zi = np.zeros((self.sos.shape[0], 2))
        self.buf = np.empty(0)
        self.steps = 0
        self.distance = max(1, round(0.3 * rate_hz))

    def feed(self, xyz: Array) -> None:
        """Filter a block and count the peaks that can no longer change."""
        y, self.zi = signal.sosfilt(self.sos, np.linalg.norm(xyz, axis=1), zi=self.zi)
        self.buf = np.concatenate((self.buf, y))
        if self.buf.size >= 2 * self.fs:
            keep = int(self.fs)
            peaks, _ = signal.find_peaks(self.buf[:-keep], height=0.05, distance=self.distance)
            self.steps += int(peaks.size)
            self.buf = self.buf[-keep:]

    def flush(self) -> int:
        """Count the rest; the total."""
        peaks, _ = signal.find_peaks(self.buf, height=0.05, distance=self.distance)
        self.steps += int(peaks.size)
        self.buf = np.empty(0)
        return self.steps


def detector_steps(t: Array, xyz: Array) -> int:
    """Steps found by the detector."""
    return analyze_gait(t, xyz).steps


# --- accuracy on real recordings ---------------------------------------------------------------


def percent_error(count: int, truth: int) -> float:
    """Signed error of a step count against the truth, in percent."""
    return 100.0 * (count - truth) / truth


def averaged(t: Array, xyz: Array, rate_hz: float) -> tuple[Array, Array]:
    """Decimated by averaging the samples of each 1/rate_hz interval (a filtering device)."""
    bins = np.floor((t - t[0]) * rate_hz).astype(np.int64)
    counts = np.bincount(bins)
    keep = counts > 0
    tt = (np.bincount(bins, weights=t)[keep]) / counts[keep]
    xx = np.column_stack([np.bincount(bins, weights=xyz[:, i])[keep] for i in range(3)])
    return tt, xx / counts[keep][:, None]


def picked(t: Array, xyz: Array, rate_hz: float) -> tuple[Array, Array]:
    """Decimated by keeping the first sample of each 1/rate_hz interval: no anti-aliasing."""
    bins = np.floor((t - t[0]) * rate_hz).astype(np.int64)
    first = np.flatnonzero(np.diff(bins, prepend=-1) > 0)
    return t[first], xyz[first]


def score(files: Sequence[Truthful], count: Counter) -> dict[str, object]:
    """MAPE, median absolute error, signed bias and the worst recordings."""
    errors = [(percent_error(count(f.t, f.xyz), f.truth), f) for f in files]
    values = np.array([e for e, _ in errors])
    worst = sorted(errors, key=lambda ef: -abs(ef[0]))[:WORST]
    out: dict[str, object] = {
        "mape_pct": round(float(np.mean(np.abs(values))), 2),
        "median_abs_pct": round(float(np.median(np.abs(values))), 2),
        "bias_pct": round(float(np.mean(values)), 2),
        "under_half_of_truth": int(np.sum(values < -50.0)),
        "worst": [f"{f.name}: {e:+.1f}%" for e, f in worst],
    }
    groups = sorted({f.group for f in files if f.group})
    if groups:
        out["mape_pct_by_subject"] = {
            g: round(float(np.mean([abs(e) for e, f in errors if f.group == g])), 2) for g in groups
        }
    return out


def peers(files: list[ValidationRecording]) -> dict[str, object]:
    """The Oxford validation walks next to the two peers recorded in the same files.

    The phone app's own algorithm and the phone's hardware step counter (on the files that
    recorded it).
    """
    ours = [percent_error(detector_steps(f.t, f.xyz), f.truth) for f in files]
    app = [percent_error(f.app, f.truth) for f in files]
    with_hw = [(o, f) for o, f in zip(ours, files, strict=True) if f.hardware is not None]
    hardware = [percent_error(f.hardware, f.truth) for _, f in with_hw if f.hardware is not None]
    return {
        "mape_pct": round(float(np.mean(np.abs(ours))), 2),
        "app_mape_pct": round(float(np.mean(np.abs(app))), 2),
        "hardware_files": len(hardware),
        "hardware_mape_pct": round(float(np.mean(np.abs(hardware))), 2) if hardware else None,
        "mape_pct_on_hardware_files": (
            round(float(np.mean([abs(o) for o, _ in with_hw])), 2) if with_hw else None
        ),
    }


def real_sets(oxford_files: list[ValidationRecording]) -> dict[str, list[Truthful]]:
    """The shared recordings, at their own rate and decimated both ways to 12.5 Hz."""
    oxford = [Truthful(f.name, f.t, f.xyz, f.truth) for f in oxford_files]
    ipol = [
        Truthful(f.name, f.t, f.xyz, f.truth, group=f"subject {f.subject}") for f in load_lumbar()
    ]
    out: dict[str, list[Truthful]] = {}
    for name, files in (("oxford_validation", oxford), ("ipol_lumbar_dev", ipol)):
        if not files:
            continue
        out[name] = files
        for how, decimate in (("averaged", averaged), ("picked", picked)):
            out[f"{name}_12.5hz_{how}"] = [
                Truthful(f.name, *decimate(f.t, f.xyz, LOW_RATE_HZ), f.truth, f.group)
                for f in files
            ]
    return out


def accuracy(sets: dict[str, list[Truthful]]) -> dict[str, object]:
    """Each data set scored by the detector and by the baseline."""
    return {
        name: {
            "recordings": len(files),
            "detector": score(files, detector_steps),
            "baseline": score(files, baseline_steps),
        }
        for name, files in sets.items()
    }


FLOOR_EDGES_HZ = (4.0, 5.0, 6.0, 6.25)  # the white floor's upper edge: candidates for the check


def floor_edge_loso(sets: dict[str, list[Truthful]]) -> dict[str, object]:
    """Leave-one-subject-out check of the one constant looked at on the dev files' copies.

    For each IPOL set (own rate, both 12.5 Hz decimations) and each held-out subject: the
    white floor's upper edge that scores best on the other five subjects, the held-out
    subject's MAPE with it, and with the fixed physical value (6.25 Hz) for comparison.
    """
    from monitor.gait import periodicity

    fixed = (periodicity._FLOOR_HI_BIN, periodicity._FLOOR_MID)
    errors: dict[tuple[float, str], list[tuple[str, float]]] = {}
    try:
        for edge in FLOOR_EDGES_HZ:
            hi_bin = int(np.searchsorted(periodicity._FREQ, edge, side="right"))
            periodicity._FLOOR_HI_BIN = hi_bin
            periodicity._FLOOR_MID = (hi_bin - periodicity._FLOOR_LO_BIN) // 2
            for name, files in sets.items():
                if name.startswith("ipol"):
                    errors[(edge, name)] = [
                        (f.group, abs(percent_error(detector_steps(f.t, f.xyz), f.truth)))
                        for f in files
                    ]
    finally:
        periodicity._FLOOR_HI_BIN, periodicity._FLOOR_MID = fixed

    def mape(edge: float, name: str, subject: str, held_out: bool) -> float:
        """MAPE over the held-out subject alone, or over the others ("" for everyone)."""
        values = [e for g, e in errors[(edge, name)] if not subject or (g == subject) == held_out]
        return float(np.mean(values))

    out: dict[str, object] = {}
    for name in sorted({n for _, n in errors}):
        folds = []
        for subject in sorted({g for g, _ in errors[(FLOOR_EDGES_HZ[0], name)]}):
            chosen = min(FLOOR_EDGES_HZ, key=lambda e: mape(e, name, subject, held_out=False))
            folds.append(
                {
                    "held_out": subject,
                    "edge_chosen_hz": chosen,
                    "held_out_mape_pct": round(mape(chosen, name, subject, held_out=True), 2),
                    "held_out_mape_pct_at_6.25": round(mape(6.25, name, subject, held_out=True), 2),
                }
            )
        out[name] = {
            "mape_pct_by_edge": {
                f"{e:g}": round(mape(e, name, "", held_out=False), 2) for e in FLOOR_EDGES_HZ
            },
            "folds": folds,
        }
    return out


# --- synthetic ---------------------------------------------------------------------------------


def false_steps() -> dict[str, object]:
    """False steps per minute on each non-walking activity, over placements, seeds and rates."""
    out: dict[str, object] = {}
    for activity in NON_WALKING:
        ours: list[float] = []
        base: list[float] = []
        for placement in Placement:
            for seed in range(SYNTHETIC_SEEDS):
                rate = NON_WALKING_RATES_HZ[seed % len(NON_WALKING_RATES_HZ)]
                rec = simulate(
                    [Segment(activity, 60.0 * NON_WALKING_MINUTES)],
                    placement,
                    seed=1000 + seed,
                    sampling=Sampling(rate_hz=rate, jitter=0.2),
                )
                ours.append(detector_steps(rec.t, rec.xyz) / NON_WALKING_MINUTES)
                base.append(baseline_steps(rec.t, rec.xyz) / NON_WALKING_MINUTES)
        out[activity.value] = {
            "minutes": len(ours) * NON_WALKING_MINUTES,
            "per_min_mean": round(float(np.mean(ours)), 3),
            "per_min_max": round(float(np.max(ours)), 3),
            "baseline_per_min_mean": round(float(np.mean(base)), 3),
            "baseline_per_min_max": round(float(np.max(base)), 3),
        }
    return out


def _still_around(walk: Sequence[Segment]) -> list[Segment]:
    return [Segment(Activity.STILL, 10.0), *walk, Segment(Activity.STILL, 10.0)]


def synthetic_cases() -> dict[str, list[tuple[str, Recording]]]:
    """The cases the detector missed on real recordings, rebuilt in the simulator."""
    cases: dict[str, list[tuple[str, Recording]]] = {}
    rates = (12.5, 25.0, 100.0)
    for placement in Placement:
        for seed in range(SYNTHETIC_SEEDS):
            cadence = (80.0, 100.0, 115.0)[seed]
            walk = [
                Segment(Activity.WALKING, 16.0, cadence, turns_at_s=(8.0,)),
                Segment(Activity.STILL, 8.0),
                Segment(Activity.WALKING, 6.0, cadence),
            ]
            cases.setdefault("short_walks_with_u_turns", []).append(
                (
                    f"{placement.value} {cadence:g} spm {rates[seed]:g} Hz",
                    simulate(
                        _still_around(walk),
                        placement,
                        seed=100 + seed,
                        sampling=Sampling(rate_hz=rates[seed]),
                    ),
                )
            )
            steps, cadence = ((4, 80.0), (5, 90.0), (5, 110.0))[seed]
            cases.setdefault("walks_of_4_to_5_steps", []).append(
                (
                    f"{placement.value} {steps} steps {rates[seed]:g} Hz",
                    simulate(
                        _still_around([Segment(Activity.WALKING, steps * 60.0 / cadence, cadence)]),
                        placement,
                        seed=110 + seed,
                        sampling=Sampling(rate_hz=rates[seed]),
                    ),
                )
            )
            cadence = (62.0, 70.0, 78.0)[seed]
            cases.setdefault("slow_shuffles", []).append(
                (
                    f"{placement.value} {cadence:g} spm",
                    simulate(
                        _still_around([Segment(Activity.WALKING, 60.0, cadence)]),
                        placement,
                        seed=120 + seed,
                        walker=Walker.shuffler(),
                        sampling=Sampling(rate_hz=25.0),
                    ),
                )
            )
            cadence = (75.0, 100.0, 120.0)[seed]
            cases.setdefault("no_anti_aliasing_12.5hz", []).append(
                (
                    f"{placement.value} {cadence:g} spm",
                    simulate(
                        _still_around([Segment(Activity.WALKING, 60.0, cadence)]),
                        placement,
                        seed=130 + seed,
                        sampling=Sampling(rate_hz=LOW_RATE_HZ, lowpass=0.0),
                    ),
                )
            )
    for cadence in (60.0, 66.0, 72.0, 78.0, 85.0):
        for seed in range(2):
            cases.setdefault("wrist_stride_swing_12.5hz", []).append(
                (
                    f"wrist {cadence:g} spm",
                    simulate(
                        _still_around([Segment(Activity.WALKING, 60.0, cadence)]),
                        Placement.WRIST,
                        seed=140 + seed,
                        walker=Walker.arm_swinger(),
                        sampling=Sampling(rate_hz=LOW_RATE_HZ),
                    ),
                )
            )
    return cases


def synthetic_walking() -> dict[str, object]:
    """Step error on each synthetic case, detector and baseline."""
    out: dict[str, object] = {}
    for name, recordings in synthetic_cases().items():
        ours = [(percent_error(detector_steps(r.t, r.xyz), r.steps), n) for n, r in recordings]
        base = [percent_error(baseline_steps(r.t, r.xyz), r.steps) for _, r in recordings]
        worst = max(ours, key=lambda en: abs(en[0]))
        out[name] = {
            "recordings": len(recordings),
            "detector_mape_pct": round(float(np.mean([abs(e) for e, _ in ours])), 2),
            "detector_worst": f"{worst[1]}: {worst[0]:+.1f}%",
            "baseline_mape_pct": round(float(np.mean(np.abs(base))), 2),
        }
    return out


# --- throughput --------------------------------------------------------------------------------


def _rate(work: int, run: Callable[[], object]) -> float:
    """Work per second of this process's CPU time: per core, whatever else the machine runs."""
    run()  # warm up
    done = 0
    start = time.process_time()
    while True:
        run()
        done += work
        elapsed = time.process_time() - start
        if elapsed >= THROUGHPUT_SECONDS:
            return done / elapsed


def _throughput_at(rate_hz: float) -> dict[str, object]:
    rec = simulate(
        [Segment(Activity.WALKING, 300.0, 95.0), Segment(Activity.TYPING, 300.0)],
        Placement.WRIST,
        seed=3000,
        sampling=Sampling(rate_hz=rate_hz),
    )
    t, xyz = rec.t, rec.xyz
    blocks = [(t[i : i + 10], xyz[i : i + 10]) for i in range(0, t.size, 10)]

    def stream() -> None:
        detector = StreamingGait()
        for bt, bx in blocks:
            detector.feed(bt, bx)
        detector.flush()

    def stream_baseline() -> None:
        counter = StreamingBaseline(rate_hz)
        for _, bx in blocks:
            counter.feed(bx)
        counter.flush()

    ours_batch = _rate(t.size, lambda: analyze_gait(t, xyz))
    ours_stream = _rate(t.size, stream)
    base_batch = _rate(t.size, lambda: baseline_steps(t, xyz))
    base_stream = _rate(t.size, stream_baseline)
    return {
        "samples": int(t.size),
        "rate_hz": rate_hz,
        "batch_samples_per_s": round(ours_batch),
        "baseline_batch_samples_per_s": round(base_batch),
        "batch_ratio_to_baseline": round(ours_batch / base_batch, 2),
        "streaming_10_samples_per_s": round(ours_stream),
        "baseline_streaming_10_samples_per_s": round(base_stream),
        "streaming_ratio_to_baseline": round(ours_stream / base_stream, 2),
    }


def _validation_throughput(files: list[ValidationRecording]) -> dict[str, object]:
    offset = 0.0
    times, samples = [], []
    for f in files:
        times.append(f.t + offset)
        samples.append(f.xyz)
        offset = float(times[-1][-1]) + 10.0
    t, xyz = np.concatenate(times), np.ascontiguousarray(np.concatenate(samples))
    blocks = [(t[i : i + 10], xyz[i : i + 10]) for i in range(0, t.size, 10)]

    def stream() -> None:
        detector = StreamingGait()
        for bt, bx in blocks:
            detector.feed(bt, bx)
        detector.flush()

    return {
        "samples": int(t.size),
        "rate_hz": round(t.size / float(t[-1] - t[0]), 1),
        "batch_samples_per_s": round(_rate(t.size, lambda: analyze_gait(t, xyz))),
        "streaming_10_samples_per_s": round(_rate(t.size, stream)),
    }


def throughput(files: list[ValidationRecording]) -> dict[str, object]:
    """Samples per second on one core, batch and streamed in blocks of 10.

    The top-level figures are the validation walks end to end (~96 Hz); `synthetic_by_rate`
    holds ten synthetic minutes (walking, then typing) at each rate, next to the baseline.
    """
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    out = _validation_throughput(files) if files else {}
    out["synthetic_by_rate"] = {
        f"{rate:g}_hz": _throughput_at(rate) for rate in THROUGHPUT_RATES_HZ
    }
    return out


def main() -> int:
    """Run every measurement and print the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-throughput", action="store_true", help="accuracy only")
    parser.add_argument(
        "--loso", action="store_true", help="also the floor edge's leave-one-subject-out check"
    )
    args = parser.parse_args()
    oxford = load_validation()
    sets = real_sets(oxford)
    if not oxford or not sets:
        print("bench/gait.py: the shared recordings were not found", file=sys.stderr)
        return 2
    report: dict[str, object] = {
        "validation": peers(oxford),
        "real_recordings": accuracy(sets),
        "false_steps": false_steps(),
        "synthetic_walking": synthetic_walking(),
    }
    if args.loso:
        report["floor_edge_leave_one_subject_out"] = floor_edge_loso(sets)
    if not args.skip_throughput:
        report["throughput_one_core"] = throughput(oxford)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
