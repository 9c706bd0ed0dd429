"""Running a study: the decision core (``core``), the one writer (``journal``), the
segments on workers (``pool``) and the loop that ties them together for ``optimize``
(``loop``). Ask/tell (``curvetune.asktell``) drives the same core from a user's loop."""

from .checks import StudyHalted
from .core import DecisionCore
from .journal import FLUSH_SECONDS, Journal, Listener, fan_out
from .loop import Controller

__all__ = [
    "FLUSH_SECONDS",
    "Controller",
    "DecisionCore",
    "Journal",
    "Listener",
    "StudyHalted",
    "fan_out",
]
