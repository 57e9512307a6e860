"""The normal-only spectral_gauss model: fitted on normal windows alone, blind to the machine's
level (C3 window_int), sensitive to its spectral shape, and the same in int8 as in float."""
from __future__ import annotations

import json

import numpy as np
import pytest

from imuad.data.splits import Normalizer
from imuad.training.zoo import adapt_model, build_model

W, C = 128, 3


def tones(n: int, freq: float, seed: int, level: float = 1000.0) -> np.ndarray:
    """n int16 windows [n, W, C]: a tone at `freq` cycles/sample, its 2nd harmonic, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(W)[None, :, None]
    ph = rng.uniform(0, 2 * np.pi, (n, 1, C))
    x = np.sin(2 * np.pi * freq * t + ph) + 0.3 * np.sin(4 * np.pi * freq * t + 2 * ph)
    x = level * (x + 0.2 * rng.standard_normal((n, W, C)))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def fitted():
    normal = np.concatenate([tones(150, 0.05, 0, 1000.0), tones(150, 0.05, 1, 120.0)])  # two levels
    norm = Normalizer.fit(normal, mode="window")
    model = build_model("spectral_gauss", W, C)
    anomalous = tones(60, 0.21, 2)
    X = norm.apply(np.concatenate([normal, anomalous]))
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))].astype(np.int8)
    adapt_model("spectral_gauss", model, X, y)
    return norm, model, X, y


def score(norm, model, counts):
    return model.predict(norm.apply(counts), verbose=0)[:, 0]


def test_fitted_on_normal_windows_only(fitted):
    norm, model, X, y = fitted
    other = build_model("spectral_gauss", W, C)
    X2 = X.copy()
    X2[y == 1] = np.random.default_rng(9).standard_normal(X2[y == 1].shape)  # other anomalies
    adapt_model("spectral_gauss", other, X2, y)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_level_does_not_matter_shape_does(fitted):
    norm, model, _, _ = fitted
    s_normal = score(norm, model, tones(40, 0.05, 5, 400.0))
    s_louder = score(norm, model, tones(40, 0.05, 5, 8000.0))        # 20x: a level never seen
    s_fault = score(norm, model, tones(40, 0.13, 6, 400.0))          # same level, new spectrum
    np.testing.assert_allclose(s_normal, s_louder, rtol=0.05, atol=0.05)
    assert s_fault.min() > 2 * s_normal.max()


def test_global_normalisation_would_see_the_level(fitted):
    """What window_int buys: with the train statistics a 20x louder normal window is far away."""
    _, model, _, _ = fitted
    quiet, loud = tones(20, 0.05, 7, 120.0), tones(20, 0.05, 7, 2400.0)
    glob = Normalizer.fit(np.concatenate([tones(100, 0.05, 0, 1000.0)]))
    assert glob.mode == "global"
    xq, xl = glob.apply(quiet), glob.apply(loud)
    assert np.abs(xl).mean() > 10 * np.abs(xq).mean()


def test_train_quantize_window_int_end_to_end(synth_npz, tmp_path):
    """`imuad train --arch spectral_gauss` then quantize: no epochs, normal windows only, C3
    window_int in the card constants, int8 scores agree with float ones on the test split."""
    from sklearn.metrics import roc_auc_score

    from imuad.contracts.preprocess import Preprocess
    from imuad.deploy.interpreters import run_tflm
    from imuad.deploy.quantize import quantize_run
    from imuad.training.run import Run
    from imuad.training.train import train
    out = train(synth_npz, "spectral_gauss", tmp_path / "sg", window=W, hop=64, report=False)
    cfg = json.loads((out / "run.json").read_text())
    assert cfg["train_config"]["epochs_run"] == 0 and cfg["train_config"]["trained_on"] == "normal train windows"
    assert cfg["normalizer"]["mode"] == "window" and min(cfg["normalizer"]["min_rms"]) >= 1
    run = Run.load(out)
    q = quantize_run(run, verbose=False)
    pre = Preprocess.from_card(q)
    assert pre.kind == "window_int" and q["preprocessing"]["kind"] == "window_int"
    assert "L2_NORMALIZATION" in q["ops"]
    test = run.splits()["test"]
    tfl = (out / q["tflite"]).read_bytes()
    s8 = run_tflm(tfl, pre.apply(test.X))[:, 0].astype(int)
    sf = run.model.predict(run.normalizer.apply(test.X), verbose=0)[:, 0]
    assert np.corrcoef(s8, sf)[0, 1] > 0.95
    if test.y.any() and not test.y.all():
        assert abs(roc_auc_score(test.y, s8) - roc_auc_score(test.y, sf)) < 0.03
