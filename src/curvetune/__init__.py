"""curvetune: hyperparameter tuning for neural networks, from a laptop to a supercomputer."""

from .asktell import TrialHandle
from .space import Choice, Float, Int, Space
from .spec import StudySpec
from .study import Study
from .types import Complete, Continue, Exploit, History, Report, Stop, Trial, TrialState
from .worker import SegmentContext, Trainable

__version__ = "0.1.0"

__all__ = [
    "Choice",
    "Complete",
    "Continue",
    "Exploit",
    "Float",
    "History",
    "Int",
    "Report",
    "SegmentContext",
    "Space",
    "Stop",
    "Study",
    "StudySpec",
    "Trainable",
    "Trial",
    "TrialHandle",
    "TrialState",
]
