"""Metrics of the anomaly class (label 1) and the validation-only threshold choice.

A score is "higher = more anomalous" (probability for classifiers, MSE for the
autoencoder). The threshold is always chosen on the validation split and then
applied unchanged to test: `predict = score >= threshold`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> list[list[int]]:
    """[[tn, fp], [fn, tp]] with 1 = anomaly."""
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    return [[int(np.sum(~t & ~p)), int(np.sum(~t & p))], [int(np.sum(t & ~p)), int(np.sum(t & p))]]


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """Of the anomaly class; 0.0 where the ratio is 0/0 (sklearn's zero_division=0)."""
    (_, fp), (fn, tp) = confusion(y_true, y_pred)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Probability that a random anomaly scores above a random normal window (ties count 1/2);
    None when only one class is present."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def pr_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision (step-wise area under the precision-recall curve, as sklearn);
    None without anomalies."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    n_pos = int(y.sum())
    if n_pos == 0 or len(y) == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s) - 1]   # one point per distinct threshold
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_threshold(y_val: np.ndarray, score_val: np.ndarray) -> float:
    """Threshold maximising anomaly-class F1 on the validation split.

    Candidates are midpoints between consecutive distinct scores (so a slightly shifted
    test score does not flip exactly at a training value); ties in F1 go to the
    highest threshold (fewer false alarms). Without anomalies in val the threshold is
    just above the largest val score (no alarm on any seen normal window).
    """
    y = np.asarray(y_val).astype(bool)
    s = np.asarray(score_val, dtype=np.float64)
    if len(s) == 0:
        raise ValueError("cannot choose a threshold on an empty validation split")
    uniq = np.unique(s)
    if not y.any():
        return float(uniq[-1] + max(1e-6, abs(uniq[-1]) * 1e-6))
    cands = np.r_[uniq[0] - 1e-6, (uniq[:-1] + uniq[1:]) / 2.0, uniq[-1] + 1e-6] if len(uniq) > 1 else uniq
    best_t, best_f = float(cands[0]), -1.0
    for t in cands:
        f = precision_recall_f1(y, s >= t)[2]
        if f >= best_f:
            best_t, best_f = float(t), f
    return best_t


def metrics(y_true: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, Any]:
    """Everything the run folder and model card record for one split."""
    y = np.asarray(y_true).astype(np.int8)
    pred = np.asarray(score) >= threshold
    p, r, f = precision_recall_f1(y, pred)
    return {"precision": p, "recall": r, "f1": f, "roc_auc": roc_auc(y, score), "pr_auc": pr_auc(y, score),
            "confusion": confusion(y, pred), "threshold": float(threshold),
            "n": int(len(y)), "n_anomaly": int(np.sum(y))}


def fmt(v: Any, digits: int = 3) -> str:
    """Table cell: numbers rounded, None/NaN as '–'."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def evaluate_run(run_dir) -> dict[str, Any]:
    """Recompute val/test metrics of a run folder from its recording and stored threshold;
    also refreshes scores.npz so plots follow the model on disk."""
    from pathlib import Path

    from .run import Run
    run = Run.load(run_dir)
    sets = run.splits()
    scores = {k: run.predict_float(ws.X) if len(ws) else np.zeros(0) for k, ws in sets.items()}
    result = {k: metrics(sets[k].y, scores[k], run.threshold) for k in ("val", "test")}
    np.savez_compressed(Path(run_dir) / "scores.npz", **{f"{k}_score": s for k, s in scores.items()},
                        **{f"{k}_y": sets[k].y for k in sets}, **{f"{k}_start": sets[k].start for k in sets})
    stored = run.config.get("metrics", {})
    same = all(stored.get(k, {}).get("confusion") == result[k]["confusion"] for k in result)
    return {"metrics": result, "threshold": run.threshold, "matches_run_json": same}
