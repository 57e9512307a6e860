"""The parity matrix (imuad.evaluation.parity): engines, required pairs, the card update, and
the layer-by-layer search for the first differing tensor."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imuad.contracts.card import load_model_dir
from imuad.contracts.windows import stream_windows
from imuad.paths import REPO_ROOT
from tiny_model import H, W

pytest.importorskip("tflite_micro")


def test_streams_rebuild_every_window(tiny_run):
    ws = tiny_run.splits()["test"]
    streams = ws.streams()
    assert sum(len(st.index) for st in streams) == len(ws)
    for st in streams:  # a firmware engine sees a stream whose window j is WindowSet window index[j]
        assert np.array_equal(stream_windows(st.samples, W, H), ws.X[st.index])


def test_required_firmware_pairs_are_checked(tiny_run, tiny_export, monkeypatch):
    from imuad.evaluation import engines, parity
    ws = tiny_run.splits()["test"]

    def fake_fw(model, windows):  # "firmware": TFLM over the rebuilt streams, window by window
        out = np.zeros((len(windows), 1), np.int8)
        for st in windows.streams():
            xq = model.card.preprocess.apply(stream_windows(st.samples, W, H))
            out[st.index] = engines.run_tflm(model.tflite, xq)
        return engines.EngineResult(out)

    def broken_fw(model, windows):
        out = engines._tflm(model, windows).outputs.copy()
        out[3] += 1
        return engines.EngineResult(out)

    fakes = {"fake-fw": engines._Entry(fake_fw, True, "test"), "broken-fw": engines._Entry(broken_fw, True, "test")}
    real = engines.get_entry
    monkeypatch.setattr(engines, "get_entry", lambda name: fakes.get(name) or real(name))
    monkeypatch.setattr(parity, "load_windows", lambda card, rec, split, n: (ws, Path("toy.npz")))
    rep = parity.run_parity(tiny_export.model, engines=["tflite-ref", "tflm", "fake-fw", "broken-fw"])
    pairs = {p["pair"]: p for p in rep["pairs"]}
    good = pairs["tflm vs fake-fw"]
    assert good["required"] and good["ok"] and good["exact"] == len(ws)
    bad = pairs["tflm vs broken-fw"]
    assert bad["required"] and not bad["ok"] and bad["exact"] == len(ws) - 1 and bad["max_lsb"] == 1
    assert not pairs["tflite-ref vs tflm"]["required"]  # only for the default model
    assert "tflm vs broken-fw" in parity.format_matrix(rep)
    card_path = parity.update_card(tiny_export.model, rep)
    assert json.loads(card_path.read_text())["parity"]["tflm vs fake-fw"]["exact"] == len(ws)


def test_layer_by_layer_finds_injected_difference(tiny_run):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    from imuad.contracts.preprocess import Preprocess
    from imuad.contracts.tflite import read_model
    from imuad.evaluation.parity import first_difference
    good = (tiny_run.dir / "model_int8.tflite").read_bytes()
    info = read_model(good)
    target = next(op for op in info.ops if op.name == "CONV_2D" and op.layer == "conv2")
    buf = bytearray(good)
    m = schema.Model.GetRootAsModel(buf, 0)
    weights = m.Buffers(m.Subgraphs(0).Tensors(target.inputs[1]).Buffer()).DataAsNumpy()
    weights[:] = (weights.astype(np.int16) // 2).astype(np.uint8)  # numpy view into buf: perturb in place
    pre = Preprocess.derive(tiny_run.normalizer.mean, tiny_run.normalizer.std, info.inputs[0].scale,
                            info.inputs[0].zero_point)
    xq = pre.apply(tiny_run.splits()["test"].X[:8])
    res = first_difference(None, "tflm", "tflm", model_a=good, model_b=bytes(buf), x_q=xq)
    assert res["first"]["op_index"] == target.index and res["first"]["op"] == "CONV_2D"
    assert res["first"]["layer"] == "conv2"
    same = first_difference(None, "tflite-ref", "tflm", model_a=good, x_q=xq)
    assert same["first"] is None and same["windows_differing"] == 0


def test_committed_default_model_tflite_ref_equals_tflm_on_test_split():
    from imuad.evaluation.parity import run_parity
    model = load_model_dir(REPO_ROOT / "models" / "synth")
    rep = run_parity(model, split="test", engines=["tflite-ref", "tflm"])
    (pair,) = rep["pairs"]
    assert pair["required"] and pair["total"] > 100
    assert pair["exact"] == pair["total"] and pair["max_lsb"] == 0


def test_parity_cli_exit_code_and_report(tmp_path):
    from imuad.cli import main
    model_dir = REPO_ROOT / "models" / "synth"
    report = tmp_path / "r.json"
    assert main(["parity", str(model_dir), "--engines", "tflite-ref,tflm", "--max-windows", "40",
                 "--report", str(report)]) == 0
    rep = json.loads(report.read_text())
    assert rep["windows"] == 40 and rep["pairs"][0]["exact"] == 40
    assert main(["parity", str(model_dir), "--layers", "--engines", "tflite-ref,tflm", "--max-windows", "20"]) == 0
    assert main(["export", "nonexistent-run", "--name", "class"]) == 2  # ImuadError -> exit 2


@pytest.mark.parametrize("argv, message", [
    (["--engines", "tflm,nosuch"], "unknown engine.*nosuch"),
    (["--max-windows", "0"], "integer in 1\\.\\."),
    (["--max-windows", "-1"], "integer in 1\\.\\."),
])
def test_parity_cli_refuses_bad_options_up_front(argv, message, capsys):
    from imuad.cli import main
    code = main(["parity", str(REPO_ROOT / "models" / "synth"), *argv])
    assert code == 2
    import re
    assert re.search(message, capsys.readouterr().err)


def test_parity_report_folder_is_refused_before_the_work(tmp_path, capsys, monkeypatch):
    from imuad.cli import main
    from imuad.evaluation import parity
    monkeypatch.setattr(parity, "run_parity", lambda *a, **k: pytest.fail("parity ran before the check"))
    assert main(["parity", str(REPO_ROOT / "models" / "synth"), "--report", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.skipif(__import__("shutil").which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
@pytest.mark.timeout(1200)
def test_parity_cli_on_a_model_exported_elsewhere_runs_on_firmware(tiny_export, recording, tmp_path, capsys):
    """`imuad parity DIR --target host --target qemu` on a model exported to a temporary folder,
    with no other command: each firmware loads the model at run time (C7 MODEL_BEGIN..END) and
    computes what TFLM Python computes, bit for bit."""
    from imuad.cli import main
    assert not str(tiny_export.dir).startswith(str(REPO_ROOT / "models"))
    report = tmp_path / "parity.json"
    assert main(["parity", str(tiny_export.dir), "--recording", str(recording), "--target", "host",
                 "--target", "qemu", "--max-windows", "60", "--report", str(report)]) == 0
    rep = json.loads(report.read_text())
    pairs = {p["pair"]: p for p in rep["pairs"]}
    for fw in ("host", "qemu"):
        pair = next(p for name, p in pairs.items() if fw in name.split(" vs ") and "tflm" in name.split(" vs "))
        assert pair["required"] and pair["exact"] == pair["total"] > 0, pair
    assert "unknown model" not in capsys.readouterr().err
