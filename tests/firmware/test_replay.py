"""Every firmware target computes what the host reference computes, bit for bit, and handles
the serial protocol (docs/contracts.md C7) the same way: the product promise, one test file for
host, qemu, qemu-nn, idflinux, micropython (and esp32 with --port).

For each model (committed models/* and the core's fixture models): raw int8 outputs == TFLM
Python interpreter (reset before every window), scores == C4, states and events ==
imuad.contracts.decision's Decider, on a synthetic stream and on the test split of a recording. Then the
protocol: the default model, garbage, random and mutated frames, an unknown model, CONFIG, and
the HIL runner (`imuad hil`) with a stalling, a noisy line and a wrong model hash. And models
loaded at run time (C7 MODEL_BEGIN / MODEL_CHUNK / MODEL_END): a model folder compiled into no
firmware replays bit for bit, and every kind of bad upload gets its ERROR and leaves the firmware
working.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import struct
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from fw_support import FIXTURES, Fw, card_of, model_dirs, model_with_op, perturbed_model, shape_corrupted
from imuad.contracts import frames as P
from imuad.contracts.card import load_model_dir
from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT, datasets_dir
from imuad.evaluation.reference import stream_reference
from imuad.targets import ReplaySession
from imuad.targets.base import Transport
from imuad.targets.session import model_begin

pytestmark = pytest.mark.timeout(900)  # the first test of a target may build it

MODELS = model_dirs()
DEFAULT_MODEL = next(d.name for d in MODELS if card_of(d).get("default"))


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
    from imuad.data.splits import time_block_split
    C = len(card["channels"])
    if fixture:
        path = datasets_dir() / "smartmanuad/76_UCIAccelerometer.npz"
    else:
        from imuad.evaluation.recordings import resolve_recording
        p = str((card.get("dataset") or {}).get("path") or "")
        path = Path(p) if Path(p).is_absolute() else REPO_ROOT / p
        if (card.get("dataset") or {}).get("synth"):  # synthetic: regenerated when absent
            try:
                path = resolve_recording(load_model_dir(REPO_ROOT / "models" / card["name"]).card, None)
            except ImuadError as exc:
                pytest.skip(f"{card['name']}: {exc}")
        elif not p or not path.is_file():  # cards may name the file relative to another checkout
            path = datasets_dir() / "smartmanuad" / Path(p).name
    if not path.exists():
        pytest.skip(f"recording {path} not available")
    rec = load_recording(path)
    counts = rec.counts(auto_counts_per_unit(rec.X))[:, :C] if fixture else \
        rec.counts(float(card["dataset"]["counts_per_unit"]))
    blocks = time_block_split(rec.y, rec.n_samples, min_block=int(card["window"]))
    return [counts[b.start:b.stop] for b in blocks if b.split == "test"]


def replay_exact(fw: Fw, model_dir: Path, counts: np.ndarray, what: str):
    card = card_of(model_dir)
    if model_dir.parent == FIXTURES and not fw.carries_fixtures:
        pytest.skip(f"{fw.name} firmware carries no fixture model")
    ref = stream_reference(load_model_dir(model_dir), counts)
    with ReplaySession.open(fw.target) as session:
        res = session.replay(counts, model=card["name"])
    got = res.outputs
    assert len(got) == len(ref.outputs), f"{what}: {len(got)} windows from the target, {len(ref.outputs)} expected"
    bad = np.flatnonzero(np.any(got != ref.outputs, axis=1))
    assert bad.size == 0, (f"{what}: {bad.size}/{len(got)} windows differ from TFLM, first {bad[:5].tolist()}, "
                           f"max |diff| {int(np.abs(got.astype(int) - ref.outputs.astype(int)).max())} LSB")
    assert [w.window for w in res.windows] == list(range(len(got)))
    np.testing.assert_array_equal(res.scores, ref.scores, err_msg=f"{what}: scores")
    np.testing.assert_array_equal(res.states, np.array(ref.states), err_msg=f"{what}: states")
    assert res.event_tuples() == ref.events, f"{what}: events differ"
    assert not res.errors, f"{what}: firmware errors {res.errors[:3]}"
    assert res.stats.dropped == 0 and res.stats.windows >= len(got)
    assert res.device_info.target == fw.device_target
    assert res.device_info.model_name == card["name"]
    assert res.device_info.model_sha256.hex() == card["tflite_sha256"]
    assert (res.device_info.window, res.device_info.hop, res.device_info.channels) == (
        card["window"], card["hop"], len(card["channels"]))
    assert 0 < res.device_info.arena_used <= res.device_info.arena_size
    return res, ref


@pytest.mark.parametrize("model_dir", MODELS, ids=[d.name for d in MODELS])
def test_synthetic_stream_bit_exact(fw: Fw, model_dir: Path):
    card = card_of(model_dir)
    counts = synthetic_counts(fw.windows, card["window"], card["hop"], len(card["channels"]))
    _, ref = replay_exact(fw, model_dir, counts, f"{fw.name}/{card['name']}/synthetic")
    assert len(ref.outputs) == fw.windows
    assert ref.events or card["decision"]["threshold_on"] > 10**6, "stream produced no event to compare"


@pytest.mark.parametrize("model_dir", MODELS, ids=[d.name for d in MODELS])
def test_recording_test_split_bit_exact(fw: Fw, model_dir: Path):
    """Each test block of the recording is its own stream (HELLO resets); emulators get the
    first windows of each block up to their budget."""
    card = card_of(model_dir)
    budget = card["window"] + card["hop"] * (fw.windows - 1)
    for i, counts in enumerate(recording_test_split(card, model_dir.parent == FIXTURES)):
        if len(counts) < card["window"]:
            continue
        replay_exact(fw, model_dir, counts[:budget], f"{fw.name}/{card['name']}/test block {i}")
        budget -= min(budget, len(counts))
        if budget < card["window"]:
            break


def test_empty_hello_selects_the_default_model(fw: Fw):
    """C7: an empty HELLO selects the compiled-in model whose card says "default": true."""
    with ReplaySession.open(fw.target) as session:
        info = session.hello("")
    assert info.model_name == DEFAULT_MODEL
    assert info.model_sha256.hex() == card_of(REPO_ROOT / "models" / DEFAULT_MODEL)["tflite_sha256"]
    assert info.target == fw.device_target and info.fw_version == "imuad-0.1.0"


def test_unknown_model_fails_fast_with_message(fw: Fw):
    t0 = time.monotonic()
    with ReplaySession.open(fw.target) as session:
        with pytest.raises(ImuadError, match="unknown model 'no_such_model'"):
            session.replay(np.zeros((256, 3), np.int16), model="no_such_model")
    assert time.monotonic() - t0 < fw.hello_timeout + 10


def test_garbage_does_not_break_a_session(fw: Fw):
    """Garbage before HELLO and between frames is dropped and counted; replay still exact."""
    model_dir = REPO_ROOT / "models" / DEFAULT_MODEL
    card = card_of(model_dir)
    counts = synthetic_counts(20, card["window"], card["hop"], len(card["channels"]))
    ref = stream_reference(load_model_dir(model_dir), counts)
    rng = np.random.default_rng(4)
    with ReplaySession.open(fw.target) as session:
        session.transport.write(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() + b"\0")
        session.transport.write(b"\x55" * 2500 + b"\0")  # oversized run
        before = session.stats()
        res = session.replay(counts, model=card["name"], bye=False)
        assert before.oversized >= 1 and before.dropped >= 2
        np.testing.assert_array_equal(res.outputs, ref.outputs)
        session.send(P.Samples(999_999, counts[:3]))  # a gap: reported, not fatal
        stats = session.stats()
        assert stats.windows >= len(ref.outputs)


def test_random_and_mutated_frames_never_kill_it(fw: Fw):
    """Thousands of garbage, bit-flipped and valid frames; every one counted; replay still works."""
    rng = random.Random(2)
    chunks = []
    for i in range(fw.windows * 2):
        kind = rng.randrange(4)
        if kind == 0:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
            chunks.append(P.encode_raw(rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15]), body))
        elif kind == 1:
            f = bytearray(P.encode_frame(P.Samples(i, np.full((rng.randrange(20), 3), i % 300, np.int16))))
            f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
            chunks.append(bytes(f))
        elif kind == 2:
            chunks.append(bytes(rng.randrange(256) for _ in range(rng.randrange(30))))
        else:
            chunks.append(P.encode_frame(P.Hello(rng.choice(["", DEFAULT_MODEL, "x"]))))
    card = card_of(REPO_ROOT / "models" / DEFAULT_MODEL)
    with ReplaySession.open(fw.target) as session:
        session.transport.write(b"".join(chunks) + b"\0")
        stats = session.stats()
        assert stats.frames_ok > len(chunks) // 4 and stats.dropped > len(chunks) // 10
        res = session.replay(np.zeros((card["window"] + card["hop"], len(card["channels"])), np.int16),
                             model=card["name"])
        assert len(res.windows) == 2


def test_config_changes_the_decision_and_hello_restores_it(fw: Fw):
    """C7 CONFIG: new C5 constants (an invalid set gets ERROR(MODEL)); HELLO restores the card's."""
    model_dir = REPO_ROOT / "models" / DEFAULT_MODEL
    card = card_of(model_dir)
    counts = synthetic_counts(60, card["window"], card["hop"], len(card["channels"]))
    with ReplaySession.open(fw.target) as session:
        session.hello(card["name"])
        # threshold_off > threshold_on: Config.encode refuses it, so the raw frame
        session.write(P.encode_raw(P.CONFIG, struct.pack("<iiBB", 10, 20, 2, 3)))
        with pytest.raises(ImuadError, match=r"firmware error MODEL: CONFIG rejected"):
            session._await(P.DeviceInfo, session.idle_timeout, "DEVICE_INFO after CONFIG")
    with ReplaySession.open(fw.target) as session:
        hot = session.replay(counts, model=card["name"], config=P.Config(-(2**31), -(2**31), 1, 1), bye=False)
        assert hot.states.tolist() == [1] * len(hot.windows)  # every window hot: ANOMALY from the first
        again = session.replay(counts, model=card["name"], bye=False)
    ref = stream_reference(load_model_dir(model_dir), counts)
    assert again.event_tuples() == ref.events
    np.testing.assert_array_equal(again.states, np.array(ref.states))


CALIBRATION_MODELS = ("fixture_cnn", "fixture_ae", "fixture_wn")  # class_prob, recon_error, window_int


def drifting_counts(card: dict, n_windows: int) -> np.ndarray:
    """synthetic_counts, then a tone growing over the second half (slow wear: drift, then alarms)."""
    x = synthetic_counts(n_windows, card["window"], card["hop"], len(card["channels"]), seed=5).astype(float)
    h = len(x) // 2
    t = np.arange(len(x) - h)
    x[h:] += (np.linspace(0, 6000, len(t)) * np.sin(2 * np.pi * t / 7.3))[:, None]
    return np.clip(x, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("name", CALIBRATION_MODELS)
def test_device_calibration_bit_exact(fw: Fw, name: str):
    from imuad.contracts.calibration import CALIBRATED, DRIFT, CalibrationRequest, simulate
    from imuad.contracts.decision import decision_from_mapping
    from imuad.deploy.commission import fit_decision
    if not fw.carries_fixtures:
        pytest.skip(f"{fw.name} firmware carries no fixture model")
    model_dir = FIXTURES / name
    card = card_of(model_dir)
    n_total = min(fw.windows, 300)
    req = CalibrationRequest(windows=n_total // 2, allowed=0, margin_permille=100, k=3, n=5, drift_block=16)
    counts = drifting_counts(card, n_total)
    ref = stream_reference(load_model_dir(model_dir), counts)
    old = decision_from_mapping(card["decision"])
    want_events, want, _ = simulate(ref.scores.tolist(), old, req)
    with ReplaySession.open(fw.target) as session:
        res = session.replay(counts, model=card["name"], calibrate=P.Calibrate(**req.as_dict()), bye=False)
        np.testing.assert_array_equal(res.scores, ref.scores)
        assert [c.as_dict() for c in res.calibrations] == [want.as_dict()]
        assert res.event_tuples() == want_events
        assert (req.windows - 1, CALIBRATED) in [(w, k) for w, k, _ in want_events]
        assert any(k == DRIFT for _, k, _ in want_events), "no drift to compare"
        # the host's `imuad calibrate` rule on the same windows: the same decision
        assert fit_decision(ref.scores[:req.windows], card["decision"], 0, 0.1, 3, 5) == want.decision.as_dict()
        session.send(P.Calibrate(0))  # the stored calibration of this model
        assert session._await(P.Calibration, session.idle_timeout, "CALIBRATION").as_dict() == want.as_dict()
        session.write(P.encode_frame(P.Calibrate(windows=8)))
        with pytest.raises(ImuadError, match=r"firmware error MODEL: CALIBRATE: windows must be in 16..4096"):
            session._await(P.DeviceInfo, session.idle_timeout, "an answer to CALIBRATE(8)")


def test_device_refit_bit_exact(fw: Fw):
    """C5b refit on spectral_gauss (fixture_wn: its output carries the shape features after the
    distance): the device refits the shape statistics on N windows, the threshold on the next N,
    then scores with them; statistics, scores and events equal the contract's simulation on the
    reference outputs. A model without features refuses a refit."""
    from imuad.contracts.calibration import CALIBRATED, CalibrationRequest, simulate
    from imuad.contracts.decision import decision_from_mapping
    if not fw.carries_fixtures:
        pytest.skip(f"{fw.name} firmware carries no fixture model")
    model_dir = FIXTURES / "fixture_wn"
    card = card_of(model_dir)
    n_total = min(fw.windows, 300)
    req = CalibrationRequest(windows=n_total // 3, allowed=0, margin_permille=300, k=3, n=5, drift_block=16, refit=1)
    counts = drifting_counts(card, n_total)
    ref = stream_reference(load_model_dir(model_dir), counts)
    features = ref.outputs.reshape(len(ref.outputs), -1)[:, 1:].tolist()
    want_events, want, reported = simulate(ref.scores.tolist(), decision_from_mapping(card["decision"]), req, features)
    assert want is not None and (2 * req.windows - 1, CALIBRATED, want.decision.threshold_on) in want_events
    with ReplaySession.open(fw.target) as session:
        res = session.replay(counts, model=card["name"], calibrate=P.Calibrate(**req.as_dict()), bye=False)
        np.testing.assert_array_equal(res.outputs, ref.outputs.reshape(len(ref.outputs), -1))
        assert res.scores.tolist() == reported
        assert reported[2 * req.windows:] != ref.scores.tolist()[2 * req.windows:]  # the refit score took over
        assert [c.as_dict() for c in res.calibrations] == [want.as_dict()]
        assert res.event_tuples() == want_events
        session.hello("fixture_cnn")  # one output: nothing to refit
        session.send(P.Calibrate(**{**req.as_dict(), "windows": 16}))
        with pytest.raises(ImuadError, match="refit needs a model whose output carries shape features"):
            session._await(P.Calibration, session.idle_timeout, "an answer to CALIBRATE(refit)")


def _stored_firmware(fw: Fw, state: Path):
    """A function starting fw with its storage in the folder `state` (the same storage on every
    start: a restart), for the boards that keep calibrations; skips the others."""
    import os
    from imuad.targets.host import PipeTransport
    if fw.name == "host":
        return lambda: PipeTransport([str(fw.target.executable()), "--state-dir", str(state)])
    if fw.name == "idflinux":
        return lambda: PipeTransport([str(fw.target.executable())], env={**os.environ, "IMUAD_FLASH_FILE": str(state / "flash.bin")})
    pytest.skip(f"{fw.name} keeps calibrations in memory only (no storage on this board)")


def test_device_calibration_survives_a_restart(fw: Fw, tmp_path):
    """The device keeps its calibration per model where the board has storage: ESP-IDF in NVS
    (linux: the emulated flash kept in IMUAD_FLASH_FILE), the POSIX build in --state-dir. After a
    restart CALIBRATE(0) reports it; before any calibration it says there is none."""
    from imuad.contracts.calibration import CalibrationRequest
    start = _stored_firmware(fw, tmp_path)
    card = card_of(FIXTURES / "fixture_cnn")
    req = CalibrationRequest(windows=40, margin_permille=50, drift_block=8)
    counts = drifting_counts(card, 60)
    with ReplaySession(start(), fw.name) as session:
        session.hello(card["name"])
        session.send(P.Calibrate(0))
        with pytest.raises(ImuadError, match="no calibration stored for this model"):
            session._await(P.Calibration, session.idle_timeout, "CALIBRATION")
        res = session.replay(counts, model=card["name"], calibrate=P.Calibrate(**req.as_dict()), bye=False)
        assert len(res.calibrations) == 1
    with ReplaySession(start(), fw.name) as session:
        session.hello(card["name"])
        session.send(P.Calibrate(0))
        assert session._await(P.Calibration, session.idle_timeout, "CALIBRATION") == res.calibrations[0]
        session.hello("fixture_ae")  # another model: its own (none)
        session.send(P.Calibrate(0))
        with pytest.raises(ImuadError, match="no calibration stored for this model"):
            session._await(P.Calibration, session.idle_timeout, "CALIBRATION")


def test_device_keeps_the_calibrations_of_the_models_calibrated_last(fw: Fw, tmp_path):
    """Storage holds the calibrations of the 8 models calibrated last (imuad::kCalibrationsKept):
    after calibrating 10 models and restarting, the 8 newest report theirs, the 2 oldest none
    (their calibrations were removed, not left to fill the flash); calibrating an old one again
    makes it the newest."""
    from imuad.contracts.calibration import CalibrationRequest
    start = _stored_firmware(fw, tmp_path / "state")
    (tmp_path / "state").mkdir()
    kept = 8
    models = [load_model_dir(perturbed_model(RUNTIME_SOURCE, tmp_path / f"m{i}", f"m{i}", shift=10 + 7 * i))
              for i in range(kept + 2)]
    assert len({m.card.tflite_sha256 for m in models}) == len(models)
    card = models[0].card
    req = CalibrationRequest(windows=16, margin_permille=50, drift_block=0)
    counts = synthetic_counts(24, card.window, card.hop, card.n_channels)

    def stored(session: ReplaySession, model) -> P.Calibration | None:
        session.provide_model(model)
        session.hello(model.card.name)
        session.send(P.Calibrate(0))
        try:
            return session._await(P.Calibration, session.idle_timeout, "CALIBRATION")
        except ImuadError as e:
            assert "no calibration stored for this model" in str(e)
            return None

    made = {}
    with ReplaySession(start(), fw.name) as session:
        for m in models:
            name = session.provide_model(m)
            res = session.replay(counts, model=name, calibrate=P.Calibrate(**req.as_dict()), bye=False)
            assert len(res.calibrations) == 1, name
            made[name] = res.calibrations[0]
    with ReplaySession(start(), fw.name) as session:
        found = {m.card.name: stored(session, m) for m in models}
    assert [n for n, c in found.items() if c is None] == ["m0", "m1"]
    assert all(found[n] == made[n] for n in found if n not in ("m0", "m1"))
    if fw.name == "host":
        assert len(list((tmp_path / "state").glob("calibration-" + "[0-9a-f]" * 12 + "*.bin"))) == kept
    with ReplaySession(start(), fw.name) as session:  # m2, the oldest kept, calibrated again
        session.provide_model(models[2])
        res = session.replay(counts, model="m2", calibrate=P.Calibrate(**req.as_dict()), bye=False)
        session.provide_model(models[0])
        session.replay(counts, model="m0", calibrate=P.Calibrate(**req.as_dict()), bye=False)
    with ReplaySession(start(), fw.name) as session:
        assert stored(session, models[2]) == res.calibrations[0]
        assert stored(session, models[3]) is None  # the oldest now


def test_device_calibration_kept_across_a_model_reload(fw: Fw):
    """Every board keeps the last calibration, boards without storage in memory (the Board
    default: QEMU, MicroPython, the POSIX build without --state-dir): after HELLO loads another
    model (which has none) and then this one again, CALIBRATE(0) still reports it (a refit: the
    shape statistics are stored with it)."""
    from imuad.contracts.calibration import CalibrationRequest
    if not fw.carries_fixtures:
        pytest.skip(f"{fw.name} firmware carries no fixture model")
    card = card_of(FIXTURES / "fixture_wn")
    req = CalibrationRequest(windows=16, margin_permille=50, drift_block=0, refit=1)
    counts = synthetic_counts(40, card["window"], card["hop"], len(card["channels"]))
    with ReplaySession.open(fw.target) as session:
        res = session.replay(counts, model=card["name"], calibrate=P.Calibrate(**req.as_dict()), bye=False)
        assert len(res.calibrations) == 1
        session.hello("fixture_cnn")  # another model loaded: its own calibration (none)
        session.send(P.Calibrate(0))
        with pytest.raises(ImuadError, match="no calibration stored for this model"):
            session._await(P.Calibration, session.idle_timeout, "CALIBRATION")
        session.hello(card["name"])  # loaded again
        session.send(P.Calibrate(0))
        assert session._await(P.Calibration, session.idle_timeout, "CALIBRATION") == res.calibrations[0]


# ---------------------------------------------------------------- models loaded at run time
RUNTIME_SOURCE = FIXTURES / "fixture_cnn"  # 3 KB flatbuffer; its ops are in every test image


def test_model_loaded_at_run_time_bit_exact(fw: Fw, tmp_path):
    """A model folder compiled into no firmware (a fixture's flatbuffer with other weights, under
    another name) is loaded into the model slot, selected, and replayed bit for bit; after the
    default model, HELLO selects it again."""
    model = load_model_dir(perturbed_model(RUNTIME_SOURCE, tmp_path / "runtime_cnn", "runtime_cnn"))
    card = model.card
    counts = synthetic_counts(min(fw.windows, 600), card.window, card.hop, card.n_channels)
    ref = stream_reference(model, counts)
    original = stream_reference(load_model_dir(RUNTIME_SOURCE), counts)
    assert not np.array_equal(ref.outputs, original.outputs), "the perturbed model computes the same outputs"
    with ReplaySession.open(fw.target) as session:
        info = session.hello("")
        assert info.model_slot_bytes >= len(model.tflite), f"{fw.name}: model slot {info.model_slot_bytes} B"
        name = session.provide_model(model)
        assert session.last_upload is not None and session.last_upload.action == "uploaded"
        res = session.replay(counts, model=name, bye=False)
        assert session.hello("").model_name == DEFAULT_MODEL
        again = session.replay(counts[:card.window + 3 * card.hop], model=name, bye=False)
        assert session.provide_model(model) == name and session.last_upload.action == "present"
    assert res.device_info.model_name == "runtime_cnn" and res.device_info.model_sha256.hex() == card.tflite_sha256
    assert not res.errors, res.errors[:3]
    np.testing.assert_array_equal(res.outputs, ref.outputs)
    np.testing.assert_array_equal(res.scores, ref.scores)
    assert res.event_tuples() == ref.events
    np.testing.assert_array_equal(again.outputs, ref.outputs[:4])


def test_model_upload_errors_leave_the_firmware_working(fw: Fw, tmp_path):
    """Wrong SHA-256, truncated, corrupt but correctly signed, an op the image lacks, larger than
    the slot, an arena larger than the target's: each gets ERROR(MODEL) / ERROR(ARENA) saying
    why, and the firmware goes on replaying bit for bit and loading a good model."""
    good = load_model_dir(perturbed_model(RUNTIME_SOURCE, tmp_path / "good", "runtime_cnn"))
    no_kernel = load_model_dir(model_with_op(RUNTIME_SOURCE, tmp_path / "abs", "no_kernel", "RESHAPE", "ABS"))
    begin, data = model_begin(good), good.tflite
    half = data[: len(data) // 2]
    bad_shape = shape_corrupted(data)

    def signed(b: bytes) -> P.ModelBegin:
        return dataclasses.replace(begin, size=len(b), sha256=hashlib.sha256(b).digest())

    with ReplaySession.open(fw.target) as session:
        info = session.hello("")
        cases = [
            ("wrong sha256", dataclasses.replace(begin, sha256=bytes(32)), data, r"MODEL: .*SHA-256"),
            ("truncated", begin, half, rf"MODEL: .*truncated: {len(half)} of {len(data)} bytes"),
            ("corrupt, re-signed (cut short)", signed(half), half, r"MODEL: model 'runtime_cnn': flatbuffer verif"),
            ("corrupt, re-signed (a shape)", signed(bad_shape), bad_shape, r"MODEL: model 'runtime_cnn': corrupt model"),
            ("op not compiled in", model_begin(no_kernel), no_kernel.tflite, r"MODEL: model 'no_kernel': op ABS"),
            ("larger than the slot", dataclasses.replace(begin, size=info.model_slot_bytes + 1), data,
             rf"MODEL: .*the model slot holds {info.model_slot_bytes}"),
            ("arena too large", dataclasses.replace(begin, arena_bytes=info.arena_size + 16), data, r"ARENA: .*arena"),
        ]
        for what, b, d, why in cases:
            with pytest.raises(ImuadError, match=why):
                session.upload(b, d)
                pytest.fail(f"{fw.name}: upload '{what}' was accepted")
        model = load_model_dir(REPO_ROOT / "models" / DEFAULT_MODEL)
        counts = synthetic_counts(10, model.card.window, model.card.hop, model.card.n_channels)
        res = session.replay(counts, model=DEFAULT_MODEL, bye=False)
        np.testing.assert_array_equal(res.outputs, stream_reference(model, counts).outputs)
        gc = synthetic_counts(10, good.card.window, good.card.hop, good.card.n_channels)
        session.provide_model(good)
        res = session.replay(gc, model="runtime_cnn", bye=False)
        np.testing.assert_array_equal(res.outputs, stream_reference(good, gc).outputs)
        assert session.stats().dropped == 0


# ---------------------------------------------------------------- HIL runner (imuad hil)
class StallingTransport(Transport):
    """Delivers the first `budget` bytes from the device, then nothing: a device that hangs."""

    def __init__(self, inner: Transport, budget: int) -> None:
        self.inner, self.budget = inner, budget

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        if self.budget <= 0:
            time.sleep(timeout)
            return b""
        data = self.inner.read(timeout)[: self.budget]
        self.budget -= len(data)
        return data

    def close(self) -> None:
        self.inner.close()


class NoisyTransport(Transport):
    """Injects garbage between frames in both directions (a noisy line, boot text, glitches)."""

    def __init__(self, inner: Transport, seed: int = 7, every: int = 3) -> None:
        self.inner, self.rng, self.every, self.n = inner, random.Random(seed), every, 0
        self.injected_rx = self.injected_tx = 0

    def _garbage(self) -> bytes:
        kind = self.rng.randrange(3)
        if kind == 0:   # printable text, like a stray log line
            return b"E (1234) noise: glitch \xff\r\n"
        if kind == 1:   # random bytes
            return bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randrange(1, 40)))
        return b"\x07\x01\x02\x03\x04"  # valid-looking COBS, bad CRC

    def write(self, data: bytes) -> None:
        self.n += 1
        if self.n % self.every == 0:
            self.inner.write(self._garbage() + b"\0")  # ends with a delimiter: next frame intact
            self.injected_tx += 1
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if not data or self.rng.randrange(self.every) != 0:
            return data
        cut = data.rfind(b"\0")  # only at a frame boundary
        if cut < 0:
            return data
        self.injected_rx += 1
        return data[:cut + 1] + self._garbage() + b"\0" + data[cut + 1:]

    def close(self) -> None:
        self.inner.close()


def hil_model(fw: Fw) -> Path:
    return FIXTURES / "fixture_cnn" if fw.carries_fixtures else REPO_ROOT / "models" / DEFAULT_MODEL


def _hil(fw: Fw, transport, model_dir: Path, recording: Path, timeout: float = 10.0, split=None):
    from imuad.evaluation.hil import run_hil
    from imuad.evaluation.recordings import segments
    model = load_model_dir(model_dir)
    _, segs = segments(model.card, recording, split)
    return run_hil(transport, model, segs, port=fw.name, recording=str(recording), split=split,
                   timeout=timeout, hello_timeout=fw.hello_timeout, max_inflight_chunks=fw.max_inflight)


def test_hil_bit_exact(fw: Fw, recording, artifacts_dir):
    rep = _hil(fw, fw.open(), hil_model(fw), recording)
    out = artifacts_dir / "hil" / f"test-{fw.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rep.to_json(), indent=1))
    print(rep.summary())
    assert rep.windows > 100
    assert rep.bit_exact == rep.windows, rep.first_mismatch
    assert rep.score_mismatch == 0 and rep.state_mismatch == 0
    assert rep.events_equal and rep.events_reference > 0, (rep.events_device, rep.events_reference)
    assert rep.device["target"] == fw.device_target
    assert len(rep.infer_us) == rep.windows
    # infer_us is the board clock around TFLM Invoke: a real inference takes time, and no window
    # takes as long as the whole run
    assert 0 < max(rep.infer_us) < 5_000_000 and np.median(rep.infer_us) > 0


def test_hil_split_blocks(fw: Fw, recording):
    """--split test: each time block is its own stream (HELLO resets), still bit-exact."""
    rep = _hil(fw, fw.open(), hil_model(fw), recording, split="test")
    assert len(rep.segments) >= 1 and rep.windows > 0
    assert rep.ok, rep.first_mismatch


def test_hil_wrong_model_hash_fails_fast(fw: Fw, recording, tmp_path):
    model = hil_model(fw)
    bad = tmp_path / model.name
    shutil.copytree(model, bad)
    card = json.loads((bad / "model_card.json").read_text())
    card["tflite_sha256"] = "00" * 32
    (bad / "model_card.json").write_text(json.dumps(card))
    t0 = time.monotonic()
    with pytest.raises(ImuadError, match="sha256"):
        _hil(fw, fw.open(), bad, recording)
    assert time.monotonic() - t0 < fw.hello_timeout + 5


def test_hil_device_stops_answering(fw: Fw, recording):
    t0 = time.monotonic()
    with pytest.raises(ImuadError, match="no answer within|timed out"):
        _hil(fw, StallingTransport(fw.open(), budget=3000), hil_model(fw), recording, timeout=2.0)
    assert time.monotonic() - t0 < 30  # fails fast, no hang


def test_hil_line_noise_is_dropped(fw: Fw, recording):
    noisy = NoisyTransport(fw.open())
    rep = _hil(fw, noisy, hil_model(fw), recording)
    assert noisy.injected_tx > 0 and noisy.injected_rx > 0
    assert rep.ok, rep.first_mismatch
    assert rep.host_counters["cobs_error"] + rep.host_counters["crc_error"] > 0
    dev_drops = sum(rep.device_stats.get(k, 0) for k in ("cobs_error", "too_short", "crc_error", "bad_version"))
    assert dev_drops > 0, rep.device_stats


def test_hil_pure_noise_input_bit_exact(fw: Fw, tmp_path):
    """Pure noise (no structure): another input distribution, still bit-exact."""
    rng = np.random.default_rng(99)
    path = tmp_path / "noise.npz"
    np.savez(path, X=rng.integers(-20000, 20000, size=(900, 3), dtype=np.int16))
    rep = _hil(fw, fw.open(), hil_model(fw), path)
    assert rep.ok and rep.windows > 0, rep.first_mismatch
