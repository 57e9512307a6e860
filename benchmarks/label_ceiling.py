"""How much of a recording's test labels can be learnt from what comes before the test block?

    imuad bench label_ceiling [RECORDING ...] [--window 128] [--hop auto]

For each recording (default: the three SmartManuAD files in ../shared/datasets), with the split
`imuad zoo` uses by default (same plan, same window and hop), it prints upper estimates of the test
F1 that no anomaly detector trained on the earlier data is likely to beat. They are generous on
purpose: supervised (the labels of train AND val are given), and the threshold is chosen on test
itself.
- `all-anomalous`: every test window called anomalous (the floor a useless model reaches);
- `forest, windows`: a random forest on per-window features (newest-hop min/max, window mean/std
  and spectral band energies per channel), trained on train + val windows with their labels;
- `tree, samples`: a decision tree on the raw samples (one sample, its label), trained on every
  sample before the test block, depth 2..12 with the best on test; test scored per sample;
- anomaly share per fifth of the recording, to show drift in what is labelled.

When these sit far below a quality bar, the bar asks for knowledge the recording does not hold
before its test block: that is what the numbers are for. Not a test; figures only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from imuad.data.recording import load_recording  # noqa: E402
from imuad.data.splits import make_splits  # noqa: E402
from imuad.paths import REPO_ROOT  # noqa: E402
from imuad.training.compare import suggest_hop  # noqa: E402

SHARED = REPO_ROOT.parent / "shared/datasets/smartmanuad"
DEFAULT = ("54_CNCMachining.npz", "76_UCIAccelerometer.npz", "68_FurnaceVibration.npz")


def best_f1(y: np.ndarray, score: np.ndarray) -> float:
    """Max F1 of the anomaly class over every threshold (chosen on the data scored: an upper bound)."""
    y = np.asarray(y).astype(bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(y[order])
    k = np.arange(1, len(y) + 1)
    last = np.r_[np.diff(score[order]) != 0, True]  # only cut between different scores
    p, r = tp / k, tp / y.sum()
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return float(f[last].max())


def window_features(X: np.ndarray, hop: int) -> np.ndarray:
    X = X.astype(np.float64)
    new = X[:, -hop:, :]
    spec = np.abs(np.fft.rfft(X - X.mean(axis=1, keepdims=True), axis=1)) ** 2
    bands = np.stack([b.sum(axis=1) for b in np.array_split(spec, 8, axis=1)], axis=1)  # [N, 8, C]
    return np.concatenate([new.max(1), new.min(1), X.mean(1), X.std(1),
                           np.log1p(bands).reshape(len(X), -1)], axis=1)


def ceiling(path: Path, window: int, hop: int | None) -> dict[str, object]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    rec = load_recording(path)
    hop = hop or suggest_hop(rec.n_samples, window)
    sp = make_splits(rec, window, hop, None)
    tr = [sp["train"], sp["val"]]
    Xtr = np.concatenate([window_features(s.X, hop) for s in tr])
    ytr = np.concatenate([s.y for s in tr])
    te = sp["test"]
    out: dict[str, object] = {"recording": path.name, "split": sp.plan.mode, "window": window, "hop": hop,
                              "test windows": len(te), "anomalous": int(te.y.sum())}
    share = te.y.mean()
    out["all-anomalous F1"] = 2 * share / (1 + share) if share else float("nan")
    if ytr.min() != ytr.max():
        rf = RandomForestClassifier(300, min_samples_leaf=2, class_weight="balanced", random_state=0, n_jobs=2)
        rf.fit(Xtr, ytr)
        out["forest, windows"] = best_f1(te.y, rf.predict_proba(window_features(te.X, hop))[:, 1])
    test_blocks = [b for b in sp.blocks if b.split == "test"]
    t0 = min(b.start for b in test_blocks)
    if rec.y is not None and rec.y[:t0].min() != rec.y[:t0].max():
        mask = np.zeros(rec.n_samples, bool)
        for b in test_blocks:
            mask[b.start:b.stop] = True
        f = []
        for depth in range(2, 13):
            t = DecisionTreeClassifier(max_depth=depth, class_weight="balanced", random_state=0)
            t.fit(rec.X[:t0], rec.y[:t0])
            f.append(best_f1(rec.y[mask], t.predict_proba(rec.X[mask])[:, 1]))
        out["tree, samples"] = max(f)
    if rec.y is not None:
        out["anomaly % per fifth"] = " ".join(f"{100 * p.mean():.1f}" for p in np.array_split(rec.y, 5))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recordings", nargs="*", type=Path)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--hop", type=int, default=None, help="default: as imuad zoo chooses it")
    a = ap.parse_args(argv)
    paths = a.recordings or [SHARED / n for n in DEFAULT]
    for p in paths:
        if not p.exists():
            print(f"{p}: not found", file=sys.stderr)
            return 2
        r = ceiling(p, a.window, a.hop)
        print(f"{r.pop('recording')}:")
        for k, v in r.items():
            print(f"  {k:<22} {v:.3f}" if isinstance(v, float) else f"  {k:<22} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
