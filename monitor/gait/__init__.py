"""Steps, walking and movement from raw acceleration: pure numpy/scipy, no I/O, no clock."""

from monitor.gait.batch import analyze_gait
from monitor.gait.codec import GaitStateError
from monitor.gait.minutes import MOVING_ENMO_MG, WALKING_MIN_CADENCE_SPM
from monitor.gait.models import Bout, GaitResult, MinuteActivity
from monitor.gait.streaming import StreamingGait

__all__ = [
    "MOVING_ENMO_MG",
    "WALKING_MIN_CADENCE_SPM",
    "Bout",
    "GaitResult",
    "GaitStateError",
    "MinuteActivity",
    "StreamingGait",
    "analyze_gait",
]
