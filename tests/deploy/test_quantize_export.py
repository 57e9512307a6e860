"""quantize / op check / export (imuad.deploy) and the committed models."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT, vendor_dir
from imuad.contracts.preprocess import Preprocess
from tiny_model import C, H, W


# ---------------------------------------------------------------- flatbuffer checks
def test_corrupt_and_truncated_flatbuffers_give_clear_errors(tiny_run, tmp_path):
    from imuad.contracts.tflite import read_model
    from imuad.deploy.deployable import load_checked
    good = (tiny_run.dir / "model_int8.tflite").read_bytes()
    cases = {
        "garbage": bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8)),
        "empty": b"",
        "truncated_half": good[: len(good) // 2],
        "truncated_tail": good[:-7],
        "bad_root": good[:4] + good[4:8] + b"\xff" * 8 + good[16:],
    }
    for name, data in cases.items():
        p = tmp_path / f"{name}.tflite"
        p.write_bytes(data)
        with pytest.raises(ImuadError, match=re.escape(str(p)) + ".*(TFLite|truncated|corrupt|flatbuffer)"):
            load_checked(p)
    with pytest.raises(ImuadError, match="cannot read"):
        load_checked(tmp_path / "missing.tflite")
    assert read_model(good).op_names  # the intact one parses


def test_float_model_is_rejected(tiny_run):
    import tensorflow as tf
    from imuad.contracts.tflite import read_model
    from imuad.deploy.deployable import check_deployable
    float_tfl = tf.lite.TFLiteConverter.from_keras_model(tiny_run.model).convert()
    with pytest.raises(ImuadError, match="float32, not int8"):
        check_deployable(read_model(float_tfl, "float.tflite"))


def test_unsupported_op_names_op_and_keras_layer():
    import keras
    from imuad.contracts.tflite import read_model
    from imuad.deploy.deployable import check_deployable
    from imuad.deploy.quantize import convert_int8
    inp = keras.Input((W, C))
    x = keras.layers.Conv1D(4, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(4, activation="gelu", name="odd_dense")(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    tfl = convert_int8(keras.Model(inp, out), np.random.default_rng(0).normal(size=(16, W, C)))
    with pytest.raises(ImuadError, match=r"GELU \(from Keras layer 'odd_dense'\) has no TFLM kernel"):
        check_deployable(read_model(tfl, "gelu.tflite"))


def test_supported_ops_come_from_the_op_table():
    """The exporter reads the firmware's op table (imuad/op_table.def); no other op list exists."""
    from imuad.deploy.tflm_ops import OP_TABLE, op_table, supported_ops
    ops = supported_ops()
    assert ops == {name: method for name, (method, _files) in op_table().items()}
    assert set(ops) >= {"CONV_2D", "FULLY_CONNECTED", "UNIDIRECTIONAL_SEQUENCE_LSTM"}
    assert "GELU" not in ops and "CUSTOM" not in ops
    assert len(ops) == OP_TABLE.read_text().count("\nIMUAD_OP(")
    import imuad.deploy
    assert not (Path(imuad.deploy.__file__).parent / "tflm_ops.json").exists()


# ---------------------------------------------------------------- quantize
def test_quantize_writes_int8_model_and_constants(tiny_run):
    q = tiny_run.quant
    assert (tiny_run.dir / "model_int8.tflite").is_file() and (tiny_run.dir / "quant.json").is_file()
    assert q["input"]["dtype"] == "int8" and q["output"]["dtype"] == "int8"
    assert q["output"]["scale"] == pytest.approx(1 / 256) and q["output"]["zero_point"] == -128
    d = q["decision"]
    assert d["threshold_off"] < d["threshold_on"] and (d["k"], d["n"]) == (2, 3)
    for split_metrics in q["metrics"].values():
        assert {"precision", "recall", "f1", "roc_auc", "pr_auc", "confusion", "split"} <= set(split_metrics)
    assert q["metrics"]["int8"]["f1"] >= q["metrics"]["float"]["f1"] - 0.05


def test_int8_preprocessing_is_reference_preprocess(tiny_run, tiny_export):
    from imuad.evaluation.engines import _quantized
    card = tiny_export.card
    norm = tiny_run.normalizer
    p = card["preprocessing"]
    pre = Preprocess.from_card(card)
    assert pre == Preprocess.derive(norm.mean, norm.std, p["input_scale"], p["input_zero_point"])
    ws = tiny_run.splits()["test"]
    X = ws.X
    q = _quantized(tiny_export.model, ws)
    assert np.array_equal(q, pre.apply(X))
    # and it is the float model's input quantization, within rounding
    want = np.clip(np.round(norm.apply(X) / p["input_scale"]) + p["input_zero_point"], -128, 127)
    assert np.max(np.abs(q.astype(int) - want)) <= 1


def test_fused_lstm_conversion(tmp_path):
    from imuad.contracts.tflite import read_model
    from imuad.deploy.deployable import check_deployable
    from imuad.deploy.interpreters import run_tflm
    from imuad.deploy.quantize import convert_int8, keras_layers
    from tiny_model import TinyRun
    run = TinyRun(tmp_path / "lstm", arch="cnn_lstm")
    Xn = run.normalizer.apply(run.splits()["test"].X)
    tfl = convert_int8(run.model, run.normalizer.apply(run.splits()["train"].X))
    info = read_model(tfl, layers=keras_layers(run.model))
    check_deployable(info)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in info.op_names and "WHILE" not in info.op_names
    assert {op.layer for op in info.ops if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM"} == {"lstm"}
    assert {op.layer for op in info.ops if op.name == "CONV_2D"} == {"conv1"}
    inp, out = info.inputs[0], info.outputs[0]
    xq = np.clip(np.round(Xn / inp.scale) + inp.zero_point, -128, 127).astype(np.int8)
    got = (run_tflm(tfl, xq).astype(np.float64)[:, 0] - out.zero_point) * out.scale
    want = np.asarray(run.model(Xn))[:, 0]
    assert np.max(np.abs(got - want)) < 0.05
    # reset before every window: running a window twice gives the same output
    assert np.array_equal(run_tflm(tfl, np.concatenate([xq[:1], xq[:1]]))[0], run_tflm(tfl, xq[:1])[0])


def test_autoencoder_integer_error_tracks_mse(tmp_path):
    from imuad.deploy.quantize import int8_scores, quantize_run
    from imuad.contracts.score import Score
    from tiny_model import TinyRun
    run = TinyRun(tmp_path / "ae", arch="autoencoder")
    q = quantize_run(run, verbose=False)
    s = q["score"]
    assert s["kind"] == "recon_error" and s["in_mult"] > 0 and s["out_mult"] > 0 and 0 <= s["shift"] <= 40
    X = run.splits()["test"].X
    Xn = run.normalizer.apply(X)
    mse = np.mean((np.asarray(run.model(Xn)) - Xn) ** 2, axis=(1, 2))
    card_like = {"score": s, "input": q["input"], "output": q["output"]}
    pre = Preprocess.from_card({"preprocessing": q["preprocessing"]})
    _, e = int8_scores((tmp_path / "ae" / "model_int8.tflite").read_bytes(), pre, Score.from_card(card_like), X)
    rank = lambda v: np.argsort(np.argsort(v))
    assert np.corrcoef(rank(mse), rank(e))[0, 1] > 0.9  # the integer error orders windows like MSE
    # ... anomalies included: they are 3x the normal amplitude, beyond a range calibrated on the
    # normal train windows alone (there the anomalous windows' rank correlation fell to 0.63)
    a = run.splits()["test"].y == 1
    assert a.sum() >= 10 and np.corrcoef(rank(mse[a]), rank(e[a]))[0, 1] > 0.9
    val = run.normalizer.apply(run.splits()["val"].X)
    inp = q["input"]
    assert (-128 - inp["zero_point"]) * inp["scale"] <= val.min() + inp["scale"]
    assert (127 - inp["zero_point"]) * inp["scale"] >= val.max() - inp["scale"]
    assert "val" in q["representative"]["split"]


# ---------------------------------------------------------------- export
def test_c_array_round_trips_to_the_same_sha256(tiny_export):
    d = tiny_export.dir
    text = (d / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_tiny_model[]" in text
    body = text.split("g_tiny_model[] = {", 1)[1].split("};", 1)[0]
    data = bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))
    n = int(re.search(r"g_tiny_model_len = (\d+);", text).group(1))
    assert len(data) == n == (d / "model.tflite").stat().st_size
    sha = hashlib.sha256(data).hexdigest()
    assert sha == tiny_export.card["tflite_sha256"] == hashlib.sha256((d / "model.tflite").read_bytes()).hexdigest()
    assert "extern const unsigned int g_tiny_model_len;" in (d / "model_data.h").read_text()


def test_card_has_every_c6_field(tiny_export):
    from imuad.contracts.card import CARD_KEYS
    card = json.loads((tiny_export.dir / "model_card.json").read_text())
    assert set(CARD_KEYS) <= set(card)
    assert {"path", "sha256", "counts_per_unit"} <= set(card["dataset"])
    assert {"tflite_bytes", "arena_bytes_measured", "arena_bytes"} <= set(card["sizes"])
    s = card["sizes"]
    assert s["arena_bytes"] % 16 == 0 and s["arena_bytes"] >= s["arena_bytes_measured"] + 1024
    for kind in ("float", "int8"):
        assert {"precision", "recall", "f1", "roc_auc", "pr_auc", "confusion", "split"} <= set(card["metrics"][kind])
    assert card["preprocessing"]["kind"] == "affine_int" and card["ops"] == sorted(card["ops"])
    assert card["window"] == W and card["hop"] == H and card["channels"] == ["x", "y", "z"]


def test_op_resolver_lists_exactly_the_model_ops(tiny_export):
    from imuad.contracts.tflite import read_model
    from imuad.deploy.tflm_ops import supported_ops
    text = (tiny_export.dir / "op_resolver.h").read_text()
    by_method = {m: op for op, m in supported_ops().items()}
    listed = [by_method[m] for m in re.findall(r"r\.(Add\w+)\(\)", text)]
    ops = read_model(tiny_export.dir / "model.tflite").op_names
    assert sorted(listed) == ops == tiny_export.card["ops"] and len(listed) == len(set(listed))
    assert f"constexpr unsigned kNumOps = {len(ops)};" in text
    assert "template <unsigned M>" in text and "RegisterOps(tflite::MicroMutableOpResolver<M>& r)" in text
    cfg = (tiny_export.dir / "model_config.h").read_text()
    assert "inline const imuad::ModelSpec kSpec{" in cfg and "RegisterOps<imuad::kMaxOps>(r)" in cfg


def test_generated_headers_compile(tiny_export, tmp_path):
    """model_config.h + op_resolver.h + model_data.cc against the vendored TFLM headers."""
    gxx = shutil.which("g++")
    tflm = vendor_dir() / "esp-tflite-micro"
    if not gxx or not tflm.is_dir():
        pytest.skip("g++ or the vendored esp-tflite-micro is missing")
    src = tmp_path / "use.cc"
    src.write_text('#include "model_config.h"\n'
                   "int use() { imuad::OpResolver r; return imuad_models::tiny::kSpec.register_ops(r, imuad_models::tiny::kSpec)"
                   " + static_cast<int>(imuad_models::tiny::kSpec.tflite[4]); }\n")
    vendor = [tflm, tflm / "third_party/flatbuffers/include", tflm / "third_party/gemmlowp", tflm / "third_party/ruy"]
    cmd = [gxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-DTF_LITE_STATIC_MEMORY",
           f"-I{tiny_export.dir}", f"-I{REPO_ROOT / 'device/components/imuad_core/include'}"]
    cmd += [f"-isystem{p}" for p in vendor]  # TFLM's own headers are not -Wextra clean
    for f in (src, tiny_export.dir / "model_data.cc"):
        r = subprocess.run(cmd + [str(f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("bad", ["class", "1model", "my-model", "", "__x", "int"])
def test_export_name_must_be_c_identifier(bad):
    from imuad.contracts.card import check_name
    with pytest.raises(ImuadError, match="identifier|keyword"):
        check_name(bad)


# ---------------------------------------------------------------- the committed models
COMMITTED = sorted(p.parent for p in (REPO_ROOT / "models").glob("*/model_card.json"))


@pytest.mark.parametrize("model_dir", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_model_is_consistent_and_meets_the_bars(model_dir):
    from imuad.contracts.card import CARD_KEYS, load_model_dir
    from imuad.contracts.tflite import read_model
    from imuad.deploy.deployable import check_deployable
    assert load_model_dir(model_dir).name == model_dir.name  # the one loader accepts it
    card = json.loads((model_dir / "model_card.json").read_text())
    data = (model_dir / "model.tflite").read_bytes()
    assert set(CARD_KEYS) <= set(card) and card["name"] == model_dir.name
    assert hashlib.sha256(data).hexdigest() == card["tflite_sha256"] and len(data) == card["sizes"]["tflite_bytes"]
    assert card["tflite_sha256"] in (model_dir / "model_data.cc").read_text().splitlines()[0]
    info = read_model(data)
    check_deployable(info)
    assert info.op_names == card["ops"]
    assert card["metrics"]["int8"]["f1"] >= card["metrics"]["float"]["f1"] - 0.01  # int8 F1 drop bar
    p = card["parity"]
    assert p, "parity not recorded (imuad parity --update-card)"
    for pair, v in p.items():
        if "host" in pair.split(" vs ") and "tflm" in pair.split(" vs "):
            assert v["exact"] == v["total"], pair
    if card["name"] == "synth":  # the default device model
        assert card["sizes"]["tflite_bytes"] <= 32 * 1024 and card["sizes"]["arena_bytes"] <= 16 * 1024
        assert p["tflite-ref vs tflm"]["exact"] == p["tflite-ref vs tflm"]["total"]
