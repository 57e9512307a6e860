"""Train one architecture on one recording and write a run folder.

run.json keys (stable; imuad.deploy reads them):
  arch, variant (classical only), seed, recording (absolute path), recording_sha256,
  counts_per_unit, window, hop, fractions, channels, sample_rate_hz,
  normalizer {mean, std} (per channel, int16-count units, train split only),
  split {mode, label_rule, fractions, gap_samples, reason} (C2; imuad.data.splits.SplitPlan),
  warnings (list of strings: what a user must know about this run, e.g. no anomalies in val),
  score_kind ("class_prob" | "recon_error"), output_meaning,
  train_config {epochs, batch_size, patience, learning_rate, hp, epochs_run, ...},
  threshold (chosen on VAL for max F1; probability for classifiers, MSE for the AE),
  params, macs, train_seconds, n_windows {train, val, test}, metrics {val, test}
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.recording import auto_counts_per_unit, load_recording
from ..data.rules import class_weights
from ..data.splits import Normalizer, describe_plan, make_splits
from ..errors import ImuadError
from ..fileio import replace_dir
from . import evaluate as ev
from .run import RUN_JSON, model_filename, model_scores
from .names import NORMAL_ONLY, WINDOW_NORMALISED
from .zoo import (ARCHITECTURES, OUTPUT_MEANING, SUPERVISED, adapt_model, build_model, check_window, count_macs,
                  score_kind)


def keras_verbose() -> int:
    """Keras' live bar (1) on a terminal; one line per epoch (2) when output goes to a log."""
    return 1 if sys.stdout.isatty() and sys.stderr.isatty() else 2


def warn(tag: str, text: str) -> str:
    print(f"[{tag}] warning: {text}", file=sys.stderr, flush=True)
    return text


def seed_everything(seed: int) -> None:
    """Same seed, same data -> same weights (on the same machine and TF build)."""
    import keras
    import tensorflow as tf
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover - older TF
        pass


def _fit_deep(arch: str, model, data: dict[str, tuple[np.ndarray, np.ndarray]], epochs: int,
              batch_size: int, patience: int, learning_rate: float, seed: int, verbose: int):
    import keras
    (Xtr, ytr), (Xva, yva) = data["train"], data["val"]
    if arch == "spectral_gauss":  # frozen: adapt_model fitted its normal statistics, nothing to train
        return {}, {"epochs_run": 0, "fit": "mean and std of the normal train windows' spectral shape"}
    opt = keras.optimizers.Adam(learning_rate)
    if arch == "autoencoder":
        # normal windows only: the model learns what "normal" looks like
        Xtr, Xva = Xtr[ytr == 0], Xva[yva == 0]
        if len(Xtr) == 0:
            raise ImuadError("autoencoder: the train split has no normal windows")
        model.compile(optimizer=opt, loss="mse")
        fit_args: dict[str, Any] = dict(x=Xtr, y=Xtr)
        val = (Xva, Xva) if len(Xva) else None
        weights = None
    else:
        if len(np.unique(ytr)) < 2:
            raise ImuadError(f"{arch}: the train split holds only class {int(ytr[0])} windows; "
                             "a supervised model needs normal and anomalous windows (try another "
                             "window/hop, or the autoencoder)")
        model.compile(optimizer=opt, loss="binary_crossentropy",
                      metrics=[keras.metrics.BinaryAccuracy(name="acc"), keras.metrics.AUC(name="auc")])
        fit_args = dict(x=Xtr, y=ytr.astype(np.float32))
        val = (Xva, yva.astype(np.float32)) if len(Xva) else None
        weights = class_weights(ytr)
    monitor = "val_loss" if val is not None else "loss"
    callbacks = [keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)]
    hist = model.fit(**fit_args, validation_data=val, epochs=epochs, batch_size=batch_size,
                     class_weight=weights, callbacks=callbacks, shuffle=True, verbose=verbose)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    best = int(np.argmin(history[monitor])) + 1 if history.get(monitor) else len(history.get("loss", []))
    return history, {"epochs_run": len(history.get("loss", [])), "best_epoch": best, "monitor": monitor}


def _fit_classical(model, Xtr: np.ndarray, ytr: np.ndarray):
    from .classical import is_supervised
    if is_supervised(model):
        if len(np.unique(ytr)) < 2:
            raise ImuadError("classical: the train split holds a single class; use variant 'iforest'")
        model.fit(Xtr, ytr)
    else:
        model.fit(Xtr[ytr == 0])
    return {}, {"epochs_run": 0}


def train(recording_path: str | Path, arch: str, out_dir: str | Path, window: int = 128, hop: int = 64,
          epochs: int = 40, seed: int = 0, counts_per_unit: float | None = None,
          fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), batch_size: int = 32, patience: int = 5,
          learning_rate: float = 1e-3, hp: dict[str, Any] | None = None, verbose: int | None = None,
          report: bool = True, split: str = "auto", force: bool = False) -> Path:
    """Train `arch` on the recording; returns the run folder (created, overwritten files).
    split: "auto" | "per_run" | "stream" (imuad.data.splits.plan_split)."""
    if arch not in ARCHITECTURES:
        raise ImuadError(f"unknown architecture '{arch}' (choose from {', '.join(ARCHITECTURES)})")
    hp = dict(hp or {})
    if hop < 1:
        raise ImuadError(f"hop must be >= 1, got {hop}")
    check_window(arch, window, hp)  # before any data or TensorFlow work
    if verbose is None:
        verbose = keras_verbose()
    final = Path(out_dir).resolve()
    if final.exists() and (not final.is_dir() or any(final.iterdir())) and not force:
        raise ImuadError(f"{final} exists and is not empty (a previous run?); pass --force to replace it")
    final.parent.mkdir(parents=True, exist_ok=True)
    # everything is written to a staging folder beside it, renamed into place at the end: a
    # failed or killed run leaves no folder that looks like a run
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        seed_everything(seed)

        rec = load_recording(recording_path)
        if rec.y is None:
            raise ImuadError(f"{recording_path}: no labels (y / label column); training and evaluation need them")
        cpu = auto_counts_per_unit(rec.X) if counts_per_unit is None else float(counts_per_unit)
        splits = make_splits(rec, window, hop, cpu, tuple(fractions), mode=split)
        sets, plan = splits.sets, splits.plan
        tag = f"{arch}:{hp['variant']}" if arch == "classical" and "variant" in hp else arch
        for name in ("train", "val", "test"):
            if len(sets[name]) == 0:
                raise ImuadError(f"{recording_path}: the {name} split has no windows of {window} samples "
                                 f"(recording of {rec.n_samples} samples, fractions {tuple(fractions)}, "
                                 f"split mode {plan.mode}: {plan.reason}); try a smaller --window or --split stream")
        warnings = []
        if rec.fs is None:
            warnings.append(warn(tag, f"{rec.path.name}: sample rate unknown (no fs in the NPZ / no t column); "
                                      "window and hop are in samples only, the card records sample_rate_hz null"))
        for name in ("val", "test"):
            if not sets[name].y.any():
                warnings.append(warn(tag, f"the {name} split has no anomalous window (split mode {plan.mode}, "
                                          f"label rule {plan.label_rule}); {name} F1 is 0 by definition. "
                                          "Try --split stream, another --window/--hop, or more anomalous data"))
        norm = Normalizer.fit(sets["train"], mode="window" if arch in WINDOW_NORMALISED else "global")
        data = {k: (norm.apply(ws.X), ws.y.astype(np.int8)) for k, ws in sets.items()}

        model = build_model(arch, window, rec.n_channels, seed, **hp)
        if arch != "classical":
            adapt_model(arch, model, *data["train"])
        print(f"[{tag}] {describe_plan(plan, window, hop)}", flush=True)
        print(f"[{tag}] {rec.path.name}: windows train {len(sets['train'])} val {len(sets['val'])} "
              f"test {len(sets['test'])} (anomalous {int(sets['train'].y.sum())} / {int(sets['val'].y.sum())} / "
              f"{int(sets['test'].y.sum())})", flush=True)
        t0 = time.perf_counter()
        if arch == "classical":
            history, fit_info = _fit_classical(model, *data["train"])
        else:
            history, fit_info = _fit_deep(arch, model, data, epochs, batch_size, patience, learning_rate,
                                          seed, verbose)
        train_seconds = time.perf_counter() - t0

        scores = {k: model_scores(arch, model, Xn) for k, (Xn, _) in data.items()}
        threshold = ev.best_threshold(data["val"][1], scores["val"])        # never test
        results = {k: ev.metrics(data[k][1], scores[k], threshold) for k in ("val", "test")}

        # ---- save
        if arch == "classical":
            import joblib
            joblib.dump(model, out / model_filename(arch))
            params = 0
        else:
            model.save(out / model_filename(arch))
            params = int(model.count_params())
        np.savez_compressed(out / "scores.npz", **{f"{k}_score": s for k, s in scores.items()},
                            **{f"{k}_y": sets[k].y for k in sets}, **{f"{k}_start": sets[k].start for k in sets})
        (out / "history.json").write_text(json.dumps(history, indent=1))
        import tensorflow as tf
        config = {
            "schema": 1, "arch": arch, "variant": hp.get("variant", "logreg") if arch == "classical" else None,
            "seed": int(seed), "recording": str(Path(recording_path).resolve()), "recording_sha256": rec.sha256(),
            "counts_per_unit": cpu, "window": int(window), "hop": int(hop), "fractions": [float(f) for f in fractions],
            "channels": list(rec.channels), "sample_rate_hz": rec.fs, "normalizer": norm.to_dict(),
            "split": plan.to_dict(), "warnings": warnings,
            "score_kind": score_kind(arch), "output_meaning": OUTPUT_MEANING[arch],
            "train_config": {"epochs": int(epochs), "batch_size": int(batch_size), "patience": int(patience),
                             "learning_rate": float(learning_rate), "optimizer": "adam", "hp": hp,
                             "class_weights": class_weights(sets["train"].y) if arch in SUPERVISED else None,
                             "trained_on": "normal train windows" if arch in NORMAL_ONLY else "train windows",
                             **fit_info, "tensorflow": tf.__version__, "python": platform.python_version()},
            "threshold": threshold, "threshold_split": "val", "params": params, "macs": count_macs(model),
            "train_seconds": round(train_seconds, 2),
            "n_windows": {k: int(len(v)) for k, v in sets.items()},
            "n_anomaly_windows": {k: int(np.sum(v.y)) for k, v in sets.items()},
            "metrics": results,
        }
        (out / RUN_JSON).write_text(json.dumps(config, indent=2))
        t = results["test"]
        print(f"[{tag}] test F1 {ev.fmt(t['f1'])} P {ev.fmt(t['precision'])} R {ev.fmt(t['recall'])} "
              f"ROC-AUC {ev.fmt(t['roc_auc'])} PR-AUC {ev.fmt(t['pr_auc'])}  threshold {threshold:.4g} (val)  "
              f"{params} params, {train_seconds:.1f} s", flush=True)
        if report:
            from .report import write_report
            write_report(out)
        replace_dir(out, final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    if report:
        print(f"report: {final / 'report.html'}", flush=True)
    return final
