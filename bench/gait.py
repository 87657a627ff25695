"""Benchmark of the gait detector; prints one JSON document.

- accuracy of total steps on the Oxford step counter validation recordings, against the ground
  truth and next to the two peers recorded in the same files (the phone app's algorithm and
  the phone's hardware counter);
- false steps per minute on every synthetic non-walking activity, and step error of synthetic
  walking by cadence (slow walkers included);
- throughput on one core, in samples per second: the whole recording at once, and streamed in
  blocks of 10 samples.

Run from the repository root: `python bench/gait.py [--data DIR]`.
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
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.gait import StreamingGait, analyze_gait  # noqa: E402
from simulators.motion import (  # noqa: E402
    NON_WALKING,
    Activity,
    Placement,
    Sampling,
    Segment,
    simulate,
)
from simulators.recordings import VALIDATION, ValidationRecording, load_validation  # noqa: E402

SYNTHETIC_MINUTES = 10  # per activity, placement and seed
SYNTHETIC_SEEDS = 6
SYNTHETIC_RATES_HZ = (25.0, 50.0, 100.0)  # cycled over the seeds
WALKING_CADENCES = (60, 70, 85, 100, 120)
THROUGHPUT_SECONDS = 3.0  # least time spent measuring each figure
# The detector's work is per second of signal as much as per sample, so slow streams cost more
# per sample: measured on ten synthetic minutes (walking, then typing) at these rates too.
THROUGHPUT_RATES_HZ = (12.5, 25.0, 50.0)


def percent_error(count: int, truth: int) -> float:
    """Signed error of a step count against the truth, in percent."""
    return 100.0 * (count - truth) / truth


def mape(errors: list[float]) -> float:
    """Mean absolute percentage error."""
    return float(np.mean(np.abs(errors))) if errors else float("nan")


def accuracy(files: list[ValidationRecording]) -> dict[str, object]:
    """Per-file counts and errors, and the overall MAPE of the detector and of each peer."""
    rows = []
    ours: list[float] = []
    app: list[float] = []
    ours_where_hw: list[float] = []
    hardware: list[float] = []
    for f in files:
        steps = analyze_gait(f.t, f.xyz).steps
        row: dict[str, object] = {
            "file": f.name,
            "truth": f.truth,
            "steps": steps,
            "error_pct": round(percent_error(steps, f.truth), 2),
            "app": f.app,
            "app_error_pct": round(percent_error(f.app, f.truth), 2),
            "hardware": f.hardware,
            "hardware_error_pct": None,
        }
        ours.append(percent_error(steps, f.truth))
        app.append(percent_error(f.app, f.truth))
        if f.hardware is not None:
            row["hardware_error_pct"] = round(percent_error(f.hardware, f.truth), 2)
            hardware.append(percent_error(f.hardware, f.truth))
            ours_where_hw.append(percent_error(steps, f.truth))
        rows.append(row)
    return {
        "files": rows,
        "mape_pct": round(mape(ours), 2),
        "app_mape_pct": round(mape(app), 2),
        "hardware_files": len(hardware),
        "hardware_mape_pct": round(mape(hardware), 2),
        "mape_pct_on_hardware_files": round(mape(ours_where_hw), 2),
    }


def false_steps() -> dict[str, object]:
    """False steps per minute on each non-walking activity, over placements and seeds."""
    out: dict[str, object] = {}
    for activity in NON_WALKING:
        rates = []
        for placement in Placement:
            for seed in range(SYNTHETIC_SEEDS):
                rate = SYNTHETIC_RATES_HZ[seed % len(SYNTHETIC_RATES_HZ)]
                rec = simulate(
                    [Segment(activity, 60.0 * SYNTHETIC_MINUTES)],
                    placement,
                    seed=1000 + seed,
                    sampling=Sampling(rate_hz=rate, jitter=0.2),
                )
                rates.append(analyze_gait(rec.t, rec.xyz).steps / SYNTHETIC_MINUTES)
        out[activity.value] = {
            "per_min_mean": round(float(np.mean(rates)), 3),
            "per_min_max": round(float(np.max(rates)), 3),
            "minutes": len(rates) * SYNTHETIC_MINUTES,
        }
    return out


def synthetic_walking() -> dict[str, object]:
    """Step error of synthetic walks (30 s still, 2 min walking, 30 s still) by cadence."""
    out: dict[str, object] = {}
    for cadence in WALKING_CADENCES:
        errors: list[float] = []
        for placement in Placement:
            for seed in range(SYNTHETIC_SEEDS):
                rec = simulate(
                    [
                        Segment(Activity.STILL, 30.0),
                        Segment(Activity.WALKING, 120.0, cadence),
                        Segment(Activity.STILL, 30.0),
                    ],
                    placement,
                    seed=2000 + seed,
                    sampling=Sampling(
                        rate_hz=SYNTHETIC_RATES_HZ[seed % len(SYNTHETIC_RATES_HZ)],
                        jitter=0.2,
                        dropouts_per_min=0.5,
                    ),
                )
                errors.append(percent_error(analyze_gait(rec.t, rec.xyz).steps, rec.steps))
        worst: float = max(errors, key=abs)
        out[f"{cadence}_spm"] = {
            "mape_pct": round(mape(errors), 2),
            "worst_pct": round(worst, 2),
        }
    return out


def _rate(work: int, run: object) -> float:
    assert callable(run)  # noqa: S101 - a bench helper, not library code
    run()  # warm up
    done = 0
    start = time.perf_counter()
    while True:
        run()
        done += work
        elapsed = time.perf_counter() - start
        if elapsed >= THROUGHPUT_SECONDS:
            return done / elapsed


def _batch_and_stream(t: NDArray[np.float64], xyz: NDArray[np.float64]) -> dict[str, object]:
    blocks = [(t[i : i + 10], xyz[i : i + 10]) for i in range(0, t.size, 10)]

    def batch() -> None:
        analyze_gait(t, xyz)

    def stream() -> None:
        detector = StreamingGait()
        for bt, bx in blocks:
            detector.feed(bt, bx)
        detector.flush()

    return {
        "samples": int(t.size),
        "rate_hz": round(t.size / float(t[-1] - t[0]), 1),
        "batch_samples_per_s": round(_rate(t.size, batch)),
        "streaming_10_samples_per_s": round(_rate(t.size, stream)),
    }


def throughput(files: list[ValidationRecording]) -> dict[str, object]:
    """Samples per second on one core: batch, and streaming in blocks of 10 samples."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    offset = 0.0
    times, samples = [], []
    for f in files:
        times.append(f.t + offset)
        samples.append(f.xyz)
        offset = float(times[-1][-1]) + 10.0
    out = _batch_and_stream(np.concatenate(times), np.ascontiguousarray(np.concatenate(samples)))
    by_rate: dict[str, object] = {}
    for rate in THROUGHPUT_RATES_HZ:
        rec = simulate(
            [Segment(Activity.WALKING, 300.0, 95.0), Segment(Activity.TYPING, 300.0)],
            Placement.WRIST,
            seed=3000,
            sampling=Sampling(rate_hz=rate),
        )
        by_rate[f"{rate:g}_hz"] = _batch_and_stream(rec.t, rec.xyz)
    out["synthetic_by_rate"] = by_rate
    return out


def main() -> int:
    """Run every measurement and print the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=VALIDATION, help="validation CSV folder")
    args = parser.parse_args()
    files = load_validation(args.data)
    if not files:
        print(f"bench/gait.py: no CSV files in {args.data}", file=sys.stderr)
        return 2
    report = {
        "validation": accuracy(files),
        "false_steps": false_steps(),
        "synthetic_walking": synthetic_walking(),
        "throughput_one_core": throughput(files),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
