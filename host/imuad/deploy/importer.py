"""`imuad import MODEL.tflite`: a model folder for an int8 model this project did not train.

The card says how the stream reaches the model: a window of W samples x C channels fills the
input tensor in order, and the samples *are* the int8 input values (C3 constants of the
identity: offset = input zero point, multiplier 2, shift 1). The score is the reconstruction
error when the output has the input's size (an autoencoder, e.g. MLPerf Tiny's ad01), else
the first output as a class probability. Afterwards parity, replay, sim and hil take the folder
like any exported model.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..contracts.card import MAX_CHANNELS, check_name
from ..contracts.decision import check_decision
from ..contracts.tflite import check_structure, read_model
from ..errors import ImuadError
from . import calibrate
from .deployable import check_deployable
from .export import write_model_dir
from .interpreters import arena_with_margin, measure_arena


def identity_preprocessing(channels: int, zero_point: int, scale: float) -> dict[str, Any]:
    """C3 constants with q = raw for every int8 raw value: zp + ((raw - zp) * 2 + 1) >> 1."""
    return {"kind": "affine_int", "offset": [int(zero_point)] * channels, "multiplier": [2] * channels, "shift": 1,
            "input_scale": float(scale), "input_zero_point": int(zero_point), "counts_per_unit": 1.0,
            "note": "identity: the samples are the model's int8 input values"}


def import_model(tflite: Path, name: str, out: Path, channels: int = 1, window: int | None = None,
                 hop: int | None = None, sample_rate_hz: float | None = None, score_kind: str | None = None,
                 threshold: int | None = None, normal: np.ndarray | None = None) -> dict[str, Any]:
    """Writes `out` (model.tflite, C array, op resolver, model_config.h, card); returns the card.

    normal: int8-valued windows [N, W, C] of normal operation to set the threshold from (the
    99th percentile of their scores) when `threshold` is not given."""
    check_name(name)
    try:
        data = Path(tflite).read_bytes()
    except OSError as exc:
        raise ImuadError(f"{tflite}: cannot read ({exc.strerror})") from None
    check_structure(data, str(tflite))
    info = read_model(data, str(tflite))
    check_deployable(info)
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise ImuadError(f"{tflite}: needs 1 input and 1 output tensor, has {len(info.inputs)} and {len(info.outputs)}")
    inp, outp = info.inputs[0], info.outputs[0]
    n_in, n_out = math.prod(inp.shape[1:]), math.prod(outp.shape[1:])
    if not 1 <= channels <= MAX_CHANNELS:
        raise ImuadError(f"--channels must be in [1, {MAX_CHANNELS}], got {channels}")
    if window is None:
        if n_in % channels:
            raise ImuadError(f"{tflite}: the input holds {n_in} values, not a whole number of {channels}-channel samples")
        window = n_in // channels
    if window * channels != n_in:
        raise ImuadError(f"{tflite}: the input holds {n_in} values; --window {window} x --channels {channels} "
                         f"= {window * channels}")
    hop = window if hop is None else hop
    if not 1 <= hop <= 65535 or not 1 <= window <= 65535:
        raise ImuadError(f"window and hop must be in [1, 65535], got {window} and {hop}")
    kind = score_kind or ("recon_error" if n_out == n_in else "class_prob")
    if kind == "recon_error" and n_out != n_in:
        raise ImuadError(f"{tflite}: recon_error needs an output of the input's size ({n_in}), it has {n_out}")
    pre = identity_preprocessing(channels, inp.zero_point, inp.scale)
    score = calibrate.score_spec(kind, inp.scale, outp.scale)
    arena = measure_arena(data)
    if threshold is None and normal is not None and len(normal):
        from ..contracts.preprocess import Preprocess
        from ..contracts.score import Score
        from .interpreters import run_tflm
        card_like = {"score": score, "input": inp.as_card(), "output": outp.as_card(), "preprocessing": pre}
        xq = Preprocess.from_card(card_like).apply(np.asarray(normal, np.int16))
        s = calibrate.int_scores(Score.from_card(card_like), run_tflm(data, xq), xq)
        threshold = int(math.ceil(np.percentile(s, calibrate.AE_PERCENTILE))) + 1
        rule = f"p{calibrate.AE_PERCENTILE:g} of the scores of {len(normal)} normal windows + 1"
    elif threshold is None:
        threshold = 128 if kind == "class_prob" else 2**31 - 1
        rule = "p = 0.5" if kind == "class_prob" else "none given: never fires (pass --threshold or --normal)"
    else:
        rule = "given"
    on = int(threshold)
    d = check_decision(on, on - max(1, abs(on) // 16) if on > -2**31 + 1 else on, calibrate.DEFAULT_K,
                       calibrate.DEFAULT_N).as_dict()
    sha = hashlib.sha256(data).hexdigest()
    card = {
        "schema": 1, "name": name, "architecture": "imported",
        "dataset": {"path": None, "sha256": None, "counts_per_unit": 1.0},
        "sample_rate_hz": sample_rate_hz, "window": window, "hop": hop,
        "channels": [f"ch{i}" for i in range(channels)],
        "preprocessing": pre, "input": inp.as_card(), "output": outp.as_card(), "score": score,
        "output_meaning": "reconstruction error" if kind == "recon_error" else "class probability (output 0)",
        "decision": d, "decision_rule": rule, "metrics": {}, "ops": info.op_names,
        "sizes": {"tflite_bytes": len(data), "arena_bytes_measured": arena, "arena_bytes": arena_with_margin(arena),
                  "arena_note": "measured by the TFLM Python interpreter on x86-64 + 25 % (>= 1 KB) margin"},
        "parity": {}, "seed": None, "train_config": {}, "tflite_sha256": sha, "n_ops": len(info.ops),
        "imported_from": str(Path(tflite).resolve()), "imuad_version": __version__,
    }
    write_model_dir(Path(out), name, data, card)
    return card
