"""Fixtures for the gait tests: simulated recordings and the shared real recordings."""

from __future__ import annotations

import pytest

from simulators.motion import Activity, Placement, Recording, Sampling, Segment, simulate
from simulators.recordings import (
    IPOL_LUMBAR,
    VALIDATION,
    LumbarTrial,
    ValidationRecording,
    load_lumbar,
    load_validation,
)


@pytest.fixture(scope="session")
def validation() -> list[ValidationRecording]:
    """The 12 Oxford validation recordings; skipped, saying where, only if they are absent."""
    recordings = load_validation()
    if not recordings:
        pytest.skip(f"validation data not found in {VALIDATION}")
    return recordings


@pytest.fixture(scope="session")
def lumbar() -> list[LumbarTrial]:
    """The 34 IPOL lower-back dev trials; skipped, saying where, only if they are absent."""
    trials = load_lumbar()
    if not trials:
        pytest.skip(f"IPOL lower-back dev data not found in {IPOL_LUMBAR}")
    return trials


@pytest.fixture(scope="session")
def day_mixture() -> Recording:
    """Three minutes of everyday life with three walks, on the wrist, at an epoch start time."""
    return simulate(
        [
            Segment(Activity.STILL, 20.0),
            Segment(Activity.WALKING, 50.0, 95.0),
            Segment(Activity.ARM_GESTURES, 25.0),
            Segment(Activity.WALKING, 30.0, 70.0),
            Segment(Activity.VEHICLE, 25.0),
            Segment(Activity.WALKING, 20.0, 110.0),
        ],
        Placement.WRIST,
        seed=11,
        sampling=Sampling(rate_hz=50.0, jitter=0.2, dropouts_per_min=1.0),
        start_s=1_764_000_017.3,
    )
