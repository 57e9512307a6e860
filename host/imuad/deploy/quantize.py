"""`imuad quantize RUN`: full-integer post-training quantization, TFLM op check, integer
constants (C3-C5), and the int8 model evaluated next to the float one on the same test split.

Writes RUN/model_int8.tflite and RUN/quant.json (read by `imuad export`). Nothing is written
when the converted model cannot be deployed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImuadError
from ..training.names import NORMAL_ONLY
from ..fileio import write_atomic, write_json
from ..contracts.preprocess import Preprocess
from ..contracts.score import Score
from . import calibrate
from ..contracts.tflite import ModelInfo, read_model
from .deployable import check_deployable
from .interpreters import arena_with_margin, measure_arena, run_tflm

TFLITE_NAME = "model_int8.tflite"
QUANT_JSON = "quant.json"
MAX_REPRESENTATIVE = 400
F1_DROP_BAR = 0.01


def convert_int8(model, x_rep: np.ndarray, per_tensor_dense: bool = True) -> bytes:
    """Keras model + normalised float windows -> full-int8 TFLite flatbuffer (int8 I/O)."""
    import keras
    import tensorflow as tf
    from .lstm_fuse import check_equivalent, fused_function, has_lstm

    x_rep = np.asarray(x_rep, np.float32)
    target = model
    if has_lstm(model):
        serve = fused_function(model)
        check_equivalent(model, serve, x_rep[:4])

        class _Fused(keras.Model):  # from_keras_model keeps the api_implements composite intact
            def __init__(self, fn):
                super().__init__(name=model.name)
                self.fn = fn

            def call(self, x):
                return self.fn(x)

        target = _Fused(serve)
        target(x_rep[:1])
    conv = tf.lite.TFLiteConverter.from_keras_model(target)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x_rep[i:i + 1]] for i in range(len(x_rep)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # Per-channel FULLY_CONNECTED: TFLite's reference kernel and TFLM round differently (1 LSB
    # on a few windows); per-tensor dense weights keep them bit-exact (CONV_2D stays per-channel).
    conv._experimental_disable_per_channel_quantization_for_dense_layers = bool(per_tensor_dense)
    import contextlib
    import io
    import warnings

    from ..tfquiet import fd2_captured
    try:
        # Keras' export prints its endpoints (stdout), the converter's C++ writes
        # "fully_quantize: 0, inference_type: 6 ..." to fd 2 whatever TF_CPP_MIN_LOG_LEVEL says, and
        # Python warns "Statistics for quantized inputs were expected ..." on every conversion:
        # all captured; on failure fd 2 goes back to stderr and the warnings join the message.
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()), \
                fd2_captured():
            warnings.simplefilter("always")
            return bytes(conv.convert())
    except Exception as exc:  # the converter raises ConverterError/RuntimeError with long logs
        first = str(exc).strip().splitlines()
        said = "; ".join(sorted({str(w.message).splitlines()[0] for w in caught})) if "caught" in locals() else ""
        raise ImuadError(f"int8 conversion failed: {first[0] if first else type(exc).__name__}"
                         + (f" (converter warnings: {said})" if said else "")) from exc


def keras_layers(model) -> dict[str, str]:
    """Layer name -> class name (maps converted ops back to the layers that made them)."""
    return {layer.name: type(layer).__name__ for layer in model.layers}


def representative(x_norm: np.ndarray, n: int = MAX_REPRESENTATIVE, seed: int = 0) -> np.ndarray:
    """Up to n train windows, fixed seed, as the float model saw them ((raw - mean) / std)."""
    if len(x_norm) <= n:
        return np.asarray(x_norm, np.float32)
    idx = np.sort(np.random.default_rng(seed).choice(len(x_norm), n, replace=False))
    return np.asarray(x_norm[idx], np.float32)


def int8_scores(tflite: bytes, pre: Preprocess, score: Score, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int16 windows -> (raw int8 outputs [N, n_out], int scores [N]) through TFLM."""
    xq = pre.apply(np.asarray(X, np.int16))
    out = run_tflm(tflite, xq, progress=True)
    return out, calibrate.int_scores(score, out, xq)


def quantize_on(arch: str, model: Any, x: np.ndarray, seed: int = 0,
                per_tensor_dense: bool = True, x_range: np.ndarray | None = None) -> tuple[bytes, np.ndarray]:
    """Full-int8 flatbuffer of a float model calibrated on these normalised windows (a
    representative subset, plus the architecture's range probes, plus a subset of `x_range`:
    unlabelled windows that only widen the ranges): (flatbuffer, the windows used).
    One path for `imuad quantize` and commissioning's refit."""
    from ..training.zoo import range_probes
    x_rep = representative(x, seed=seed)
    probes = range_probes(arch, x_rep.shape[1], x_rep.shape[2], len(x_rep) // 4, seed=seed)
    parts = [x_rep, probes.astype(x_rep.dtype)]
    if x_range is not None and len(x_range):
        parts.append(representative(x_range, n=MAX_REPRESENTATIVE // 2, seed=seed + 1).astype(x_rep.dtype))
    x_rep = np.concatenate([p for p in parts if len(p)])
    return convert_int8(model, x_rep, per_tensor_dense), x_rep


def range_windows(arch: str, splits: Any) -> np.ndarray | None:
    """Extra calibration windows for a normal-only model: all of val, labels unused.

    Its train windows hold no anomaly, so calibrated on them alone its int8 input range ends
    at the normal maximum and every larger input clips there: anomalies beyond the normal
    range all look alike (Furnace, autoencoder: int8 test F1 0.67 = all-anomalous, float
    0.74). Val is what the model meets after training and is never the test split."""
    if arch not in NORMAL_ONLY or not len(splits["val"]):
        return None
    return splits["val"].X


def quantize_run(run, write: bool = True, verbose: bool = True, per_tensor_dense: bool = True) -> dict[str, Any]:
    """Quantize a run (imuad.training.run.Run or anything with .config/.model/.normalizer/.splits())."""
    from ..training import evaluate as ev

    cfg = run.config
    arch = cfg["arch"]
    if arch == "classical":
        raise ImuadError(f"{run.dir}: the 'classical' baseline runs on the host only; it has no TFLite form")
    kind = cfg.get("score_kind") or ("recon_error" if arch == "autoencoder" else "class_prob")
    splits = run.splits()
    norm = run.normalizer
    model = run.model
    train_x = splits["train"].X
    if arch in NORMAL_ONLY and (splits["train"].y == 0).any():
        train_x = train_x[splits["train"].y == 0]  # normal-only models saw normal windows only
    extra = range_windows(arch, splits)
    tfl, x_rep = quantize_on(arch, model, norm.apply(train_x), int(cfg.get("seed", 0)), per_tensor_dense,
                             x_range=None if extra is None else norm.apply(extra))
    label = f"{run.dir}/{TFLITE_NAME}"
    layers = keras_layers(model)
    info = read_model(tfl, label, layers)
    check_deployable(info)  # fails before anything is written
    inp, out = info.inputs[0], info.outputs[0]
    W, C = int(cfg["window"]), len(norm.mean)
    if tuple(inp.shape[1:]) != (W, C):
        raise ImuadError(f"{label}: input shape {inp.shape} does not match window [{W}, {C}]")

    pre = (Preprocess.derive_window(norm.min_rms, inp.scale, inp.zero_point) if norm.mode == "window" else
           Preprocess.derive(norm.mean, norm.std, inp.scale, inp.zero_point))
    spec = calibrate.score_spec(kind, inp.scale, out.scale)
    card_like = {"score": spec, "input": inp.as_card(), "output": out.as_card()}
    if kind == "recon_error":
        _, e_v = int8_scores(tfl, pre, Score.from_card(card_like), splits["val"].X)
        spec["shift"] = calibrate.ae_shift_for(e_v[splits["val"].y == 0] if (splits["val"].y == 0).any() else e_v)
    score = Score.from_card(card_like)
    _, s_val = int8_scores(tfl, pre, score, splits["val"].X)
    decision = calibrate.decision_from_val(kind, splits["val"].y, s_val)
    _, s_test = int8_scores(tfl, pre, score, splits["test"].X)

    from ..training.run import model_scores
    f_test = model_scores(arch, model, norm.apply(splits["test"].X))
    m_float = ev.metrics(splits["test"].y, f_test, float(cfg["threshold"]))
    m_int8 = ev.metrics(splits["test"].y, s_test, decision["threshold_on"])
    for m in (m_float, m_int8):
        m["split"] = "test"
    arena = measure_arena(tfl, pre.apply(splits["test"].X[:1]) if len(splits["test"]) else None)
    quant = {
        "schema": 1, "tflite": TFLITE_NAME, "tflite_bytes": len(tfl), "ops": info.op_names,
        "n_ops": len(info.ops), "input": inp.as_card(), "output": out.as_card(),
        "preprocessing": pre.to_card(inp.scale, float(cfg["counts_per_unit"])),
        "score": spec, "decision": decision,
        "metrics": {"float": m_float, "int8": m_int8},
        "f1_drop": float(m_float["f1"] - m_int8["f1"]),
        "representative": {"split": "train" if extra is None else "train (normal) + val (labels unused)",
                           "windows": int(len(x_rep)),
                           "normalisation": "(raw - mean) / std, train statistics"},
        "arena_bytes_measured": arena, "arena_bytes": arena_with_margin(arena),
        "stateful": "UNIDIRECTIONAL_SEQUENCE_LSTM" in info.op_names,
        "keras_layers": layers,
        "dense_quantization": "per-tensor" if per_tensor_dense else "per-channel",
    }
    if write:
        write_atomic(Path(run.dir, TFLITE_NAME), tfl)
        write_json(Path(run.dir, QUANT_JSON), quant)
    if verbose:
        print(side_by_side(quant, info))
    return quant


def side_by_side(quant: dict[str, Any], info: ModelInfo | None = None) -> str:
    from ..training.evaluate import fmt
    f, q = quant["metrics"]["float"], quant["metrics"]["int8"]
    rows = [f"{'test split':<12}{'float':>10}{'int8':>10}"]
    for key in ("precision", "recall", "f1", "roc_auc", "pr_auc"):
        rows.append(f"{key:<12}{fmt(f[key]):>10}{fmt(q[key]):>10}")
    rows.append(f"{'confusion':<12}{str(f['confusion']):>10}  {q['confusion']}")
    rows.append(f"{'threshold':<12}{f['threshold']:>10.4g}{q['threshold']:>10.0f}  (int8: score units, chosen on val)")
    drop = quant["f1_drop"]
    rows.append(f"F1 drop {drop:+.4f} ({'ok' if drop <= F1_DROP_BAR else 'ABOVE the 0.01 bar'}); "
                f"{quant['tflite_bytes']} B flatbuffer, {quant['n_ops']} ops ({', '.join(quant['ops'])}); "
                f"arena {quant['arena_bytes_measured']} B measured (x86-64), {quant['arena_bytes']} B with margin")
    return "\n".join(rows)
