"""`imuad parity`: the same int16 windows through several engines, compared bit for bit; and
`--layers`: the first tensor at which two engines (or two models) part ways."""
from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..contracts.card import CARD_NAME, ModelCard, ModelDir
from ..contracts.decision import Decider
from ..contracts.tflite import read_model
from ..contracts.windows import WindowSet
from ..deploy.interpreters import run_tflite, run_tflm, tflite_interpreter, tflm_interpreter
from ..errors import ImuadError
from ..fileio import write_json
from ..paths import build_dir
from .engines import is_firmware, run_engine
from .recordings import load_windows

BUILTIN_ENGINES = ["tflite-ref", "tflite", "tflm"]
REFERENCE = "tflm"


# ---------------------------------------------------------------- decisions
def decisions(card: ModelCard, batch: WindowSet, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, hot, state) per window: Score + Decider of the card, restarted at every block
    (the firmware starts each stream from HELLO)."""
    xq = card.preprocess.apply(batch.X) if card.score.kind == "recon_error" else None
    s = card.score(outputs, xq)
    hot = np.zeros(len(batch), bool)
    state = np.zeros(len(batch), np.int8)
    for st in batch.streams():
        dec = Decider.of(card.decision)
        states, hots, _ = dec.run(s[st.index])
        hot[st.index] = hots
        state[st.index] = states
    return s, hot, state


# ---------------------------------------------------------------- the matrix
def required(a: str, b: str, card: ModelCard) -> bool:
    """Firmware vs TFLM must be bit-exact; TFLite-reference vs TFLM too for the default model."""
    pair = {a, b}
    if REFERENCE in pair and any(is_firmware(e) for e in pair):
        return True
    return pair == {"tflite-ref", REFERENCE} and card.default


def run_parity(model: ModelDir, recording: Path | None = None, split: str = "test",
               engines: list[str] | None = None, targets: list[str] | None = None,
               max_windows: int | None = None) -> dict[str, Any]:
    card = model.card
    engines = list(engines or BUILTIN_ENGINES)
    for t in targets or []:
        if t not in engines:
            engines.append(t)
    if len(engines) < 2:
        raise ImuadError("parity needs at least two engines")
    batch, rec_path = load_windows(card, recording, split, max_windows)
    results, timing = {}, {}
    for e in engines:
        t0 = time.perf_counter()
        results[e] = run_engine(e, model, batch)
        timing[e] = round(time.perf_counter() - t0, 3)
    dec = {e: decisions(card, batch, r.outputs) for e, r in results.items()}
    pairs = []
    for a, b in itertools.combinations(engines, 2):
        oa, ob = results[a].outputs.astype(np.int32), results[b].outputs.astype(np.int32)
        if oa.shape != ob.shape:
            raise ImuadError(f"engines {a} and {b} give outputs of shapes {oa.shape} and {ob.shape}")
        diff = np.abs(oa - ob).reshape(len(oa), -1).max(axis=1) if oa.size else np.zeros(len(oa), int)
        exact = int(np.sum(diff == 0))
        (_, ha, sa), (_, hb, sb) = dec[a], dec[b]
        agree = int(np.sum((ha == hb) & (sa == sb)))
        req = required(a, b, card)
        entry = {"pair": f"{a} vs {b}", "a": a, "b": b, "exact": exact, "total": int(len(oa)),
                 "max_lsb": int(diff.max()) if len(diff) else 0, "windows_differing": int(len(oa) - exact),
                 "decisions_agree": agree, "required": req, "ok": exact == len(oa)}
        ev_a, ev_b = results[a].events, results[b].events
        if ev_a is not None or ev_b is not None:
            ref_ev = lambda e: results[e].events if results[e].events is not None else _events(card, batch, dec[e][0])
            entry["events_match"] = sorted(ref_ev(a)) == sorted(ref_ev(b))
            entry["ok"] = entry["ok"] and entry["events_match"]
        pairs.append(entry)
    return {"model": card.name, "model_dir": str(model.path), "tflite_sha256": card.tflite_sha256,
            "recording": str(rec_path), "split": split, "windows": int(len(batch)),
            "engines": engines, "seconds": timing, "pairs": pairs,
            "info": {e: r.info for e, r in results.items() if r.info}}


def _events(card: ModelCard, batch: WindowSet, scores: np.ndarray) -> list[tuple[int, int, int]]:
    out = []
    for st in batch.streams():
        _, _, evs = Decider.of(card.decision).run(scores[st.index])
        out.extend((int(st.index[e.window]), e.kind, e.score) for e in evs)
    return out


def format_matrix(report: dict[str, Any]) -> str:
    lines = [f"parity of '{report['model']}' on {report['windows']} windows ({report['split']} split of "
             f"{Path(report['recording']).name})",
             f"{'pair':<28}{'bit-exact':>14}{'max |diff| LSB':>16}{'decisions agree':>18}  required"]
    for p in report["pairs"]:
        req = ("yes: " + ("ok" if p["ok"] else "FAILED")) if p["required"] else "no"
        lines.append(f"{p['pair']:<28}{p['exact']:>7}/{p['total']:<6}{p['max_lsb']:>16}"
                     f"{p['decisions_agree']:>11}/{p['total']:<6}  {req}")
    return "\n".join(lines)


def default_report_path(report: dict[str, Any]) -> Path:
    return build_dir() / "parity" / f"{report['model']}-{report['split']}.json"


def explain_differences(model: ModelDir, report: dict[str, Any], recording: Path | None = None) -> dict[str, Any]:
    """For every non-exact pair of layer-debuggable engines: the first op that differs."""
    notes = {}
    for p in report["pairs"]:
        if p["exact"] == p["total"] or not {p["a"], p["b"]} <= set(BUILTIN_ENGINES):
            continue
        res = first_difference(model, p["a"], p["b"], recording=recording, split=report["split"],
                               max_windows=report["windows"])
        if res["first"]:
            f = res["first"]
            notes[p["pair"]] = {"op_index": f["op_index"], "op": f["op"], "layer": f["layer"],
                                "max_abs_diff": f["max_abs_diff"], "window": res["window"]}
    return notes


def update_card(model: ModelDir, report: dict[str, Any], notes: dict[str, Any] | None = None) -> Path:
    """Merge the report's pairs into the card's `parity` (pairs not in the report are kept) and
    rewrite `parity_notes` from every pair's first differing op."""
    path = model.path / CARD_NAME
    card = json.loads(path.read_text())
    if card["tflite_sha256"] != report["tflite_sha256"]:
        raise ImuadError(f"{path}: the report is for another flatbuffer; run parity again")
    parity = card.get("parity") or {}
    for p in report["pairs"]:
        entry = {"exact": p["exact"], "total": p["total"], "max_lsb": p["max_lsb"],
                 "decisions_agree": p["decisions_agree"], "split": report["split"], "required": p["required"]}
        if p["exact"] != p["total"] and (notes or {}).get(p["pair"]) is None and "first_difference" in parity.get(p["pair"], {}):
            entry["first_difference"] = parity[p["pair"]]["first_difference"]
        if (notes or {}).get(p["pair"]):
            entry["first_difference"] = notes[p["pair"]]
        parity[p["pair"]] = entry
    card["parity"] = dict(sorted(parity.items()))
    diffs = {k: v["first_difference"] for k, v in card["parity"].items() if v.get("first_difference")}
    inexact = [k for k, v in card["parity"].items() if v["exact"] != v["total"]]
    if not inexact:
        card["parity_notes"] = "bit-exact across every pair"
    else:
        card["parity_notes"] = "; ".join(
            f"{pair} first differ at op #{n['op_index']} {n['op']} (layer '{n['layer']}', {n['max_abs_diff']} LSB there)"
            for pair, n in sorted(diffs.items())) + "; every other pair bit-exact (TFLM is the reference)"
    write_json(path, card)
    return path


# ---------------------------------------------------------------- layer by layer
def _intermediates(engine: str, model: bytes, x_q: np.ndarray) -> dict[int, np.ndarray]:
    """Output tensor values of every op (subgraph 0) for one input window."""
    info = read_model(model)
    outs = [t for op in info.ops for t in op.outputs if t >= 0]
    vals: dict[int, np.ndarray] = {}
    if engine == "tflm":
        it = tflm_interpreter(model, preserve_all=True)
        it.reset()
        it.set_input(x_q, 0)
        it.invoke()
        for t in outs:
            vals[t] = np.asarray(it.GetTensor(t, 0)["tensor_data"]).copy()
    elif engine in ("tflite-ref", "tflite"):
        it = tflite_interpreter(model, reference=engine == "tflite-ref", preserve_all=True)
        it.reset_all_variables()
        it.set_tensor(info.inputs[0].index, x_q)
        it.invoke()
        for t in outs:
            vals[t] = np.asarray(it.get_tensor(t)).copy()
    else:
        raise ImuadError(f"--layers supports tflite-ref, tflite and tflm, not '{engine}'")
    return vals


def first_difference(model: ModelDir | None, engine_a: str, engine_b: str, *, recording: Path | None = None,
                     split: str = "test", max_windows: int | None = None, model_a: bytes | None = None,
                     model_b: bytes | None = None, x_q: np.ndarray | None = None) -> dict[str, Any]:
    """Run one window through both engines keeping every tensor; return the first op (execution
    order) whose output differs. The window is the first whose final outputs differ (or the
    first window). model_b lets one compare a perturbed copy of the model (same engine twice)."""
    card = model.card if model is not None else None
    if model_a is None:
        if model is None:
            raise ImuadError("first_difference needs a model folder or model bytes")
        model_a = model.tflite
    model_b = model_a if model_b is None else model_b
    info = read_model(model_a, layers=card.raw.get("keras_layers") if card else None)
    if read_model(model_b).op_names != info.op_names or len(read_model(model_b).ops) != len(info.ops):
        raise ImuadError("--layers: the two models do not have the same op graph")
    if x_q is None:
        if card is None:
            raise ImuadError("first_difference needs a model folder or input windows")
        batch, _ = load_windows(card, recording, split, max_windows or 256)
        xs = card.preprocess.apply(batch.X)
    else:
        xs = np.asarray(x_q, np.int8).reshape((-1,) + tuple(info.inputs[0].shape[1:]))
    run = {"tflm": run_tflm, "tflite-ref": lambda m, x: run_tflite(m, x, True),
           "tflite": lambda m, x: run_tflite(m, x, False)}
    if engine_a not in run or engine_b not in run:
        raise ImuadError("--layers supports the engines tflite-ref, tflite and tflm")
    oa, ob = run[engine_a](model_a, xs), run[engine_b](model_b, xs)
    differing = np.flatnonzero(np.any(oa != ob, axis=1))
    w = int(differing[0]) if len(differing) else 0
    x = xs[w:w + 1]
    va, vb = _intermediates(engine_a, model_a, x), _intermediates(engine_b, model_b, x)
    res: dict[str, Any] = {"engines": [engine_a, engine_b], "windows": int(len(xs)),
                           "windows_differing": int(len(differing)), "window": w, "first": None,
                           "ops_compared": len(info.ops)}
    for op in info.ops:
        for t in op.outputs:
            a, b = va.get(t), vb.get(t)
            if a is None or b is None:
                continue
            a, b = a.reshape(-1), b.reshape(-1)
            if a.shape != b.shape or np.any(a != b):
                d = np.abs(a.astype(np.int64) - b.astype(np.int64)) if a.shape == b.shape else np.array([-1])
                res["first"] = {"op_index": op.index, "op": op.name, "layer": op.layer,
                                "tensor_index": t, "tensor": info.tensors[t].name,
                                "elements_differing": int(np.sum(d != 0)), "elements": int(a.size),
                                "max_abs_diff": int(d.max())}
                return res
    return res


def format_layers(res: dict[str, Any]) -> str:
    a, b = res["engines"]
    head = (f"{a} vs {b}: {res['windows_differing']}/{res['windows']} windows differ at the output; "
            f"layer-by-layer on window {res['window']} ({res['ops_compared']} ops)")
    f = res["first"]
    if f is None:
        return head + "\nno tensor differs"
    return (head + f"\nfirst difference: op #{f['op_index']} {f['op']} (Keras layer '{f['layer']}'), "
            f"tensor #{f['tensor_index']} '{f['tensor']}': {f['elements_differing']}/{f['elements']} "
            f"elements differ, max |diff| {f['max_abs_diff']} LSB")
