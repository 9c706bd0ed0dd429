"""The store's JSON: the fast paths for common events and plain reports write exactly what
the general encoder would read back to the same values."""

import dataclasses
import json
import math

import numpy as np
import pytest

from curvetune.events import (
    CheckpointSaved,
    Decided,
    Exploited,
    SegmentFinished,
    SegmentLost,
    TrialCreated,
    TrialFinished,
)
from curvetune.storage.codec import decode_event, decode_json, encode_event, encode_metrics
from curvetune.types import Report, TrialState

EVENTS = [
    TrialCreated(3, {"lr": 0.1, "arch": "mlp", "hidden": [64, 32]}, 12345),
    TrialCreated(4, {"lr": 1e-5, "n": 3, "on": True, "off": False, "none": None, "é": '"'}, 7),
    Decided(3, "Continue", until=2),
    Decided(3, "Complete"),
    Decided(3, "Stop", reason='worse than "50%" — of 7', details={"rank": np.float64(0.8)}),
    Decided(3, "Wait", reason="generation 2 \\ barrier"),
    SegmentFinished(3, 0, 2, "ok", seconds=0.125),
    SegmentFinished(3, 2, 4, "error", error="Traceback...\n  ValueError: é\n", seconds=1e-7),
    SegmentFinished(3, 2, 4, "ok", seconds=0),
    CheckpointSaved(3, 4),
    Exploited(3, 1, 4, {"lr": 0.2}),
    SegmentLost(3, 1, "TerminatedWorkerError: gone"),
    TrialFinished(3, TrialState.DIVERGED, "loss became nan at step 2"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_comes_back_as_it_was_written(event):
    text = encode_event(event)
    json.loads(text)  # valid JSON, whichever path wrote it
    reports = (Report(1, {"loss": 0.5}),) if isinstance(event, SegmentFinished) else ()
    back = decode_event(type(event).__name__, event.trial, text, reports)
    expected = dataclasses.replace(event, reports=reports) if reports else event
    assert back == expected
    if isinstance(event, Decided) and event.details:
        assert back.details == {"rank": 0.8}


@pytest.mark.parametrize(
    "metrics",
    [
        {"loss": 0.1, "accuracy": 0.975},
        {"loss": math.nan, "x": math.inf, "y": -math.inf},
        {"név": 1e-300, 'a"b': 2.5},
        {"int": 3, "np": np.float32(0.5)},  # not plain floats: the general encoder
    ],
)
def test_metrics_come_back_as_they_were_written(metrics):
    text = encode_metrics(metrics)
    back = decode_json(text)
    assert back.keys() == metrics.keys()
    for key, value in metrics.items():
        assert (math.isnan(back[key]) and math.isnan(value)) or back[key] == value
    assert json.loads(text) == json.loads(json.dumps({k: float(v) for k, v in metrics.items()}))
