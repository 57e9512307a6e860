"""What every firmware target must reproduce for one stream: TFLM Python (reset before every
window) + the integer contracts C2-C5."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..contracts.card import ModelDir
from ..contracts.decision import Decider
from ..contracts.windows import stream_windows
from ..deploy.interpreters import run_tflm


@dataclass
class StreamReference:
    outputs: np.ndarray                  # int8 [N, n_out], raw output tensor per window
    scores: np.ndarray                   # int64 [N]
    states: list[int]
    events: list[tuple[int, int, int]]   # (window, kind, score)


def stream_reference(model: ModelDir, counts: np.ndarray) -> StreamReference:
    """The host's answer for an int16 stream [T, C] fed from window 0 (after HELLO)."""
    card = model.card
    X = stream_windows(np.asarray(counts, np.int16), card.window, card.hop)
    if len(X) == 0:
        return StreamReference(np.zeros((0, card.n_outputs), np.int8), np.zeros(0, np.int64), [], [])
    xq = card.preprocess.apply(X)
    out = np.asarray(run_tflm(model.tflite, xq)).reshape(len(X), -1).astype(np.int8)
    scores = np.asarray(card.score(out, xq), np.int64)
    states, _, events = Decider.of(card.decision).run(scores)
    return StreamReference(out, scores, [int(s) for s in states], [e.as_tuple() for e in events])
