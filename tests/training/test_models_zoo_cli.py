"""`imuad zoo` as a tool a user can trust: exit status, whole failure messages without ANSI codes,
warnings (no anomalous val/test window, unknown sample rate), the best deployable model named by
val score with its cost (measured on the emulated Cortex-M4), converter chatter captured,
log-friendly progress."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imuad.cli import main
from imuad.training.compare import plain


def _npz(path: Path, y: np.ndarray, fs: float | None = None) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(0, 200, (len(y), 3)) + np.where(y[:, None] == 1, rng.normal(0, 900, (len(y), 3)), 0)
    arrays = {"X": np.rint(X), "y": y}
    if fs:
        arrays["fs"] = np.float64(fs)
    np.savez(path, **arrays)
    return path


def test_every_entry_failing_exits_nonzero_with_whole_messages(tmp_path, capsys):
    data = _npz(tmp_path / "r.npz", (np.arange(3000) // 500 % 2).astype(np.int8))
    rc = main(["zoo", "--data", str(data), "--archs", "transformer", "autoencoder", "--window", "6",
               "--out", str(tmp_path / "z")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "sample rate unknown" in err
    assert "transformer FAILED: transformer: window 6 is not valid (the window must be a multiple of 8 and >= 16); " \
           "the smallest valid window is 16" in err
    assert "autoencoder FAILED" in err and "every entry failed (2 of 2)" in err
    md = (tmp_path / "z" / "zoo.md").read_text()
    assert "\x1b" not in md and "the smallest valid window is 4, the nearest valid: 4" in md
    summary = json.loads((tmp_path / "z" / "zoo.json").read_text())
    assert summary["exit_status"] == 1 and all("error" in r for r in summary["rows"])


def test_no_anomalous_window_in_val_or_test_warns_and_exits_nonzero(tmp_path, capsys):
    y = np.zeros(6000, np.int8)
    y[200:203] = y[900:902] = y[1500:1504] = 1      # short events, all inside the train block
    data = _npz(tmp_path / "early.npz", y, fs=1000.0)
    rc = main(["zoo", "--data", str(data), "--archs", "classical:iforest", "--window", "32", "--hop", "8",
               "--out", str(tmp_path / "z")])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "split stream" in out and "newest 8 samples" in out       # auto mode, with the reason
    assert "the val split has no anomalous window" in err and "the test split has no anomalous window" in err
    assert "sample rate unknown" not in err


def test_best_deployable_by_val_with_cost_and_no_converter_chatter(synth_npz, tmp_path, capfd):
    rc = main(["zoo", "--data", str(synth_npz), "--archs", "spectral", "classical", "--epochs", "2",
               "--out", str(tmp_path / "z")])
    out, err = capfd.readouterr()
    assert rc == 0
    summary = json.loads((tmp_path / "z" / "zoo.json").read_text())
    b = summary["best_deployable"]
    assert b["model"] == "spectral" and 0 < b["tflite_bytes"] <= 32 * 1024 and b["arena_bytes_measured"] > 0
    line = (f"Best deployable model (by val F1): **spectral** — val F1 {b['val_f1']:.3f}")
    assert line in out and f"{b['macs']} MACs, {b['tflite_bytes']} B flatbuffer" in out
    assert "Best host-only baseline (by val F1): classical_logreg" in out
    # cost measured on the Cortex-M4 emulator (CMSIS-NN), or said to be not measured
    from imuad.targets import get_target
    c = b["cost"]
    if get_target("qemu-nn").available()[0]:
        assert c["target"] == "qemu-nn" and c["instructions"] > 0 and c["arena_used"] > 0
        assert c["bit_exact"] == c["windows"] == 3
        assert f"on the Cortex-M4 (qemu-nn): {c['instructions']:,} instructions/inference" in out
        row = next(r for r in summary["rows"] if r["model"] == "spectral")
        assert f"| {c['arena_used']} | {c['instructions']:,} |" in out and row["int8"]["cost"] == c
    else:
        assert "not_measured" in c and "Cortex-M4 cost not measured" in out
    assert "| spectral **(best deployable)** | device |" in out and "| classical_logreg | host |" in out
    # TF converter chatter stays captured (fd 2 C++ lines and Python warnings alike)
    for noise in ("fully_quantize", "inference_type", "Statistics for quantized inputs", "absl::InitializeLog"):
        assert noise not in err and noise not in out
    assert "Epoch 1/2" in out and "/step" in out                      # one line per epoch in a log
    assert "\r" not in out


def test_progress_bars_stay_out_of_logs(capfd):
    from imuad.deploy.interpreters import _loop
    out = _loop(np.zeros((300, 4, 1), np.int8), lambda: None, lambda x: np.ones(1, np.int8), True, "tflm")
    assert out.shape == (300, 1)
    assert capfd.readouterr().err == ""                             # stderr is not a TTY under pytest


def test_plain_strips_terminal_colours():
    assert plain("\x1b[1m\x1b[31mValueError\x1b[0m: Computed output size would be zero") == \
        "ValueError: Computed output size would be zero"


@pytest.mark.parametrize("argv", [["--window", "0"], ["--hop", "-2"]])
def test_window_and_hop_must_be_positive(tmp_path, capsys, argv):
    assert main(["zoo", "--data", str(tmp_path / "x.npz")] + argv) == 2  # argparse's usage error
    assert "must be >= 1" in capsys.readouterr().err
