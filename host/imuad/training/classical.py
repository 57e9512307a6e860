"""Host-only baseline: hand-made spectral/statistical features + sklearn.

Per axis: log energy in up to 16 log-spaced rFFT bands, mean, RMS, peak, crest factor
and kurtosis. Variants: "logreg" (supervised, the default), "iforest" (IsolationForest
fitted on normal training windows only) and "forest" (random forest, supervised).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import ImuadError

VARIANTS = ("logreg", "iforest", "forest")


def band_edges(window: int, bands: int) -> np.ndarray:
    """rFFT bin edges (DC excluded) of up to `bands` log-spaced bands."""
    n_bins = window // 2 + 1
    edges = np.unique(np.round(np.geomspace(1, n_bins, bands + 1)).astype(int))
    return edges if len(edges) >= 2 else np.array([1, n_bins])


def window_features(X: np.ndarray, bands: int = 16) -> np.ndarray:
    """X: normalised windows [N, W, C] -> features [N, C * (n_bands + 5)]."""
    X = np.asarray(X, dtype=np.float64)
    n, w, c = X.shape
    mean = X.mean(axis=1)
    centred = X - mean[:, None, :]
    power = np.abs(np.fft.rfft(centred, axis=1)) ** 2 / w            # [N, bins, C]
    edges = band_edges(w, bands)
    band = np.stack([power[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    rms = np.sqrt(np.mean(centred ** 2, axis=1))
    peak = np.max(np.abs(centred), axis=1)
    crest = peak / np.maximum(rms, 1e-9)
    kurt = np.mean(centred ** 4, axis=1) / np.maximum(rms ** 4, 1e-18)
    feats = [np.log10(band + 1e-9).reshape(n, -1), mean, np.log10(rms + 1e-9), np.log10(peak + 1e-9),
             crest, np.log10(kurt + 1e-9)]
    return np.concatenate(feats, axis=1).astype(np.float64)


class WindowFeatures(BaseEstimator, TransformerMixin):
    """sklearn transformer around window_features (windows in, feature rows out)."""

    def __init__(self, bands: int = 16):
        self.bands = bands

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return window_features(X, self.bands)


def build_classical(seed: int = 0, variant: str = "logreg", bands: int = 16) -> Pipeline:
    if variant not in VARIANTS:
        raise ImuadError(f"classical: unknown variant '{variant}' (choose from {', '.join(VARIANTS)})")
    if variant == "logreg":
        est = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
    elif variant == "forest":
        est = RandomForestClassifier(n_estimators=200, class_weight="balanced", random_state=seed, n_jobs=1)
    else:
        est = IsolationForest(n_estimators=200, random_state=seed)
    return Pipeline([("features", WindowFeatures(bands)), ("scale", StandardScaler()), ("model", est)])


def is_supervised(model: Pipeline) -> bool:
    return not isinstance(model.named_steps["model"], IsolationForest)


def classical_score(model: Pipeline, Xn: np.ndarray) -> np.ndarray:
    """Higher = more anomalous: P(anomaly) or the negated IsolationForest normality."""
    if is_supervised(model):
        return model.predict_proba(Xn)[:, 1].astype(np.float64)
    return -model.score_samples(Xn).astype(np.float64)
