"""Commissioning a deployed model on a new machine without retraining (`imuad calibrate`).

A machine of the same type has other levels, mounting and resonances than the one the model was
trained on, so the training recording's threshold gives false alarms (or misses) there. From a
recording of the new machine in normal operation this fits the C5 decision: the lowest
threshold_on whose k-of-n decision raises at most the allowed number of onsets on that recording
(from a false-alarm rate per hour and the recording's length), plus headroom, with the card's
on/off gap. Scores are the int8 ones the firmware computes (TFLM on the card's C3 preprocessing),
so the new card is what every target will do. Labels are never used; a recording whose labels
say it holds anomalies is refused.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..contracts.card import CARD_NAME, ModelDir
from ..contracts.calibration import CalibrationRequest, fit
from ..contracts.decision import ONSET, Decider, decision_from_mapping
from ..errors import ImuadError


@dataclass
class Commissioning:
    recording: str
    recording_sha256: str
    windows: int
    hours: float | None
    allowed_onsets: int
    onsets_before: int
    onsets_after: int
    score_quantiles: dict[str, int]
    decision_before: dict[str, int]
    decision_after: dict[str, int]
    rule: str


def onsets(decision: dict[str, int], scores: np.ndarray) -> int:
    """Anomaly onsets the C5 decision raises on consecutive windows' scores."""
    _, _, events = Decider(**decision).run(scores)
    return sum(1 for e in events if e.kind == ONSET)


def debounce_for(latency_s: float | None, fs: float | None, window: int, hop: int, old: dict[str, int]) -> tuple[int, int]:
    """k of n for a detection-latency budget: the longest n (<= 32) whose majority k of windows
    still fits the budget after the first window, so short bursts (knocks, handling) that no
    fault makes are outvoted; the card's k, n without a budget or a sample rate."""
    if not latency_s or not fs:
        return int(old["k"]), int(old["n"])
    per_window = hop / fs
    k = int((latency_s - window / fs) // per_window)
    k = max(int(old["k"]), min(k, 16))
    return k, min(32, 2 * k - 1)


def fit_decision(scores: np.ndarray, old: dict[str, int], allowed: int, margin: float,
                 k: int | None = None, n: int | None = None) -> dict[str, int]:
    """The C5b rule (imuad.contracts.calibration.fit, what a device computes when it calibrates
    itself on the same windows): the lowest threshold_on above the median with at most `allowed`
    onsets, plus `margin` x (it - median), with the old relative on/off gap."""
    req = CalibrationRequest(windows=len(scores), allowed=int(allowed), margin_permille=int(round(margin * 1000)),
                             k=int(k or old["k"]), n=int(n or old["n"]))
    return fit(scores, decision_from_mapping(old), req).decision.as_dict()


def refit(model: ModelDir, counts: np.ndarray, counts_per_unit: float, seed: int = 0) -> tuple[ModelDir, Any]:
    """A normal-only model's per-machine statistics fitted again on this machine's normal windows
    (spectral_gauss: C3 RMS floors, DFT gains, spectral-shape mean and std) and quantized again,
    from the float model kept beside the card: a new flatbuffer, same architecture, no training.
    Returns the new ModelDir (its card without parity: the flatbuffer is new) and the float model."""
    import keras

    from ..contracts.card import ModelCard
    from ..contracts.preprocess import Preprocess
    from ..contracts.tflite import read_model
    from ..contracts.windows import stream_windows
    from ..data.splits import Normalizer
    from ..training.zoo import CUSTOM_OBJECTS, adapt_model
    from .deployable import check_deployable
    from .export import FLOAT_MODEL
    from .interpreters import arena_with_margin, measure_arena
    from .quantize import quantize_on
    card = model.card
    arch = card.raw.get("architecture")
    float_model = keras.saving.load_model(model.path / FLOAT_MODEL, custom_objects=CUSTOM_OBJECTS, compile=False)
    windows = stream_windows(counts, card.window, card.hop)
    norm = Normalizer.fit(windows, mode="window")
    x = norm.apply(windows)
    adapt_model(arch, float_model, x)
    tfl, _ = quantize_on(arch, float_model, x, seed=seed)
    info = read_model(tfl, f"{model.path}/{arch} refitted")
    check_deployable(info)
    inp, out = info.inputs[0], info.outputs[0]
    pre = Preprocess.derive_window(norm.min_rms, inp.scale, inp.zero_point)
    arena = measure_arena(tfl, pre.apply(windows[:1]))
    raw = json.loads(json.dumps(card.raw))
    import hashlib
    raw.update(preprocessing=pre.to_card(inp.scale, counts_per_unit), input=inp.as_card(), output=out.as_card(),
               tflite_sha256=hashlib.sha256(tfl).hexdigest(), ops=info.op_names, n_ops=len(info.ops), parity={})
    raw["sizes"] = {**raw.get("sizes", {}), "tflite_bytes": len(tfl), "arena_bytes_measured": arena,
                    "arena_bytes": arena_with_margin(arena)}
    raw.pop("parity_notes", None)
    return ModelDir(model.path, ModelCard.from_json(raw, model.path / CARD_NAME), tfl), float_model


def normal_counts(model: ModelDir, recording: str | Path, counts_per_unit: float | None = None) -> tuple[Any, np.ndarray]:
    """(recording, int16 counts) of a normal-operation recording checked against the model:
    channels, no anomalous labels, at least 16 windows."""
    from ..data.recording import load_recording
    card = model.card
    rec = load_recording(recording)
    if rec.n_channels != card.n_channels:
        raise ImuadError(f"{recording}: {rec.n_channels} channels, model '{card.name}' takes {card.n_channels} "
                         f"({', '.join(card.channels)})")
    if rec.y is not None and rec.y.any():
        raise ImuadError(f"{recording}: its labels mark {int(rec.y.sum())} of {rec.n_samples} samples anomalous; "
                         "commissioning needs normal operation only (cut them out, or drop the labels)")
    if rec.n_samples < card.window + card.hop * 15:
        raise ImuadError(f"{recording}: {rec.n_samples} samples give fewer than 16 windows of {card.window} "
                         f"(hop {card.hop}); record longer normal operation")
    return rec, rec.counts(float(counts_per_unit or card.counts_per_unit))


@dataclass
class DeviceCalibration:
    target: str
    request: CalibrationRequest
    device: dict[str, int]      # the device's CALIBRATION
    host: dict[str, int]        # imuad.contracts.calibration.fit on the reference scores
    events: list[tuple[int, int, int]]

    @property
    def exact(self) -> bool:
        return self.device == self.host


def shape_features(model: ModelDir) -> int:
    """Shape features a model outputs after its score (spectral_gauss), which a device can refit
    (C5b refit); 0 for every other model."""
    card = model.card
    if card.score.kind != "class_prob":
        return 0
    n_out = int(np.prod(card.raw["output"]["shape"][1:]))
    return max(0, n_out - card.score.output_index - 1)


def calibrate_on_target(model: ModelDir, recording: str | Path, target: Any, rate_per_hour: float = 1.0,
                        margin: float | None = None, counts_per_unit: float | None = None, latency_s: float | None = 2.0,
                        drift_s: float | None = 60.0, refit: bool | None = None) -> DeviceCalibration:
    """The device's own calibration (C5b) on the first windows of a normal recording (at most
    4096; with a refit, the shape statistics on those and the threshold on as many again),
    streamed to a firmware target after CALIBRATE, next to the contract's result on the
    reference outputs of the same windows: they must be equal. refit None: when the model has
    shape features. margin None: 0.3 with a refit (its threshold sees half the windows), else 0.1."""
    from ..contracts.calibration import CALIB_WINDOWS, simulate
    from ..contracts.frames import Calibrate
    from ..contracts.windows import n_windows
    from ..evaluation.reference import stream_reference
    from ..targets import ReplaySession
    card = model.card
    rec, counts = normal_counts(model, recording, counts_per_unit)
    refit = shape_features(model) > 0 if refit is None else refit
    phases = 2 if refit else 1
    margin = (0.3 if refit else 0.1) if margin is None else margin
    windows = min(CALIB_WINDOWS.hi, n_windows(len(counts), card.window, card.hop) // phases)
    if windows < CALIB_WINDOWS.lo:
        raise ImuadError(f"{recording}: {windows * phases} windows; a calibration{' with a refit' if refit else ''} "
                         f"needs {CALIB_WINDOWS.lo * phases}")
    counts = counts[:card.window + card.hop * (phases * windows - 1)]
    fs = rec.fs or card.sample_rate_hz
    hours = len(counts) / fs / 3600.0 if fs else None
    old = {k: int(card.raw["decision"][k]) for k in ("threshold_on", "threshold_off", "k", "n")}
    k, n = debounce_for(latency_s, fs, card.window, card.hop, old)
    block = min(65_535, int(drift_s * fs / card.hop)) if drift_s and fs else 0
    req = CalibrationRequest(windows=windows, allowed=int(math.floor(rate_per_hour * hours / phases)) if hours else 0,
                             margin_permille=int(round(margin * 1000)), k=k, n=n, drift_block=block, refit=int(refit))
    ref = stream_reference(model, counts)
    features = ref.outputs.reshape(len(ref.outputs), -1)[:, card.score.output_index + 1:].tolist() if refit else None
    _, host, _ = simulate(ref.scores.tolist(), decision_from_mapping(old), req, features)
    if host is None:
        raise ImuadError(f"{recording}: too short for a calibration of {windows} windows")
    with ReplaySession.open(target) as session:
        name = session.provide_model(model)
        res = session.replay(counts, model=name, calibrate=Calibrate(**req.as_dict()), bye=False)
    if len(res.calibrations) != 1:
        errors = "; ".join(str(e) for e in res.errors[:3])
        raise ImuadError(f"target '{target.name}' sent {len(res.calibrations)} CALIBRATION answers to CALIBRATE "
                         f"({windows} windows){': ' + errors if errors else ''}")
    return DeviceCalibration(target.name, req, res.calibrations[0].as_dict(), host.as_dict(), res.event_tuples())


def commission(model: ModelDir, recording: str | Path, rate_per_hour: float = 1.0, margin: float = 0.1,
               counts_per_unit: float | None = None, latency_s: float | None = 2.0,
               refit_statistics: bool = True) -> tuple[ModelDir, dict[str, Any], Commissioning, np.ndarray, Any]:
    """(model as it will be written, its new card, what was done, the normal scores, the refitted
    float model or None) for `model` on a normal `recording`."""
    from ..evaluation.reference import stream_reference
    card = model.card
    rec, counts = normal_counts(model, recording, counts_per_unit)
    cpu = float(counts_per_unit or card.counts_per_unit)
    refitted = None
    from .export import FLOAT_MODEL, REFITTABLE
    scores_before = stream_reference(model, counts).scores
    if refit_statistics and card.raw.get("architecture") in REFITTABLE and (model.path / FLOAT_MODEL).is_file():
        model, refitted = refit(model, counts, cpu)
        card = model.card
    scores = stream_reference(model, counts).scores if refitted is not None else scores_before
    fs = rec.fs or card.sample_rate_hz
    hours = rec.n_samples / fs / 3600.0 if fs else None
    allowed = int(math.floor(rate_per_hour * hours)) if hours else 0
    old = {k: int(card.raw["decision"][k]) for k in ("threshold_on", "threshold_off", "k", "n")}
    k, n = debounce_for(latency_s, fs, card.window, card.hop, old)
    new = fit_decision(scores, old, allowed, margin, k, n)
    top = 127 - card.score.output_zero_point if card.score.kind == "class_prob" else None
    if top is not None and new["threshold_on"] > top:
        raise ImuadError(
            f"model '{card.name}' scores this machine's normal operation as anomalous (median {int(np.median(scores))}, "
            f"p99 {int(np.percentile(scores, 99))} of at most {top}): no threshold keeps it quiet and still detects. "
            "It learned the training machine's level; commission a normal-only model instead "
            "(`imuad train --arch spectral_gauss`, blind to level and mounting gain) or retrain on this machine")
    rule = (f"k {k} of n {n} (detection latency <= {latency_s:g} s)" if latency_s and fs else
            f"k {k} of n {n} (the card's)") + (
            f"; lowest threshold_on with <= {allowed} onset(s) on {len(scores)} normal windows"
            f"{f' ({hours:.3g} h at {rate_per_hour:g}/h)' if hours else ' (sample rate unknown: none allowed)'}"
            f", + {margin:g} x (threshold_on - median score)")
    q = {f"p{p:g}": int(np.percentile(scores, p)) for p in (50, 90, 99, 100)}
    if refitted is not None:
        rule += "; normal statistics (C3 RMS floors, spectral-shape mean/std) refitted on this recording"
    info = Commissioning(str(Path(recording).resolve()), rec.sha256(), len(scores), hours, allowed,
                         onsets(old, scores_before), onsets(new, scores), q, old, new, rule)
    new_card = json.loads(json.dumps(card.raw))
    new_card["decision"] = new
    new_card["decision_rule"] = rule
    history = list(new_card.get("commissioning", []))
    history.append({**asdict(info), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    new_card["commissioning"] = history
    return model, new_card, info, scores, refitted


def write_commissioned(model: ModelDir, new_card: dict[str, Any], out: Path, float_model: Any = None) -> list[Path]:
    """The model folder again: flatbuffer (new when refitted), C arrays, model_config.h, card."""
    from ..fileio import write_atomic
    from .export import FLOAT_MODEL, write_model_dir
    if out.exists() and out.resolve() != model.path.resolve() and (out / CARD_NAME).exists():
        old = json.loads((out / CARD_NAME).read_text())
        if old.get("name") != model.card.name:
            raise ImuadError(f"{out} holds model '{old.get('name')}', not '{model.card.name}'")
    written = write_model_dir(out, model.card.name, model.tflite, new_card)
    if float_model is not None:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            float_model.save(Path(tmp) / FLOAT_MODEL)
            written.append(write_atomic(out / FLOAT_MODEL, (Path(tmp) / FLOAT_MODEL).read_bytes()))
    elif (model.path / FLOAT_MODEL).is_file() and out.resolve() != model.path.resolve():
        written.append(write_atomic(out / FLOAT_MODEL, (model.path / FLOAT_MODEL).read_bytes()))
    return written


def plot_scores(scores: np.ndarray, info: Commissioning, path: Path, title: str) -> Path:
    """Histogram of the normal scores with the thresholds before and after."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(scores, bins=min(100, max(10, len(np.unique(scores)))), color="#4c78a8", alpha=0.85)
    for d, style, label in ((info.decision_before, "--", "before"), (info.decision_after, "-", "after")):
        ax.axvline(d["threshold_on"], color="#d62728", ls=style,
                   label=f"threshold_on {label}: {d['threshold_on']} ({info.onsets_before if label == 'before' else info.onsets_after} onsets)")
        ax.axvline(d["threshold_off"], color="#ff7f0e", ls=style, lw=0.8, label=f"threshold_off {label}: {d['threshold_off']}")
    ax.set_xlabel("window score (int8 model, C4 units)")
    ax.set_ylabel("normal windows")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
