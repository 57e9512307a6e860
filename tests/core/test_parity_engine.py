"""The `host` firmware engine registered with imuad.deploy.engines gives TFLM's outputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from imuad.paths import REPO_ROOT
from imuad.reference import Decider, Score, stream_windows

engines = pytest.importorskip("imuad.deploy.engines")


def test_host_engine_matches_tflm(host_build):
    d = REPO_ROOT / "models/synth"
    card = json.loads((d / "model_card.json").read_text())
    W, H = card["window"], card["hop"]
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1500, (W + H * 59, 3))
    x[H * 10:H * 25] *= 8  # a loud stretch: events to compare
    counts = np.clip(x.round(), -32768, 32767).astype(np.int16)
    X = stream_windows(counts, W, H)
    starts = np.arange(len(X)) * H
    # two blocks (second one far away), given out of order to check the index mapping
    order = np.r_[30:60, 0:30]
    batch = engines.WindowBatch(X[order], np.where(order >= 30, starts[order] + 10**6, starts[order]),
                                (order >= 30).astype(np.int32), hop=H)
    assert engines.is_firmware("host")
    got = engines.run_engine("host", d, card, batch)
    ref = engines.run_engine("tflm", d, card, batch)
    np.testing.assert_array_equal(got.outputs, ref.outputs)
    assert len(got.info["infer_us"]) == len(batch)
    # the firmware's events, block by block (each a stream from a HELLO), in batch indices
    scores = Score.from_card(card)(ref.outputs, X[order])
    want = []
    for block in (np.flatnonzero(order >= 30), np.flatnonzero(order < 30)):
        block = block[np.argsort(order[block])]
        _, _, events = Decider.from_card(card).run(scores[block])
        want += [(int(block[e.window]), e.kind, e.score) for e in events]
    assert want and sorted(got.events) == sorted(want)
