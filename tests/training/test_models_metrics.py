"""Metric functions against hand-computed values; threshold picked on val, not test."""
from __future__ import annotations

import numpy as np
import pytest

from imuad.training import evaluate as ev

Y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
S = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.7, 0.3])


def test_confusion_precision_recall_f1_by_hand():
    pred = S >= 0.5            # predicted anomalies: 0.8, 0.9, 0.7 -> tp 2 (0.8, 0.9), fp 1 (0.7)
    assert ev.confusion(Y, pred) == [[3, 1], [2, 2]]
    p, r, f = ev.precision_recall_f1(Y, pred)
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 4)
    assert f == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_degenerate_cases_are_zero_not_nan():
    assert ev.precision_recall_f1([0, 0], [0, 0]) == (0.0, 0.0, 0.0)
    assert ev.roc_auc([0, 0, 0], [1, 2, 3]) is None
    assert ev.pr_auc([0, 0], [1, 2]) is None


def test_roc_auc_by_hand():
    # pairs (anomaly score > normal score): anomalies 0.35,0.8,0.9,0.3 vs normals 0.1,0.4,0.2,0.7
    # 0.35 beats 0.1,0.2 (2); 0.8 beats all 4; 0.9 beats 4; 0.3 beats 0.1,0.2 (2) -> 12/16
    assert ev.roc_auc(Y, S) == pytest.approx(12 / 16)
    assert ev.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)      # ties count one half
    assert ev.roc_auc([0, 1], [0.2, 0.1]) == pytest.approx(0.0)


def test_pr_auc_by_hand_and_matches_sklearn():
    # ranking 0.9(1) 0.8(1) 0.7(0) 0.4(0) 0.35(1) 0.3(1) ...: AP = 1/4*(1 + 1 + 3/5 + 4/6)
    assert ev.pr_auc(Y, S) == pytest.approx((1 + 1 + 3 / 5 + 4 / 6) / 4)
    from sklearn.metrics import average_precision_score, roc_auc_score
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)                           # with ties
    assert ev.pr_auc(y, s) == pytest.approx(average_precision_score(y, s))
    assert ev.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_best_threshold_maximises_val_f1():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.6, 0.5, 0.7, 0.9])
    t = ev.best_threshold(y, s)
    assert ev.precision_recall_f1(y, s >= t)[2] == pytest.approx(max(
        ev.precision_recall_f1(y, s >= c)[2] for c in np.r_[s, 1.0]))
    assert 0.2 < t <= 0.5                                                # catches 0.5, 0.6, 0.7, 0.9


def test_threshold_uses_val_not_test():
    """metrics() applies the given (val) threshold; a test-optimal one would score differently."""
    y_val, s_val = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])
    y_test, s_test = np.array([0, 0, 1, 1]), np.array([0.5, 0.6, 0.7, 0.8])
    t = ev.best_threshold(y_val, s_val)
    assert 0.2 < t < 0.3
    m = ev.metrics(y_test, s_test, t)
    assert m["threshold"] == t and m["precision"] == pytest.approx(0.5)   # everything flagged
    assert ev.best_threshold(y_test, s_test) > 0.6                         # what test would have picked


def test_no_anomaly_in_val_gives_threshold_above_all_scores():
    t = ev.best_threshold(np.zeros(3), np.array([0.1, 0.5, 0.3]))
    assert t > 0.5
