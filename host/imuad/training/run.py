"""A run folder read back: config (run.json), model, normaliser, splits, float scores.

Layout of a run folder (written by imuad.training.train):
  run.json       the config and results (stable keys, read by imuad.deploy)
  model.keras    deep models (model.joblib for "classical")
  history.json   per-epoch training curves (deep models)
  scores.npz     float scores per split (<split>_score, <split>_y, <split>_start)
  plots/*.png, report.html
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data.recording import Recording, load_recording
from ..data.splits import Normalizer, SplitPlan, make_splits
from ..contracts.windows import WindowSet
from ..errors import ImuadError

RUN_JSON = "run.json"


def model_filename(arch: str) -> str:
    return "model.joblib" if arch == "classical" else "model.keras"


def reconstruction_mse(model, Xn: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Mean squared error per window between normalised input and reconstruction."""
    if len(Xn) == 0:
        return np.zeros(0, np.float64)
    rec = model.predict(Xn, batch_size=batch_size, verbose=0)
    return np.mean((rec.astype(np.float64) - Xn.astype(np.float64)) ** 2, axis=(1, 2))


def model_scores(arch: str, model, Xn: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Float score per normalised window, higher = more anomalous (probability or MSE)."""
    Xn = np.asarray(Xn, dtype=np.float32)
    if arch == "classical":
        from .classical import classical_score
        return classical_score(model, Xn) if len(Xn) else np.zeros(0, np.float64)
    if arch == "autoencoder":
        return reconstruction_mse(model, Xn, batch_size)
    if len(Xn) == 0:
        return np.zeros(0, np.float64)
    return model.predict(Xn, batch_size=batch_size, verbose=0)[:, 0].astype(np.float64)


def load_model_file(path: Path, arch: str):
    if arch == "classical":
        import joblib
        return joblib.load(path)
    import keras
    from .zoo import CUSTOM_OBJECTS
    return keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS, compile=False)


class Run:
    """One training run, loaded from its folder. Keys of .config are documented in train.py."""

    def __init__(self, run_dir: Path, config: dict[str, Any]):
        self.dir = Path(run_dir)
        self.config = config
        self._model = None
        self._splits: dict[str, WindowSet] | None = None

    @classmethod
    def load(cls, run_dir: str | Path) -> "Run":
        run_dir = Path(run_dir)
        path = run_dir / RUN_JSON
        if not path.is_file():
            raise ImuadError(f"{run_dir}: not a run folder (no {RUN_JSON}); create one with 'imuad train'")
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ImuadError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
        for key in ("arch", "recording", "window", "hop", "counts_per_unit", "fractions", "normalizer", "threshold"):
            if key not in config:
                raise ImuadError(f"{path}: missing field '{key}'")
        return cls(run_dir, config)

    # -- the pieces -------------------------------------------------------------
    @property
    def arch(self) -> str:
        return self.config["arch"]

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def threshold(self) -> float:
        return float(self.config["threshold"])

    @property
    def model_path(self) -> Path:
        return self.dir / model_filename(self.arch)

    @property
    def model(self):
        if self._model is None:
            if not self.model_path.is_file():
                raise ImuadError(f"{self.dir}: model file {self.model_path.name} is missing")
            self._model = load_model_file(self.model_path, self.arch)
        return self._model

    @property
    def split_plan(self) -> SplitPlan:
        """run.json `split` (mode, label rule); runs from before split modes are per_run."""
        return SplitPlan.from_dict(self.config.get("split"), self.config.get("fractions"))

    @property
    def normalizer(self) -> Normalizer:
        return Normalizer.from_dict(self.config["normalizer"])

    def recording(self, check_sha: bool = True) -> Recording:
        path = Path(self.config["recording"])
        if not path.is_file():
            raise ImuadError(f"{self.dir / RUN_JSON}: field 'recording': {path} does not exist")
        rec = load_recording(path)
        want = self.config.get("recording_sha256")
        if check_sha and want and rec.sha256() != want:
            raise ImuadError(f"{path}: SHA-256 differs from the one in {self.dir / RUN_JSON} "
                             "(the recording changed since training)")
        return rec

    def splits(self) -> dict[str, WindowSet]:
        """train/val/test windows recomputed exactly as at training time."""
        if self._splits is None:
            c = self.config
            self._splits = make_splits(self.recording(), int(c["window"]), int(c["hop"]),
                                       float(c["counts_per_unit"]), tuple(c["fractions"]),
                                       mode=self.split_plan).sets
        return self._splits

    # -- inference ----------------------------------------------------------------
    def predict_float(self, X_int16: np.ndarray) -> np.ndarray:
        """int16 count windows [N, W, C] -> float scores [N] (probability, or MSE for the AE)."""
        X = np.asarray(X_int16)
        if X.ndim == 2:
            X = X[None]
        want = (int(self.config["window"]), len(self.config["normalizer"]["mean"]))
        if X.ndim != 3 or X.shape[1:] != want:
            raise ImuadError(f"predict_float: windows must be [N, {want[0]}, {want[1]}], got {list(X.shape)}")
        return model_scores(self.arch, self.model, self.normalizer.apply(X))

    def predict_label(self, X_int16: np.ndarray) -> np.ndarray:
        return (self.predict_float(X_int16) >= self.threshold).astype(np.int8)
