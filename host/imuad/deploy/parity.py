"""`imuad parity`: the same int16 windows through several engines, compared bit for bit; and
`--layers`: the first tensor at which two engines (or two models) part ways."""
from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImuadError
from ..paths import REPO_ROOT, build_dir
from ..reference import Decider, Score
from .engines import WindowBatch, is_firmware, model_bytes, run_engine
from .export import CARD_NAME, DEFAULT_MODEL, load_card  # tflite-ref == tflm required for the default

BUILTIN_ENGINES = ["tflite-ref", "tflite", "tflm"]
REFERENCE = "tflm"


# ---------------------------------------------------------------- windows
def resolve_recording(card: dict[str, Any], recording: Path | None) -> Path:
    if recording is not None:
        if not Path(recording).is_file():
            raise ImuadError(f"{recording}: no such recording")
        return Path(recording)
    ds = card["dataset"]
    path = Path(ds["path"])
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    if not path.is_file() and ds.get("synth"):
        path = regenerate_synth(ds["synth"], path)
    if not path.is_file():
        raise ImuadError(f"the card's dataset {ds['path']} is not here; pass --recording FILE")
    return path


def regenerate_synth(spec: dict[str, Any], path: Path) -> Path:
    """The synthetic recording of a card, made again (deterministic for a preset and seed)."""
    from ..data.commands import PRESETS
    from ..data.recording import save_recording
    from ..data.synth import synth_machine
    cfg = PRESETS[spec.get("preset", "default")](seed=int(spec.get("seed", 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_recording(synth_machine(cfg), path)
    return path


def load_windows(card: dict[str, Any], recording: Path | None = None, split: str = "test",
                 max_windows: int | None = None) -> tuple[WindowBatch, Path]:
    from ..data.recording import load_recording
    from ..data.splits import SplitPlan, make_splits
    from ..reference import window_starts
    path = resolve_recording(card, recording)
    rec = load_recording(path)
    W, H, cpu = int(card["window"]), int(card["hop"]), float(card["dataset"]["counts_per_unit"])
    if rec.n_channels != len(card["channels"]):
        raise ImuadError(f"{path}: {rec.n_channels} channels, the model expects {len(card['channels'])}")
    if recording is None and card["dataset"].get("sha256") and rec.sha256() != card["dataset"]["sha256"]:
        raise ImuadError(f"{path}: SHA-256 differs from the card's dataset (the recording changed)")
    plan = SplitPlan.from_dict(card.get("split"))
    if split == "all":
        counts = rec.counts(cpu)
        starts = window_starts(len(counts), W, H)
        X = counts[starts[:, None] + np.arange(W)[None, :]] if len(starts) else np.zeros((0, W, rec.n_channels), np.int16)
        y = None
        if rec.y is not None:
            from ..data.windows import window_labels
            y = window_labels(rec.y, starts, W, plan.label_rule, H)
        batch = WindowBatch(X.astype(np.int16), starts.astype(np.int64), np.zeros(len(starts), np.int32), H, y)
    else:
        ws = make_splits(rec, W, H, cpu, plan.fractions, mode=plan)[split]
        batch = WindowBatch(ws.X, ws.start, ws.block, H, ws.y)
    if max_windows is not None and max_windows < len(batch):
        n = max_windows
        batch = WindowBatch(batch.X[:n], batch.start[:n], batch.block[:n], H, None if batch.y is None else batch.y[:n])
    if len(batch) == 0:
        raise ImuadError(f"{path}: no windows in split '{split}'")
    return batch, path


# ---------------------------------------------------------------- decisions
def decisions(card: dict[str, Any], batch: WindowBatch, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, hot, state) per window: Score + Decider of the card, restarted at every block
    (the firmware starts each stream from HELLO)."""
    score = Score.from_card(card)
    xq = None
    if score.kind == "recon_error":
        from ..reference import Preprocess
        xq = Preprocess.from_card(card).apply(batch.X)
    s = score(outputs, xq)
    hot = np.zeros(len(batch), bool)
    state = np.zeros(len(batch), np.int8)
    for st in batch.streams():
        dec = Decider.from_card(card)
        states, hots, _ = dec.run(s[st.index])
        hot[st.index] = hots
        state[st.index] = states
    return s, hot, state


# ---------------------------------------------------------------- the matrix
def required(a: str, b: str, name: str, card: dict[str, Any]) -> bool:
    pair = {a, b}
    if REFERENCE in pair and any(is_firmware(e) for e in pair):
        return True
    if pair == {"tflite-ref", REFERENCE}:
        return name == DEFAULT_MODEL or bool(card.get("default"))
    return False


def run_parity(model_dir: Path, recording: Path | None = None, split: str = "test",
               engines: list[str] | None = None, targets: list[str] | None = None,
               max_windows: int | None = None) -> dict[str, Any]:
    model_dir = Path(model_dir)
    card = load_card(model_dir)
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
        results[e] = run_engine(e, model_dir, card, batch)
        fw_sha = results[e].info.get("model_sha256")
        if fw_sha and str(fw_sha) != card["tflite_sha256"]:
            raise ImuadError(f"engine '{e}' runs model {str(fw_sha)[:16]}..., the card's is "
                             f"{card['tflite_sha256'][:16]}... (rebuild the firmware with this model)")
        timing[e] = round(time.perf_counter() - t0, 3)
    dec = {e: decisions(card, batch, r.outputs) for e, r in results.items()}
    pairs = []
    name = card["name"]
    for a, b in itertools.combinations(engines, 2):
        oa, ob = results[a].outputs.astype(np.int32), results[b].outputs.astype(np.int32)
        if oa.shape != ob.shape:
            raise ImuadError(f"engines {a} and {b} give outputs of shapes {oa.shape} and {ob.shape}")
        diff = np.abs(oa - ob).reshape(len(oa), -1).max(axis=1) if oa.size else np.zeros(len(oa), int)
        exact = int(np.sum(diff == 0))
        (_, ha, sa), (_, hb, sb) = dec[a], dec[b]
        agree = int(np.sum((ha == hb) & (sa == sb)))
        req = required(a, b, name, card)
        entry = {"pair": f"{a} vs {b}", "a": a, "b": b, "exact": exact, "total": int(len(oa)),
                 "max_lsb": int(diff.max()) if len(diff) else 0, "windows_differing": int(len(oa) - exact),
                 "decisions_agree": agree, "required": req, "ok": exact == len(oa)}
        ev_a, ev_b = results[a].events, results[b].events
        if ev_a is not None or ev_b is not None:
            ref_ev = lambda e: results[e].events if results[e].events is not None else _events(card, batch, dec[e][0])
            entry["events_match"] = sorted(ref_ev(a)) == sorted(ref_ev(b))
            entry["ok"] = entry["ok"] and entry["events_match"]
        pairs.append(entry)
    return {"model": name, "model_dir": str(model_dir), "tflite_sha256": card["tflite_sha256"],
            "recording": str(rec_path), "split": split, "windows": int(len(batch)),
            "engines": engines, "seconds": timing, "pairs": pairs,
            "info": {e: r.info for e, r in results.items() if r.info}}


def _events(card: dict[str, Any], batch: WindowBatch, scores: np.ndarray) -> list[tuple[int, int, int]]:
    out = []
    for st in batch.streams():
        _, _, evs = Decider.from_card(card).run(scores[st.index])
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


def explain_differences(model_dir: Path, report: dict[str, Any], recording: Path | None = None) -> dict[str, Any]:
    """For every non-exact pair of layer-debuggable engines: the first op that differs."""
    notes = {}
    for p in report["pairs"]:
        if p["exact"] == p["total"] or not {p["a"], p["b"]} <= set(BUILTIN_ENGINES):
            continue
        res = first_difference(model_dir, p["a"], p["b"], recording=recording, split=report["split"],
                               max_windows=report["windows"])
        if res["first"]:
            f = res["first"]
            notes[p["pair"]] = {"op_index": f["op_index"], "op": f["op"], "layer": f["layer"],
                                "max_abs_diff": f["max_abs_diff"], "window": res["window"]}
    return notes


def update_card(model_dir: Path, report: dict[str, Any], notes: dict[str, Any] | None = None) -> Path:
    """Merge the report's pairs into the card's `parity` (pairs not in the report are kept) and
    rewrite `parity_notes` from every pair's first differing op."""
    path = Path(model_dir) / CARD_NAME
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
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


# ---------------------------------------------------------------- layer by layer
def _intermediates(engine: str, model: bytes, x_q: np.ndarray) -> dict[int, np.ndarray]:
    """Output tensor values of every op (subgraph 0) for one input window."""
    from .flatbuffer import read_model
    from .interpreters import tflite_interpreter, tflm_interpreter
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


def first_difference(model_dir: Path | None, engine_a: str, engine_b: str, *, recording: Path | None = None,
                     split: str = "test", max_windows: int | None = None, model_a: bytes | None = None,
                     model_b: bytes | None = None, x_q: np.ndarray | None = None) -> dict[str, Any]:
    """Run one window through both engines keeping every tensor; return the first op (execution
    order) whose output differs. The window is the first whose final outputs differ (or the
    first window). model_b lets one compare a perturbed copy of the model (same engine twice)."""
    from .flatbuffer import read_model
    from .interpreters import run_tflite, run_tflm
    card = None
    if model_a is None:
        card = load_card(model_dir)
        model_a = model_bytes(Path(model_dir))
    model_b = model_a if model_b is None else model_b
    info = read_model(model_a, layers=(card or {}).get("keras_layers"))
    if read_model(model_b).op_names != info.op_names or len(read_model(model_b).ops) != len(info.ops):
        raise ImuadError("--layers: the two models do not have the same op graph")
    if x_q is None:
        from ..reference import Preprocess
        batch, _ = load_windows(card, recording, split, max_windows or 256)
        xs = Preprocess.from_card(card).apply(batch.X)
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
