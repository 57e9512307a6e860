"""Matplotlib (Agg) figures of one run: training curves, confusion matrix, ROC/PR, score over time."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SPLIT_COLOURS = {"train": "#9e9e9e", "val": "#1f77b4", "test": "#ff7f0e"}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def training_curves(history: dict[str, list[float]], path: Path) -> Path | None:
    """loss / val_loss (and accuracy/AUC when present) per epoch; None without history."""
    if not history.get("loss"):
        return None
    extra = [k for k in ("acc", "auc") if k in history]
    fig, axes = plt.subplots(1, 1 + len(extra), figsize=(4.2 * (1 + len(extra)), 3.2), squeeze=False)
    for ax, key in zip(axes[0], ["loss"] + extra):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label=f"train {key}")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"val {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
        ax.grid(alpha=0.3)
    return _save(fig, path)


def confusion_matrix(conf: list[list[int]], title: str, path: Path) -> Path:
    m = np.asarray(conf)
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > m.max() / 2 else "black")
    ax.set_xticks([0, 1], ["normal", "anomaly"])
    ax.set_yticks([0, 1], ["normal", "anomaly"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


def roc_pr_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path | None:
    """ROC and precision-recall curves of each split that has both classes."""
    from sklearn.metrics import precision_recall_curve, roc_curve
    usable = {k: (y, s) for k, (y, s) in curves.items() if 0 < np.sum(y) < len(y)}
    if not usable:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    for name, (y, s) in usable.items():
        fpr, tpr, _ = roc_curve(y, s)
        prec, rec, _ = precision_recall_curve(y, s)
        a1.plot(fpr, tpr, label=name, color=SPLIT_COLOURS.get(name))
        a2.plot(rec, prec, label=name, color=SPLIT_COLOURS.get(name))
    a1.plot([0, 1], [0, 1], "k:", lw=0.8)
    a1.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    a2.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    for ax in (a1, a2):
        ax.legend()
        ax.grid(alpha=0.3)
    return _save(fig, path)


def score_over_time(series: dict[str, dict[str, np.ndarray]], threshold: float, window: int, path: Path,
                    log: bool = False) -> Path:
    """Score per window against its start sample; true anomaly windows shaded red."""
    fig, ax = plt.subplots(figsize=(10, 3.4))
    for name, d in series.items():
        if len(d["start"]) == 0:
            continue
        order = np.argsort(d["start"])
        ax.plot(d["start"][order], d["score"][order], ".", ms=2.5, color=SPLIT_COLOURS.get(name), label=name)
    for d in series.values():
        for st in d["start"][d["y"] == 1]:
            ax.axvspan(st, st + window, color="red", alpha=0.04, lw=0)
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3g} (val)")
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="window start (sample)", ylabel="score", title="score over time (red: true anomaly windows)")
    ax.legend(loc="upper left", markerscale=4, fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def write_plots(run_dir: Path) -> dict[str, Path]:
    """All figures of a run folder into run_dir/plots; returns {name: png path}."""
    run_dir = Path(run_dir)
    cfg: dict[str, Any] = json.loads((run_dir / "run.json").read_text())
    out = run_dir / "plots"
    out.mkdir(exist_ok=True)
    made: dict[str, Path | None] = {}
    hist_path = run_dir / "history.json"
    history = json.loads(hist_path.read_text()) if hist_path.is_file() else {}
    made["training_curves"] = training_curves(history, out / "training_curves.png")
    for split in ("val", "test"):
        made[f"confusion_{split}"] = confusion_matrix(cfg["metrics"][split]["confusion"],
                                                      f"{split} (threshold from val)", out / f"confusion_{split}.png")
    sc = np.load(run_dir / "scores.npz")
    series = {k: {"score": sc[f"{k}_score"], "y": sc[f"{k}_y"], "start": sc[f"{k}_start"]}
              for k in ("train", "val", "test") if f"{k}_score" in sc}
    made["roc_pr"] = roc_pr_curves({k: (series[k]["y"], series[k]["score"]) for k in ("val", "test") if k in series},
                                   out / "roc_pr.png")
    made["score_over_time"] = score_over_time(series, float(cfg["threshold"]), int(cfg["window"]),
                                              out / "score_over_time.png", log=cfg["arch"] == "autoencoder")
    return {k: v for k, v in made.items() if v is not None}
