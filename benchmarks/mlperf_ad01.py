"""MLPerf Tiny anomaly detection (ad01) on the emulated Cortex-M4: a model this project did not
train, loaded at run time, bit-exact against TFLM Python, and its cost next to the published figures.

    imuad bench mlperf_ad01 [--windows 5] [--targets host,qemu,qemu-nn] [--out ad01.json]

Steps (the same commands a user would run): `imuad import ../shared/models-external/mlperf-tiny/
ad01_int8.tflite --name ad01` into a temporary folder; a synthetic int8 stream (1 channel, window
640 = the model's input, one window per hop) through TFLM Python (the reference) and through each
firmware target, the model uploaded into the target's model slot (C7 MODEL_BEGIN..MODEL_END: no
firmware build); outputs and scores compared bit for bit; instructions per inference from the
board clock (QEMU -icount shift=0: SysTick ticks x 40).

Published figures (../shared/models-external/README.md, MLPerf Tiny results on a NUCLEO-L4R5ZI,
Cortex-M4F at 120 MHz): TFLM reference kernels 10.05 ms, X-CUBE-AI 6.86 ms, Plumerai 4.05 ms per
inference. We measure instructions, not cycles: "ms at 120 MHz" below is instructions / 120e3,
i.e. it ASSUMES one instruction per cycle (an M4 runs loads, branches and some multiplies in 2+
cycles, so real cycles are somewhat higher; flash wait states add more). Read it as a lower bound
of the time on that board, comparable between our two kernel sets exactly, and with the
published figures only roughly.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from imuad.contracts.card import load_model_dir  # noqa: E402
from imuad.deploy.importer import import_model  # noqa: E402
from imuad.errors import ImuadError  # noqa: E402
from imuad.evaluation.reference import stream_reference  # noqa: E402
from imuad.paths import REPO_ROOT  # noqa: E402
from imuad.targets import ReplaySession, get_target  # noqa: E402

AD01 = REPO_ROOT.parent / "shared/models-external/mlperf-tiny/ad01_int8.tflite"
MHZ = 120
PUBLISHED_MS = {"TFLM reference kernels": 10.05, "X-CUBE-AI": 6.86, "Plumerai": 4.05}
KERNELS = {"host": "TFLM reference (x86-64 host build)", "qemu": "TFLM reference kernels",
           "qemu-nn": "CMSIS-NN kernels"}


def run(target_name: str, model, counts: np.ndarray, ref) -> dict:
    target = get_target(target_name)
    ok, why = target.available()
    if not ok:
        return {"target": target_name, "skipped": why}
    with ReplaySession.open(target) as s:
        name = s.provide_model(model)
        up = s.last_upload
        res = s.replay(counts, model=name, bye=False)
    n = len(ref.outputs)
    exact = int(np.sum(np.all(res.outputs == ref.outputs, axis=1))) if len(res.windows) == n else 0
    ticks = np.array([w.infer_us for w in res.windows], np.int64)
    per_tick = getattr(target, "instr_per_tick", None)
    out = {"target": target_name, "kernels": KERNELS.get(target_name, "?"), "windows": n, "bit_exact": exact,
           "scores_equal": bool(np.array_equal(res.scores, ref.scores)), "errors": [str(e) for e in res.errors],
           "upload_s": round(up.seconds, 2) if up and up.action == "uploaded" else None,
           "upload_bytes": up.bytes if up else 0, "arena_used": res.device_info.arena_used}
    if per_tick:
        instr = int(np.median(ticks)) * per_tick
        out.update(instructions=instr, instructions_spread=int(ticks.max() - ticks.min()) * per_tick,
                   ms_at_120mhz_1ipc=round(instr / (MHZ * 1e3), 2))
    else:
        out["infer_us_median"] = float(np.median(ticks))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tflite", type=Path, default=AD01, help=f"ad01 flatbuffer (default {AD01})")
    ap.add_argument("--windows", type=int, default=5, help="windows per target (default 5)")
    ap.add_argument("--targets", default="host,qemu,qemu-nn", help="comma list of firmware targets")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    a = ap.parse_args()
    if not a.tflite.is_file():
        raise SystemExit(f"{a.tflite}: not found (the shared models-external folder beside the checkout)")
    with tempfile.TemporaryDirectory(prefix="imuad-ad01-") as tmp:
        card = import_model(a.tflite, "ad01", Path(tmp) / "ad01")  # = imuad import ... --name ad01
        model = load_model_dir(Path(tmp) / "ad01")
        rng = np.random.default_rng(0)
        counts = np.clip(np.rint(rng.normal(0, 40, (card["window"] * a.windows, 1))), -128, 127).astype(np.int16)
        ref = stream_reference(model, counts)
        rows = []
        for t in [t.strip() for t in a.targets.split(",") if t.strip()]:
            try:
                rows.append(run(t, model, counts, ref))
            except ImuadError as exc:
                rows.append({"target": t, "failed": str(exc)})
    print(f"MLPerf Tiny ad01 ({len(model.tflite):,} B flatbuffer, {', '.join(card['ops'])}; imported: window "
          f"{card['window']} x 1 channel, {card['score']['kind']} score), {a.windows} windows of a synthetic "
          f"int8 stream, TFLM Python = reference")
    print(f"{'target':<9} {'kernels':<36} {'bit-exact':>9} {'upload':>8} {'instr/inference':>16} "
          f"{'ms @120 MHz*':>13} {'arena':>7}")
    for r in rows:
        if "skipped" in r or "failed" in r:
            print(f"{r['target']:<9} {r.get('skipped') or r.get('failed')}")
            continue
        up = f"{r['upload_s']:.2f} s" if r["upload_s"] is not None else "-"
        ins = f"{r['instructions']:,}" if "instructions" in r else f"({r['infer_us_median']:.0f} us)"
        ms = f"{r['ms_at_120mhz_1ipc']:.2f}" if "ms_at_120mhz_1ipc" in r else "-"
        print(f"{r['target']:<9} {r['kernels']:<36} {r['bit_exact']:>4}/{r['windows']:<4} {up:>8} {ins:>16} "
              f"{ms:>13} {r['arena_used']:>6} B")
    print("published (MLPerf Tiny, NUCLEO-L4R5ZI Cortex-M4F @120 MHz): " +
          ", ".join(f"{k} {v} ms" for k, v in PUBLISHED_MS.items()))
    print("* instructions / 120e3: assumes 1 instruction per cycle (a lower bound of the time on that board)")
    ok = all(r.get("bit_exact") == r.get("windows") and r.get("scores_equal") for r in rows
             if "skipped" not in r)
    if a.out:
        a.out.write_text(json.dumps({"model": card["name"], "tflite_bytes": len(model.tflite), "rows": rows,
                                     "published_ms_at_120mhz": PUBLISHED_MS,
                                     "assumption": "ms = instructions / 120e3 (1 IPC)"}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
