"""Every target computes what the host reference computes, bit for bit (the product promise).

For each model (committed models/*, plus the core's fixture models) and each --target:
raw int8 outputs == TFLM Python interpreter (reset before every window), scores == C4,
states and events == imuad.reference.Decider, on a synthetic stream of >= 10 000 windows and
on the test split of a recording.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT, datasets_dir, models_dir
from imuad.reference import stream_reference

FIXTURES = REPO_ROOT / "tests/core/fixtures/models"
N_WINDOWS = int(os.environ.get("IMUAD_TARGET_WINDOWS", "10000"))


def _model_dirs() -> list[Path]:
    committed = sorted(p.parent for p in models_dir().glob("*/model_config.h") if (p.parent / "model_card.json").exists())
    return committed + sorted(p.parent for p in FIXTURES.glob("*/model_config.h"))


MODELS = _model_dirs()


def _card(d: Path) -> dict:
    return json.loads((d / "model_card.json").read_text())


def synthetic_counts(n_windows: int, window: int, hop: int, channels: int, seed: int = 11) -> np.ndarray:
    """Quiet and loud stretches (so events happen), plus rare full-scale spikes (saturation)."""
    n = window + hop * (n_windows - 1)
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    amp = np.where((t // (window * 7)) % 4 == 3, 4000.0, 700.0)
    x = rng.normal(0, 1, (n, channels)) * amp[:, None] + 300 * np.sin(2 * np.pi * t / 50.0)[:, None]
    spikes = rng.random((n, channels)) < 1e-3
    x[spikes] = rng.choice([-40000.0, 40000.0], size=int(spikes.sum()))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def recording_test_split(card: dict, fixture: bool) -> list[np.ndarray]:
    """int16 counts of every test block of the card's recording (fixtures: the UCI recording)."""
    from imuad.data.recording import auto_counts_per_unit, load_recording
    from imuad.data.splits import SplitPlan, split_blocks
    C = len(card["channels"])
    if fixture:
        path = datasets_dir() / "smartmanuad/76_UCIAccelerometer.npz"
    else:
        from imuad.deploy.parity import resolve_recording
        p = str((card.get("dataset") or {}).get("path") or "")
        path = Path(p) if Path(p).is_absolute() else REPO_ROOT / p
        if (card.get("dataset") or {}).get("synth"):  # synthetic: regenerated when absent
            path = resolve_recording(card, None)
        elif not p or not path.is_file():  # cards may name the file relative to another checkout
            path = datasets_dir() / "smartmanuad" / Path(p).name
    if not path.exists():
        pytest.skip(f"recording {path} not available")
    rec = load_recording(path)
    if fixture:
        counts = rec.counts(auto_counts_per_unit(rec.X))[:, :C]
    else:
        counts = rec.counts(float(card["dataset"]["counts_per_unit"]))
    blocks = split_blocks(SplitPlan.from_dict(card.get("split")), rec.y, rec.n_samples, int(card["window"]))
    return [counts[b.start:b.stop] for b in blocks if b.split == "test"]


def reference(model_dir: Path, card: dict, counts: np.ndarray):
    """(outputs [N, n_out] int8, scores, states, events) as the Python host reference computes them."""
    ref = stream_reference((model_dir / "model.tflite").read_bytes(), card, counts)
    return ref.outputs, ref.scores, np.array(ref.states), ref.events


def _replay(target, card: dict, counts: np.ndarray, fixture: bool):
    from imuad.targets import ReplaySession
    with ReplaySession.open(target) as session:
        try:
            return session.replay(counts, model=card["name"])
        except ImuadError as exc:
            if fixture and "unknown model" in str(exc):
                pytest.skip(f"{target.name} firmware does not carry fixture model {card['name']}")
            raise


def _assert_same(res, ref, card: dict, what: str) -> None:
    outs, scores, states, events = ref
    got = res.outputs
    assert len(got) == len(outs), f"{what}: {len(got)} windows from the target, {len(outs)} expected"
    mism = np.flatnonzero(np.any(got != outs, axis=1))
    assert mism.size == 0, (f"{what}: {mism.size}/{len(outs)} windows differ from TFLM, first {mism[:5].tolist()}, "
                            f"max |diff| {int(np.abs(got.astype(int) - outs.astype(int)).max())} LSB")
    assert [w.window for w in res.windows] == list(range(len(outs)))
    np.testing.assert_array_equal(res.scores, scores, err_msg=f"{what}: scores")
    np.testing.assert_array_equal(res.states, states, err_msg=f"{what}: states")
    assert res.event_tuples() == events, f"{what}: events differ"
    assert not res.errors, f"{what}: firmware errors {res.errors[:3]}"
    assert res.stats is not None and res.stats.dropped == 0
    assert res.device_info.model_sha256.hex() == card["tflite_sha256"]


@pytest.mark.parametrize("model_dir", MODELS, ids=[d.name for d in MODELS])
def test_synthetic_stream_bit_exact(target, model_dir: Path):
    card = _card(model_dir)
    counts = synthetic_counts(N_WINDOWS, card["window"], card["hop"], len(card["channels"]))
    ref = reference(model_dir, card, counts)
    assert len(ref[0]) >= N_WINDOWS
    res = _replay(target, card, counts, model_dir.parent == FIXTURES)
    _assert_same(res, ref, card, f"{target.name}/{card['name']}/synthetic")
    assert len(ref[3]) > 0 or card["decision"]["threshold_on"] > 10**6, "stream produced no event to compare"


@pytest.mark.parametrize("model_dir", MODELS, ids=[d.name for d in MODELS])
def test_recording_test_split_bit_exact(target, model_dir: Path):
    card = _card(model_dir)
    fixture = model_dir.parent == FIXTURES
    blocks = recording_test_split(card, fixture)
    for i, counts in enumerate(blocks):
        if len(counts) < card["window"]:
            continue
        ref = reference(model_dir, card, counts)
        res = _replay(target, card, counts, fixture)
        _assert_same(res, ref, card, f"{target.name}/{card['name']}/test block {i}")


def test_garbage_does_not_break_a_session(target):
    """Garbage before HELLO and between frames is dropped and counted; replay still exact."""
    from imuad import protocol as P
    from imuad.targets import ReplaySession
    model_dir = MODELS[-1]
    card = _card(model_dir)
    counts = synthetic_counts(50, card["window"], card["hop"], len(card["channels"]))
    ref = reference(model_dir, card, counts)
    rng = np.random.default_rng(4)
    with ReplaySession.open(target) as session:
        session.transport.write(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() + b"\0")
        session.transport.write(b"\x55" * 2500 + b"\0")  # oversized run
        before = session.stats()
        try:
            res = session.replay(counts, model=card["name"], bye=False)
        except ImuadError as exc:
            if "unknown model" in str(exc):
                pytest.skip(str(exc))
            raise
        assert before.dropped >= 2
        np.testing.assert_array_equal(res.outputs, ref[0])
        session.send(P.Samples(999999, counts[:3]))  # a gap: reported, not fatal
        stats = session.stats()
        assert stats.windows >= len(ref[0])
