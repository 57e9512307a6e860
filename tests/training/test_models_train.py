"""Training smoke test, run folder contents, Run.load round trip, HTML report."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from imuad.training import evaluate as ev
from imuad.training.run import Run

RUN_KEYS = {"arch", "seed", "recording", "recording_sha256", "counts_per_unit", "window", "hop", "fractions",
            "channels", "sample_rate_hz", "normalizer", "train_config", "threshold", "params", "train_seconds",
            "metrics"}


def test_cnn_learns_on_synthetic_faults(cnn_run):
    cfg = json.loads((cnn_run / "run.json").read_text())
    assert RUN_KEYS <= set(cfg)
    test = cfg["metrics"]["test"]
    assert test["n_anomaly"] > 0 and test["n"] > test["n_anomaly"]
    # chance level for F1 is about the anomaly share (~0.5); the model must do far better
    assert test["f1"] >= 0.8, test
    assert test["roc_auc"] >= 0.9, test
    assert cfg["threshold_split"] == "val"
    assert cfg["params"] > 0 and cfg["macs"] > 0
    for name in ("model.keras", "history.json", "scores.npz", "report.html"):
        assert (cnn_run / name).is_file(), name
    hist = json.loads((cnn_run / "history.json").read_text())
    assert len(hist["loss"]) == cfg["train_config"]["epochs_run"] and "val_loss" in hist


def test_run_load_round_trip(cnn_run):
    run = Run.load(cnn_run)
    cfg = json.loads((cnn_run / "run.json").read_text())
    assert run.config == cfg and run.arch == "cnn"
    sets = run.splits()
    assert {k: len(v) for k, v in sets.items()} == cfg["n_windows"]
    assert sets["test"].X.dtype == np.int16
    np.testing.assert_allclose(run.normalizer.mean, cfg["normalizer"]["mean"])
    scores = run.predict_float(sets["test"].X)
    stored = np.load(cnn_run / "scores.npz")["test_score"]
    np.testing.assert_allclose(scores, stored, rtol=1e-5, atol=1e-6)
    # same threshold, same recomputed metrics as stored at training time
    m = ev.metrics(sets["test"].y, scores, run.threshold)
    assert m["confusion"] == cfg["metrics"]["test"]["confusion"]
    assert run.predict_label(sets["test"].X[:3]).shape == (3,)


def test_threshold_is_the_val_optimum(cnn_run):
    run = Run.load(cnn_run)
    sc = np.load(cnn_run / "scores.npz")
    assert run.threshold == pytest.approx(ev.best_threshold(sc["val_y"], sc["val_score"]))
    assert run.config["metrics"]["val"]["f1"] == pytest.approx(
        ev.precision_recall_f1(sc["val_y"], sc["val_score"] >= run.threshold)[2])


def test_report_embeds_the_plots(cnn_run):
    html = (cnn_run / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 4                      # score/time, ROC+PR, confusion x2, training curves
    for b64 in images:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "threshold" in html and "test" in html
    for png in ("score_over_time", "roc_pr", "confusion_test", "training_curves"):
        assert (cnn_run / "plots" / f"{png}.png").is_file()


def test_evaluate_command_reproduces(cnn_run, capsys):
    from imuad.cli import main
    assert main(["evaluate", str(cnn_run)]) == 0
    out = capsys.readouterr().out
    assert "test" in out and "report:" in out and "differs" not in out


def test_autoencoder_and_classical_train(synth_npz, tmp_path):
    from imuad.training.train import train
    ae = Run.load(train(synth_npz, "autoencoder", tmp_path / "ae", epochs=3, verbose=0, report=False))
    assert ae.config["score_kind"] == "recon_error"
    X = ae.splits()["val"].X[:4]
    assert ae.model.output_shape[1:] == X.shape[1:]          # reconstruction of the window
    assert np.all(ae.predict_float(X) >= 0)
    cl = Run.load(train(synth_npz, "classical", tmp_path / "cl", verbose=0, report=False))
    assert (tmp_path / "cl" / "model.joblib").is_file()
    assert cl.config["metrics"]["test"]["f1"] >= 0.8
    s = cl.predict_float(cl.splits()["test"].X)
    assert np.all((0 <= s) & (s <= 1))


def test_bad_inputs_are_user_errors(synth_npz, tmp_path):
    from imuad.errors import ImuadError
    from imuad.training.train import train
    with pytest.raises(ImuadError, match="unknown architecture"):
        train(synth_npz, "resnet", tmp_path / "x")
    with pytest.raises(ImuadError, match="not a run folder"):
        Run.load(tmp_path)


def test_same_seed_same_run(synth_npz, tmp_path):
    from imuad.training.train import train
    runs = [train(synth_npz, "cnn", tmp_path / f"r{i}", hop=512, epochs=2, seed=5, verbose=0, report=False)
            for i in range(2)]
    a, b = (np.load(r / "scores.npz")["test_score"] for r in runs)
    np.testing.assert_array_equal(a, b)
