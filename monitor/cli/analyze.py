"""The `analyze` command: steps and walking in accelerometer recordings, one JSON line per file.

A recording is a CSV file with a header row naming its columns: `x`, `y`, `z` (acceleration,
in g or m/s^2) and optionally `t` (seconds, non-decreasing; jitter and gaps are fine). Without
`t` the samples are taken to be evenly spaced at `--rate`. Other columns are ignored.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from monitor.errors import ParseError
from monitor.gait import GaitResult, analyze_gait

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
STANDARD_GRAVITY = 9.80665  # m/s^2 in one g
UNITS = ("g", "m/s2")


class RecordingError(ParseError):
    """A recording file that cannot be analysed; the message says why, in one line."""


@dataclass(frozen=True, slots=True, eq=False)
class Recording:
    """Sample times (s) and acceleration (N x 3, g) read from a file."""

    t: NDArray[np.float64]
    xyz: NDArray[np.float64]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `analyze` on the command line."""
    parser = subparsers.add_parser(
        "analyze",
        help="steps and walking in accelerometer recordings (CSV)",
        description="Prints one JSON object per file: steps, walking and movement minutes, "
        "cadence and duration; or the reason a file could not be read.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.csv")
    parser.add_argument(
        "--rate", type=float, metavar="HZ", help="sampling rate, for files without a t column"
    )
    parser.add_argument("--units", choices=UNITS, default="g", help="units of x, y, z")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Analyse each file and print its JSON line; 1 if any could not be read, 2 for bad usage."""
    rate: float | None = args.rate
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        print(
            f"recovery-monitor analyze: --rate must be a positive number, not {rate}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    failed = 0
    for path in args.files:
        try:
            recording = read_recording(path, rate=rate, units=args.units)
            line = summarize(str(path), recording, analyze_gait(recording.t, recording.xyz))
        except RecordingError as error:
            failed += 1
            line = {"file": str(path), "error": str(error)}
        print(json.dumps(line), flush=True)
    if failed:
        print(
            f"recovery-monitor analyze: {failed} of {len(args.files)} file(s) could not be read",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def summarize(name: str, recording: Recording, result: GaitResult) -> dict[str, object]:
    """The JSON object for one analysed file."""
    t = recording.t
    start, end = float(t[0]), float(t[-1])
    # A movement minute counts in proportion to how much of it the recording covers, so a
    # recording that ends ten seconds into a minute does not earn that whole minute.
    movement = sum(
        max(0.0, min(end, 60.0 * (m.minute + 1)) - max(start, 60.0 * m.minute)) / 60.0
        for m in result.minutes
        if m.moving
    )
    cadence = result.cadence_spm
    return {
        "file": name,
        "steps": result.steps,
        "walking_minutes": round(result.walking_minutes, 3),
        "movement_minutes": round(movement, 3),
        "cadence_spm": None if cadence is None else round(cadence, 1),
        "duration_s": round(end - start, 3),
    }


def read_recording(path: Path, *, rate: float | None, units: str) -> Recording:
    """Read a CSV recording; RecordingError names the first problem (and where it is)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            header_line = file.readline()
            if not header_line.strip():
                raise RecordingError("the file is empty (a header row with x,y,z is needed)")
            names = [name.strip().lower() for name in next(csv.reader([header_line]))]
            missing = [c for c in ("x", "y", "z") if c not in names]
            if missing:
                raise RecordingError(
                    f"missing column(s) {', '.join(missing)}: the header has {', '.join(names)}"
                )
            columns = [names.index(c) for c in ("x", "y", "z")]
            spacing = 0.0  # seconds between samples, when the file has no t column
            if "t" in names:
                columns.append(names.index("t"))
            elif rate is None:
                raise RecordingError("no t column: give the sampling rate with --rate HZ")
            else:
                spacing = 1.0 / rate
            try:
                data = _parse_numbers(file, columns)
            except ValueError:
                data = None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RecordingError(f"cannot read the file: {error}") from error
    if data is None:
        raise RecordingError(_first_bad_row(path, columns, len(names)))
    if data.shape[0] == 0:
        raise RecordingError("no samples after the header row")
    if not np.isfinite(data).all():
        row = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
        raise RecordingError(f"sample {row + 1}: values must be finite numbers")
    xyz = data[:, :3]
    if units == "m/s2":
        xyz = xyz / STANDARD_GRAVITY
    if spacing:
        t = np.arange(data.shape[0]) * spacing
    else:
        t = data[:, 3]
        backwards = np.flatnonzero(np.diff(t) < 0)
        if backwards.size:
            i = int(backwards[0]) + 1
            raise RecordingError(
                f"time goes backwards at sample {i + 1} (t={t[i]:g} after t={t[i - 1]:g})"
            )
    return Recording(t=np.ascontiguousarray(t), xyz=np.ascontiguousarray(xyz))


def _parse_numbers(file: TextIO, columns: list[int]) -> NDArray[np.float64]:
    with warnings.catch_warnings():
        # A header without data is reported by the caller, in its own words.
        warnings.simplefilter("ignore", UserWarning)
        parsed = np.loadtxt(file, delimiter=",", usecols=columns, ndmin=2, comments=None)
    return np.asarray(parsed, dtype=np.float64)


def _first_bad_row(path: Path, columns: list[int], width: int) -> str:
    """Describe the first data row numpy could not read (the slow path, on errors only)."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        rows = csv.reader(file)
        next(rows, None)
        sample = 0
        for fields in rows:
            if not "".join(fields).strip():
                continue
            sample += 1
            if len(fields) <= max(columns):
                return f"sample {sample} has {len(fields)} field(s), the header names {width}"
            for c in columns:
                try:
                    float(fields[c])
                except ValueError:
                    return f"sample {sample}: {fields[c].strip()!r} is not a number"
    return "the data rows cannot be read as numbers"
