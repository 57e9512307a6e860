"""One tiny trained model (duck-typed Run), quantized and exported once per session: the
fixtures `tiny_run` / `tiny_export` of tests/conftest.py build on it."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

W, H, C = 32, 16, 3


def _windows(rng: np.random.Generator, n: int, block: int):
    """n hop-spaced windows of one continuous stream: runs of normal / anomalous vibration."""
    from imuad.contracts.windows import WindowSet, window_labels
    T = (n - 1) * H + W
    lab = (np.arange(T) // (8 * H) % 2).astype(np.int8)   # alternating runs of 8 hops
    t = np.arange(T)[:, None]
    amp = np.where(lab[:, None] == 1, 900.0, 300.0)
    X = 100 + amp * np.sin(2 * np.pi * (t / 8.0 + rng.random((1, C)))) + rng.normal(0, 120, (T, C))
    X[:, 2] -= 1000                                        # a gravity-like offset on one axis
    counts = np.clip(np.rint(X), -32768, 32767).astype(np.int16)
    start = np.arange(n, dtype=np.int64) * H
    Xw = counts[start[:, None] + np.arange(W)[None, :]]
    return WindowSet(Xw, window_labels(lab, start, W), start + block * 100_000, np.full(n, block, np.int32))


class TinyRun:
    """Duck-typed imuad.training.run.Run: a small CNN trained for a few epochs on toy windows."""

    def __init__(self, directory: Path, arch: str = "cnn"):
        import keras
        from imuad.data.splits import Normalizer
        rng = np.random.default_rng(0)
        self.dir = directory
        self._splits = {"train": _windows(rng, 192, 0), "val": _windows(rng, 64, 1), "test": _windows(rng, 64, 2)}
        self.normalizer = Normalizer.fit(self._splits["train"])
        keras.utils.set_random_seed(0)
        inp = keras.Input((W, C), name="window")
        x = keras.layers.Conv1D(6, 5, strides=2, padding="same", activation="relu", name="conv1")(inp)
        if arch == "autoencoder":
            x = keras.layers.Conv1DTranspose(C, 5, strides=2, padding="same", name="recon")(x)
        elif arch == "cnn_lstm":
            x = keras.layers.LSTM(6, name="lstm")(x)
        else:
            x = keras.layers.Conv1D(8, 3, padding="same", activation="relu", name="conv2")(x)
            x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
            x = keras.layers.Dense(6, activation="relu", name="fc")(x)
        tr = self._splits["train"]
        if arch == "autoencoder":
            self.model = keras.Model(inp, x)
            self.model.compile("adam", "mse")
            Xn = self.normalizer.apply(tr.X[tr.y == 0])
            self.model.fit(Xn, Xn, epochs=4, batch_size=32, verbose=0)
        else:
            out = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
            self.model = keras.Model(inp, out)
            self.model.compile("adam", "binary_crossentropy")
            self.model.fit(self.normalizer.apply(tr.X), tr.y, epochs=4, batch_size=32, verbose=0)
        self.config = {"arch": arch, "seed": 0, "recording": str(directory / "toy.npz"), "recording_sha256": "0" * 64,
                       "counts_per_unit": 1.0, "window": W, "hop": H, "fractions": [0.6, 0.2, 0.2],
                       "channels": ["x", "y", "z"], "sample_rate_hz": 100.0, "normalizer": self.normalizer.to_dict(),
                       "score_kind": "recon_error" if arch == "autoencoder" else "class_prob",
                       "output_meaning": "anomaly probability (sigmoid)",
                       "train_config": {"epochs": 4}, "threshold": 0.5}
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "run.json").write_text(json.dumps(self.config))

    def splits(self):
        return self._splits
