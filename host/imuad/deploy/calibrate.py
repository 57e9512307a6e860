"""Integer constants of the card derived from the int8 model: score spec (C4) and decision (C5)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..contracts.score import Score

DEFAULT_K, DEFAULT_N = 2, 3
AE_MULT_BITS = 12          # larger of in_mult/out_mult ~ 2^12: d fits 2^21, d^2*W*C fits int64
AE_MEDIAN_TARGET = 1024    # shift puts the median normal val error near this many score units
AE_PERCENTILE = 99.0


def score_spec(kind: str, in_scale: float, out_scale: float) -> dict[str, Any]:
    """C4 card field. For the autoencoder, mults proportional to the tensor scales make the
    integer error K^2 * sum((out - in)^2) in the float model's units, i.e. it tracks MSE."""
    if kind == "class_prob":
        return {"kind": "class_prob", "output_index": 0}
    if kind != "recon_error":
        raise ValueError(f"unknown score kind {kind!r}")
    k = 2.0**AE_MULT_BITS / max(in_scale, out_scale)
    mi, mo = max(1, round(in_scale * k)), max(1, round(out_scale * k))
    return {"kind": "recon_error", "in_mult": int(mi), "out_mult": int(mo), "shift": 0}


def ae_shift_for(e_normal: np.ndarray) -> int:
    """Shift so the median raw error of normal windows lands near AE_MEDIAN_TARGET."""
    med = float(np.median(e_normal)) if len(e_normal) else 0.0
    if med <= AE_MEDIAN_TARGET:
        return 0
    return int(min(40, max(0, math.floor(math.log2(med / AE_MEDIAN_TARGET)))))


def decision_from_val(kind: str, y_val: np.ndarray, score_val: np.ndarray,
                      k: int = DEFAULT_K, n: int = DEFAULT_N) -> dict[str, Any]:
    """C5: threshold_on in score units chosen on val: max F1 of window decisions (as the float
    model's threshold was chosen); an autoencoder on a val split without anomalies takes a high
    percentile of its normal scores. threshold_off a little below threshold_on."""
    from ..training.evaluate import best_threshold

    s = np.asarray(score_val, np.int64)
    y = np.asarray(y_val).astype(bool)
    if kind == "recon_error" and not (y.any() and (~y).any()):  # no labelled anomalies to tune on
        normal = s[~y] if (~y).any() else s
        on = int(math.ceil(np.percentile(normal, AE_PERCENTILE))) + 1
        how = f"p{AE_PERCENTILE:g} of normal val scores + 1"
    else:
        on = int(math.ceil(best_threshold(y, s.astype(np.float64))))
        how = "max F1 of window decisions on val"
    on = int(np.clip(on, -(2**31), 2**31 - 1))
    off = on - max(1, abs(on) // 16)
    return {"threshold_on": on, "threshold_off": int(off), "k": int(k), "n": int(n), "chosen_on": "val",
            "rule": how}


def int_scores(score: Score, out_q: np.ndarray, in_q: np.ndarray) -> np.ndarray:
    return score(out_q, in_q if score.kind == "recon_error" else None)
