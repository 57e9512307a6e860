"""A firmware target as a parity engine (imuad.evaluation.engines): each block of a WindowSet is
streamed as its own replay and mapped back; outputs and events equal TFLM's."""
from __future__ import annotations

import numpy as np

from imuad.contracts.card import load_model_dir
from imuad.contracts.decision import Decider
from imuad.contracts.windows import WindowSet, stream_windows
from imuad.evaluation import engines
from imuad.paths import REPO_ROOT


def test_host_engine_matches_tflm():
    model = load_model_dir(REPO_ROOT / "models/synth")
    card = model.card
    W, H = card.window, card.hop
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1500, (W + H * 59, 3))
    x[H * 10:H * 25] *= 8  # a loud stretch: events to compare
    counts = np.clip(x.round(), -32768, 32767).astype(np.int16)
    X = stream_windows(counts, W, H)
    starts = np.arange(len(X)) * H
    # two blocks (second one far away), given out of order to check the index mapping
    order = np.r_[30:60, 0:30]
    ws = WindowSet(X[order], np.zeros(len(order), np.int8), np.where(order >= 30, starts[order] + 10**6,
                   starts[order]), (order >= 30).astype(np.int32))
    assert engines.is_firmware("host") and not engines.is_firmware("tflm")
    got = engines.run_engine("host", model, ws)
    ref = engines.run_engine("tflm", model, ws)
    np.testing.assert_array_equal(got.outputs, ref.outputs)
    assert len(got.info["infer_us"]) == len(ws)
    # the firmware's events, block by block (each a stream from a HELLO), in WindowSet indices
    scores = card.score(ref.outputs, card.preprocess.apply(X[order]))
    want = []
    for block in (np.flatnonzero(order >= 30), np.flatnonzero(order < 30)):
        block = block[np.argsort(order[block])]
        _, _, events = Decider.of(card.decision).run(scores[block])
        want += [(int(block[e.window]), e.kind, e.score) for e in events]
    assert want and sorted(got.events) == sorted(want)
