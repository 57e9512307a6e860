"""`imuad demo`: the README's main job, one stage after another, ending in a short report.

synthesise the default recording -> train the default model -> evaluate -> quantize (int8)
-> export -> parity (TFLite reference, TFLM Python, firmware host build, firmware in QEMU)
-> run the firmware in the emulator on the recording -> store the run for the dashboard.
Every stage is the same `imuad` command a user would type; this module only sequences them.
The firmware stages use the regular builds (shared with the tests): the freshly trained model
is loaded into each firmware at run time (C7 MODEL_BEGIN..MODEL_END), no firmware is rebuilt.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ..errors import ImuadError
from ..fileio import write_atomic
from ..paths import REPO_ROOT

MODEL_NAME = "demo"


def _stage(title: str, argv: list[str | Path]) -> float:
    from . import main as cli_main

    print(f"\n=== {title}: imuad {' '.join(str(a) for a in argv)}", flush=True)
    t0 = time.monotonic()
    code = cli_main([str(a) for a in argv])
    if code != 0:
        raise ImuadError(f"stage '{title}' failed (exit {code}); see its output above")
    return time.monotonic() - t0


def _load(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ImuadError(f"{path}: cannot read the stage's report: {exc}") from exc


def _store_sim_run(db: Path, sim: dict[str, Any], card: dict[str, Any]) -> str:
    """Put the emulator run in a gateway store so the dashboard shows it like a live device."""
    from ..gateway.store import Store

    run_id = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    store = Store(db)
    try:
        store.add_run(run_id, "sim", target=sim.get("target"), model=card["name"],
                      recording=sim.get("recording"), started_at=time.time(), report=sim)
        device = f"sim:{run_id}"
        # Replay the run on the recording's clock: a heartbeat (kind 3) per window carrying its
        # score, and the onset/clear events where the firmware raised them.
        fs = card.get("sample_rate_hz") or 1.0
        t0 = time.time() - (card["hop"] * len(sim.get("window_scores", [])) + card["window"]) / fs
        events = {ev["window"]: ev for ev in sim.get("events", [])}
        rows, state = [], 0
        for j, score in enumerate(sim.get("window_scores", [])):
            at = t0 + (j * card["hop"] + card["window"]) / fs
            common = {"uptime_ms": int((at - t0) * 1000), "model_id": card["tflite_sha256"][:8], "received_at": at}
            ev = events.get(j)
            if ev is not None:
                state = 1 if ev["kind"] == 1 else 0
            rows.append({"seq": 2 * j + 1, "kind": 3, "state": state, "score": score, **common})
            if ev is not None:
                rows.append({"seq": 2 * j + 2, "kind": ev["kind"], "state": state, "score": ev["score"], **common})
        now = time.time()
        store.insert_events(device, rows)
        store.upsert_device(device, name=f"demo on {sim.get('target')}", model_id=card["tflite_sha256"][:8],
                            fw_version="imuad-fw-qemu", last_seen=now, state=state,
                            threshold=card["decision"]["threshold_on"], source="sim")
    finally:
        store.close()
    return run_id


def _fmt(v: Any, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def run_demo(out: Path, arch: str = "cnn", seed: int = 0, epochs: int | None = None,
             emulator: str = "qemu", skip_emulator: bool = False) -> int:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rec, run, model = out / "recording.npz", out / "train", out / MODEL_NAME  # dir name = model name (C namespace)
    t: dict[str, float] = {}
    t["synth"] = _stage("synthesise the default recording",
                        ["synth", "--preset", "default", "--seed", seed, "--out", rec, "--plot", out / "recording.png"])
    train = ["train", "--data", rec, "--arch", arch, "--seed", seed, "--out", run]
    if epochs:
        train += ["--epochs", epochs]
    t["train"] = _stage("train + evaluate (float)", train)
    t["quantize"] = _stage("quantize to full int8 + evaluate", ["quantize", run])
    t["export"] = _stage("export model, C arrays, card", ["export", run, "--name", MODEL_NAME, "--out", model,
                                                           "--synth", f"default:{seed}"])
    targets = ["host"] if skip_emulator else ["host", emulator]
    # The regular firmware builds (built on first use, shared with the tests); the model is
    # uploaded into each firmware's model slot by the firmware stages themselves.
    parity_json = out / "parity.json"
    parity = ["parity", model, "--recording", rec, "--split", "test", "--report", parity_json, "--update-card"]
    for tg in targets:
        parity += ["--target", tg]
    t["parity"] = _stage("parity: every engine on the test split", parity)
    sim = None
    if not skip_emulator:
        t["emulator"] = _stage("firmware in QEMU on the recording",
                               ["sim", "--model", model, "--recording", rec, "--split", "test", "--target", emulator,
                                "--out", out / "sim"])
        sim = _load(out / "sim" / "report.json")

    card = _load(model / "model_card.json")
    report_lines = _summary(out, card, _load(parity_json), sim, run, t)
    if sim is not None:
        run_id = _store_sim_run(out / "imuad.db", {**sim, "parity": _load(parity_json).get("pairs", [])}, card)
        report_lines.append(f"dashboard      imuad dashboard --store {_rel(out / 'imuad.db')} --public-read   "
                            f"(then open http://127.0.0.1:8000/runs, run {run_id})")
    text = "\n".join(report_lines)
    write_atomic(out / "REPORT.txt", text + "\n")
    print("\n" + text)
    return 0


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _summary(out: Path, card: dict[str, Any], parity: dict[str, Any], sim: dict[str, Any] | None,
             run: Path, t: dict[str, float]) -> list[str]:
    mf, mq = card["metrics"]["float"], card["metrics"]["int8"]
    lines = ["==================== imuad demo report ====================",
             f"model          {card['name']} ({card['architecture']}), W={card['window']} H={card['hop']} "
             f"C={len(card['channels'])} @ {card.get('sample_rate_hz')} Hz; ops {', '.join(card['ops'])}",
             f"quality (test) float  F1 {_fmt(mf['f1'])}  P {_fmt(mf['precision'])}  R {_fmt(mf['recall'])}  "
             f"ROC-AUC {_fmt(mf['roc_auc'])}",
             f"               int8   F1 {_fmt(mq['f1'])}  P {_fmt(mq['precision'])}  R {_fmt(mq['recall'])}  "
             f"ROC-AUC {_fmt(mq['roc_auc'])}",
             f"size           flatbuffer {card['sizes']['tflite_bytes']} B, tensor arena "
             f"{card['sizes']['arena_bytes']} B (measured {card['sizes']['arena_bytes_measured']} B)"]
    for pair, res in (card.get("parity") or {}).items():
        if "tflm" not in pair.split(" vs "):  # TFLM Python is the reference: show pairs against it
            continue
        lines.append(f"parity         {pair:<22} {res.get('exact')}/{res.get('total')} windows bit-exact, "
                     f"max {res.get('max_lsb')} LSB")
    if not card.get("parity"):
        lines.append(f"parity         see {_rel(out / 'parity.json')}")
    required = [p for p in parity.get("pairs", []) if p.get("required")]
    if required:
        ok = all(p.get("ok") for p in required)
        lines.append(f"parity verdict {'PASS' if ok else 'FAIL'}: required pairs "
                     f"{', '.join(p['pair'] for p in required)}")
    if sim is not None:
        b = sim["benchmarks"]
        ipi = b["instructions_per_inference"]
        lines += [f"emulator       {b['windows']} windows, {len(sim['events'])} events; "
                  f"{ipi['median']:,} instructions/inference ({sim['board']}, target {sim['target']}); "
                  f"stack {b['stack_high_water_bytes']} B; flash {b['sizes']['flash']} B; "
                  f"{_fmt(b.get('realtime_factor'), '.1f')}x real time"]
    lines += [f"reports        training {_rel(run / 'report.html')}",
              f"               recording {_rel(out / 'recording.png')}",
              f"               model card {_rel(out / card['name'] / 'model_card.json')}",
              "time           " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items())]
    return lines


def _run(args: argparse.Namespace) -> int:
    return run_demo(Path(args.out), arch=args.arch, seed=args.seed, epochs=args.epochs, emulator=args.target,
                    skip_emulator=args.skip_emulator)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: synth -> train -> quantize -> parity -> emulator -> report")
    p.add_argument("--out", default=str(REPO_ROOT / "runs" / "demo"), help="output folder (default runs/demo)")
    p.add_argument("--arch", default="cnn", help="architecture to train (default cnn, the device model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="max epochs (default: the trainer's)")
    p.add_argument("--target", choices=["qemu", "qemu-nn"], default="qemu",
                   help="emulated board: qemu (TFLM reference kernels) or qemu-nn (CMSIS-NN)")
    p.add_argument("--skip-emulator", action="store_true", help="stop after the host firmware parity")
    p.set_defaults(func=_run)
