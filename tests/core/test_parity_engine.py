"""The `host` firmware engine registered with imuad.deploy.engines gives TFLM's outputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from imuad.paths import REPO_ROOT
from imuad.reference import stream_windows

engines = pytest.importorskip("imuad.deploy.engines")


def test_host_engine_matches_tflm(host_build):
    d = REPO_ROOT / "tests/core/fixtures/models/fixture_cnn"
    card = json.loads((d / "model_card.json").read_text())
    rng = np.random.default_rng(3)
    counts = rng.integers(-4000, 4000, (32 + 16 * 59, 3)).astype(np.int16)
    X = stream_windows(counts, 32, 16)
    starts = np.arange(len(X)) * 16
    # two blocks (second one far away), given out of order to check the index mapping
    order = np.r_[30:60, 0:30]
    batch = engines.WindowBatch(X[order], np.where(order >= 30, starts[order] + 10**6, starts[order]),
                                (order >= 30).astype(np.int32), hop=16)
    assert engines.is_firmware("host")
    got = engines.run_engine("host", d, card, batch)
    ref = engines.run_engine("tflm", d, card, batch)
    np.testing.assert_array_equal(got.outputs, ref.outputs)
    assert got.events is not None and len(got.info["infer_us"]) == len(batch)
