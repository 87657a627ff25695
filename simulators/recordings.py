"""Real recordings with ground truth (the Oxford step counter validation set), for tests, benches.

The files lie beside the project, in `../shared/data/`; their format is not the `analyze` one.
"""

from __future__ import annotations

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
