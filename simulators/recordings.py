"""Real recordings with step ground truth, for tests and benches.

The Oxford step counter validation set (phones, ~100 Hz) and the IPOL lower-back dev trials
(100 Hz, every footstep annotated). The files lie beside the project, in `../shared/data/`;
their format is not the `analyze` one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parents[1]
VALIDATION = REPO.parent / "shared" / "data" / "oxford-step-counter" / "validation"
STANDARD_GRAVITY = 9.80665


@dataclass(frozen=True, slots=True, eq=False)
class ValidationRecording:
    """One validation file: times (s), acceleration (g), true steps, and the peers' totals."""

    name: str
    t: NDArray[np.float64]
    xyz: NDArray[np.float64]
    truth: int
    app: int
    hardware: int | None


def load_validation(directory: Path = VALIDATION) -> list[ValidationRecording]:
    """The 7-column, header-less files: ns timestamps, m/s^2, three cumulative step counters."""
    out = []
    for path in sorted(directory.glob("*.csv")):
        a = np.loadtxt(path, delimiter=",", ndmin=2)
        out.append(
            ValidationRecording(
                name=path.stem,
                t=(a[:, 0] - a[0, 0]) / 1e9,
                xyz=a[:, 1:4] / STANDARD_GRAVITY,
                truth=int(a[:, 5].max()),
                app=int(a[:, 4].max()),
                hardware=int(a[:, 6].max()) or None,
            )
        )
    return out


IPOL_LUMBAR = REPO.parent / "shared" / "data" / "ipol-lumbar-dev"
IPOL_RATE_HZ = 100.0


@dataclass(frozen=True, slots=True, eq=False)
class LumbarTrial:
    """One IPOL lower-back trial: times (s), acceleration (g), true steps, walk and U-turn (s)."""

    name: str
    subject: int
    t: NDArray[np.float64]
    xyz: NDArray[np.float64]
    truth: int
    walk: tuple[float, float]
    uturn: tuple[float, float]


def load_lumbar(directory: Path = IPOL_LUMBAR) -> list[LumbarTrial]:
    """The `S-T_lb.txt` files (100 Hz, m/s^2) with their `S-T.json` footstep annotations.

    The true count is the number of annotated footsteps, left plus right (the data's README).
    Time is the packet counter over the rate: the sensor lost packets (up to 80 ms in a row),
    and the annotations count packets, not rows.
    """
    out = []
    for meta_path in sorted(directory.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        raw = np.loadtxt(directory / f"{meta_path.stem}_lb.txt", skiprows=2, ndmin=2)
        walk = meta["TrialBoundaries"]
        uturn = meta["UTurnBoundaries"]
        out.append(
            LumbarTrial(
                name=meta_path.stem,
                subject=int(meta["Subject"]),
                t=raw[:, 0] / IPOL_RATE_HZ,
                xyz=raw[:, 1:4] / STANDARD_GRAVITY,
                truth=len(meta["LeftFootEvents"]) + len(meta["RightFootEvents"]),
                walk=(walk[0] / IPOL_RATE_HZ, walk[1] / IPOL_RATE_HZ),
                uturn=(uturn[0] / IPOL_RATE_HZ, uturn[1] / IPOL_RATE_HZ),
            )
        )
    return out
