"""Seed-study dataset rules: skip, downsample by time slices, undersample normal, weights."""
from __future__ import annotations

import numpy as np

from imuad.data.recording import Recording
from imuad.data.rules import Rules, apply_rules, class_weights, undersample_normal
from imuad.data.splits import split_windows, time_block_split


def _rec(n: int, anomalies: tuple[int, int] | None, name: str) -> Recording:
    y = None
    if anomalies is not None:
        y = np.zeros(n, np.int8)
        y[anomalies[0]:anomalies[1]] = 1
    return Recording(name, np.arange(n, dtype=float)[:, None], y, None)


def test_skip_and_downsample_with_reasons():
    recs = [_rec(1500, (0, 500), "short.csv"), _rec(10_000, (0, 300), "rare.csv"),
            _rec(10_000, (2000, 4000), "fine.csv"), _rec(120_000, (60_000, 90_000), "long.csv"),
            _rec(3000, None, "unlabelled.csv")]
    kept, report = apply_rules(recs)
    names = [str(r.path) for r in kept]
    assert names == ["fine.csv", "long.csv", "unlabelled.csv"]
    text = str(report)
    assert "skipped     short.csv" in text and "fewer than 2000 samples" in text
    assert "skipped     rare.csv" in text and "anomaly rate below 5 %" in text
    assert "downsampled long.csv: 120000 -> 50000 samples" in text
    assert "no labels" in text and "3 kept, 2 skipped" in text
    long = kept[1]
    assert long.n_samples == 50_000
    assert abs(long.anomaly_rate - 0.25) < 1e-3
    # contiguous slices: the first part of every label run, in time order
    entry = report.entries[3]
    assert entry.slices == [(0, 25_000), (60_000, 72_500), (90_000, 102_500)]
    t = long.X[:, 0]
    assert np.all(np.diff(t) > 0)
    assert int(np.sum(np.diff(t) != 1)) == 2       # exactly two seams, both at label changes
    seams = np.flatnonzero(np.diff(t) != 1) + 1
    assert all(long.y[s] != long.y[s - 1] for s in seams)


def test_rules_are_configurable():
    kept, report = apply_rules([_rec(1500, (0, 500), "short.csv")], Rules(min_samples=1000))
    assert len(kept) == 1 and report.entries[0].action == "kept"


def test_undersample_normal_keeps_contiguous_slices():
    n = 5000
    y = np.zeros(n, np.int8)
    y[3000:3600] = 1
    counts = np.zeros((n, 1), np.int16)
    ws = split_windows(counts, y, 20, 10, time_block_split(y, n, (1, 0, 0)))["train"]
    n_anom = int(ws.y.sum())
    out = undersample_normal(ws, ratio=2.0, seed=3, slice_windows=8)
    assert int(out.y.sum()) == n_anom
    assert int(np.sum(out.y == 0)) == 2 * n_anom
    assert np.all(np.diff(out.start) > 0)                       # time order
    normal_starts = out.start[out.y == 0]
    gaps = np.diff(normal_starts)
    assert np.mean(gaps == 10) > 0.8                            # mostly consecutive windows
    again = undersample_normal(ws, ratio=2.0, seed=3, slice_windows=8)
    np.testing.assert_array_equal(again.start, out.start)       # deterministic for a seed
    assert len(undersample_normal(ws, ratio=100.0)) == len(ws)  # not enough normals: unchanged


def test_class_weights_balanced():
    w = class_weights(np.array([0, 0, 0, 1]))
    assert w == {0: 4 / 6, 1: 2.0}
    assert class_weights(np.zeros(5, np.int8)) == {0: 0.5, 1: 1.0}
