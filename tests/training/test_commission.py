"""`imuad calibrate`: commissioning a deployed model on another machine of the same type from its
normal operation, without retraining. Machine 2 differs from machine 1 in level, harmonics,
noise, damping and knocks; after commissioning the normal-only model is quiet on machine 2's
normal operation and still finds its faults within the latency budget."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from imuad.contracts.card import load_model_dir
from imuad.errors import ImuadError

FS, W, H = 1000.0, 128, 64


def machine2(seed: int, duration_s: float, faults: str = ""):
    from imuad.data.synth import default_config, parse_faults, synth_machine, with_overrides
    cfg = default_config(duration_s=duration_s, fs=FS, seed=seed)
    cfg = with_overrides(cfg, harmonics_g=tuple(2.2 * h for h in cfg.harmonics_g), noise_g=1.6 * cfg.noise_g,
                         resonance_zeta=0.06, knocks_per_s=0.8, faults=parse_faults(faults) if faults else ())
    return synth_machine(cfg)


@pytest.fixture(scope="module")
def exported(synth_npz, tmp_path_factory) -> Path:
    """spectral_gauss trained (fitted) on machine 1, quantized and exported."""
    from imuad.deploy.export import FLOAT_MODEL, export_run
    from imuad.deploy.quantize import quantize_run
    from imuad.training.run import Run
    from imuad.training.train import train
    base = tmp_path_factory.mktemp("commission")
    run = train(synth_npz, "spectral_gauss", base / "run", window=W, hop=H, report=False)
    quantize_run(Run.load(run), verbose=False)
    out, _ = export_run(run, "m1", base / "m1")
    assert (out / FLOAT_MODEL).is_file()
    return out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    from imuad.data.recording import save_recording
    base = tmp_path_factory.mktemp("machine2")
    normal = save_recording(machine2(11, 300.0), base / "normal.npz")  # 5 min: rare normal peaks seen
    faulty = machine2(12, 60.0, "outer@20-35:2.5")
    return normal, save_recording(faulty, base / "faulty.npz"), faulty


def onset_times(model_dir: Path, rec) -> list[float]:
    from imuad.evaluation.reference import stream_reference
    model = load_model_dir(model_dir)
    ref = stream_reference(model, rec.counts(model.card.counts_per_unit))
    return [(w * H + W) / FS for (w, kind, _) in ref.events if kind == 1]


def test_refit_quiets_normal_and_keeps_detecting(exported, recordings, tmp_path):
    from imuad.deploy.commission import commission, onsets, plot_scores, write_commissioned
    normal, faulty_path, faulty = recordings
    model = load_model_dir(exported)
    before = onset_times(exported, faulty)
    new_model, card, info, scores, refitted = commission(model, normal, rate_per_hour=1.0)
    assert refitted is not None and card["tflite_sha256"] != model.card.tflite_sha256
    assert card["preprocessing"]["kind"] == "window_int" and card["parity"] == {}
    assert info.allowed_onsets == 0 and info.onsets_after == 0 == onsets(card["decision"], scores)
    assert card["decision"]["n"] > 3 and card["decision"]["k"] * H / FS + W / FS <= 2.0   # latency budget
    out = tmp_path / "m1-commissioned"
    write_commissioned(new_model, card, out, refitted)
    png = plot_scores(scores, info, out / "commissioning.png", "t")
    assert png.stat().st_size > 5000 and (out / "float_model.keras").is_file()
    again = load_model_dir(out)            # a card the loader accepts, checked against its flatbuffer
    assert again.card.raw["commissioning"][-1]["onsets_after"] == 0
    assert f"{card['decision']['threshold_on']}, {card['decision']['threshold_off']}" in (out / "model_config.h").read_text()
    after = onset_times(out, faulty)
    quiet = [t for t in after if not 20.0 <= t <= 37.0]
    assert not quiet, f"onsets outside the fault: {quiet}"
    assert after and 20.0 <= after[0] <= 22.0, f"fault at 20 s detected at {after[:3]}"
    assert before and 20.0 <= before[0] <= 22.0   # machine 1's model finds the fault too, but:
    assert info.onsets_before > 0, "machine 1's model was already quiet on machine 2's normal operation"


def test_threshold_only_keeps_the_flatbuffer(exported, recordings, tmp_path):
    from imuad.deploy.commission import commission
    normal, _, _ = recordings
    model = load_model_dir(exported)
    same, card, info, _, refitted = commission(model, normal, refit_statistics=False, latency_s=None)
    assert refitted is None and same is model and card["tflite_sha256"] == model.card.tflite_sha256
    assert (card["decision"]["k"], card["decision"]["n"]) == (model.card.decision.k, model.card.decision.n)
    assert info.onsets_after <= info.allowed_onsets < info.onsets_before


def test_bad_recordings_are_refused(exported, synth_npz, tmp_path):
    from imuad.data.recording import save_recording
    from imuad.deploy.commission import commission
    model = load_model_dir(exported)
    with pytest.raises(ImuadError, match="anomalous"):
        commission(model, synth_npz)                       # labelled faults: not normal operation
    rec = machine2(13, 5.0)
    two = save_recording(replace(rec, X=rec.X[:, :2], channels=rec.channels[:2]), tmp_path / "two.npz")
    with pytest.raises(ImuadError, match="2 channels"):
        commission(model, two)
    short = save_recording(replace(rec, X=rec.X[:300], y=None, t=None), tmp_path / "short.npz")
    with pytest.raises(ImuadError, match="fewer than 16 windows"):
        commission(model, short)


def test_cli(exported, recordings, tmp_path, capsys):
    from imuad.cli import main
    normal, _, _ = recordings
    out = tmp_path / "cli"
    assert main(["calibrate", "--model", str(exported), "--recording", str(normal), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "onsets on this normal recording" in text and "-> 0 (allowed 0)" in text
    card = json.loads((out / "model_card.json").read_text())
    assert card["commissioning"][-1]["windows"] == int((300.0 * FS - W) // H + 1)
    assert np.isfinite(card["commissioning"][-1]["hours"])


def test_device_calibrates_itself_like_imuad_calibrate(exported, recordings, capsys):
    """C5b on a firmware (the host build): machine 1's model on machine 2's device, which fits its
    decision on its own first windows; `imuad calibrate --on-target` checks it against the host's
    fit of the same windows (bit-exact), and the result quiets machine 2 and still finds its fault."""
    from imuad.cli import main
    from imuad.contracts.decision import Decider
    from imuad.deploy.commission import calibrate_on_target
    from imuad.evaluation.reference import stream_reference
    from imuad.targets import get_target
    normal, _, faulty = recordings
    model = load_model_dir(exported)
    r = calibrate_on_target(model, normal, get_target("host"), refit=False)
    assert r.exact, (r.device, r.host)
    assert r.request.windows == 4096 and r.request.drift_block == int(60 * FS / H) and not r.request.refit
    assert r.device["onsets_before"] > 0  # machine 1's decision raises false alarms on machine 2
    d = {k: r.device[k] for k in ("threshold_on", "threshold_off", "k", "n")}
    events = Decider(**d).run(stream_reference(model, faulty.counts(model.card.counts_per_unit)).scores)[2]
    onsets = [(e.window * H + W) / FS for e in events if e.kind == 1]
    assert onsets and all(20 <= t <= 37 for t in onsets), onsets
    # by default a spectral_gauss device refits its shape statistics first (half the windows each)
    refit = calibrate_on_target(model, normal, get_target("host"))
    n_windows = int((300.0 * FS - W) // H + 1)
    assert refit.exact and refit.request.refit == 1 and refit.request.windows == n_windows // 2
    assert refit.request.margin_permille == 300
    assert main(["calibrate", "--model", str(exported), "--recording", str(normal), "--on-target", "host"]) == 0
    assert "bit-exact" in capsys.readouterr().out
