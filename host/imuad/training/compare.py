"""`imuad zoo`: train every architecture on one recording, tabulate, and name the best deployable one.

Trust rules: every failure's whole message is printed (ANSI codes stripped); the exit status is
non-zero when every entry failed or when val/test has no anomalous window; the best deployable
model is chosen on **val** only and quantized (int8 test F1, flatbuffer and arena reported).

Cost, measured: every quantized entry is exported to a temporary folder and run for a few windows
on the Cortex-M4 emulator with CMSIS-NN kernels (`qemu-nn`, the model uploaded into the firmware's
model slot, checked bit-exact against TFLM Python): instructions per inference and the arena TFLM
used on the 32-bit target. Without QEMU the table says "not measured" (never an estimate).
"""
from __future__ import annotations

import json
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ..errors import ImuadError
from .evaluate import fmt
from .names import ARCHITECTURES, DEEP, NORMAL_ONLY

# zoo rows: "classical" expands into its sklearn variants (host-only baselines)
DEFAULT_ENTRIES = ("spectral", "cnn", "cnn_lstm", "cnn_gru", "transformer", "autoencoder", "spectral_gauss",
                   "classical", "classical:iforest", "classical:forest")
COLUMNS = ("f1", "precision", "recall", "roc_auc", "pr_auc")
INT8_CHOICES = ("best", "all", "none")
COST_TARGETS = ("qemu-nn", "qemu", "none")
COST_WINDOWS = 3
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def plain(text: str) -> str:
    """Without terminal colour codes (Keras/TF tracebacks carry them into files otherwise)."""
    return _ANSI.sub("", text)


def suggest_hop(n_samples: int, window: int, target_windows: int = 1500, min_hop: int = 4) -> int:
    """Largest power-of-two hop <= window/2 that still yields ~target_windows windows."""
    hop = max(1, window // 2)
    while hop > min_hop and n_samples // hop < target_windows:
        hop //= 2
    return max(1, hop)


def parse_entry(entry: str) -> tuple[str, dict[str, Any]]:
    """'classical:iforest' -> ('classical', {'variant': 'iforest'})."""
    arch, _, variant = entry.partition(":")
    if arch not in ARCHITECTURES:
        raise ImuadError(f"zoo: unknown architecture '{arch}' (choose from {', '.join(ARCHITECTURES)})")
    if arch == "classical":
        return arch, {"variant": variant or "logreg"}
    if variant:
        raise ImuadError(f"zoo: '{entry}': only 'classical' has variants")
    return arch, {}


def row_name(entry: str) -> str:
    arch, hp = parse_entry(entry)
    return f"classical_{hp['variant']}" if arch == "classical" else arch


def run_zoo(data: str | Path, out: str | Path, entries: tuple[str, ...] = DEFAULT_ENTRIES, window: int = 128,
            hop: int | None = None, epochs: int = 40, seed: int = 0, int8: str = "best",
            cost: str = "qemu-nn", **train_kw: Any) -> dict[str, Any]:
    """Train each entry into out/<row>; write out/zoo.json and out/zoo.md; return the summary
    (summary["exit_status"]: 0 ok, 1 every entry failed or val/test without anomalous windows).
    cost: firmware target measuring every quantized entry (module docstring), or "none"."""
    from ..data.recording import load_recording
    from .train import train
    from .zoo import check_window
    if int8 not in INT8_CHOICES:
        raise ImuadError(f"zoo: int8 '{int8}' is not one of {', '.join(INT8_CHOICES)}")
    if cost not in COST_TARGETS:
        raise ImuadError(f"zoo: cost target '{cost}' is not one of {', '.join(COST_TARGETS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rec = load_recording(data)
    if hop is None:
        hop = suggest_hop(rec.n_samples, window)
    summary: dict[str, Any] = {"recording": str(Path(data).resolve()), "window": window, "hop": hop,
                               "epochs": epochs, "seed": seed, "sample_rate_hz": rec.fs, "rows": []}
    if rec.fs is None:
        print(f"zoo: warning: {Path(data).name}: sample rate unknown (no fs / t); window {window} and hop {hop} "
              "are in samples", file=sys.stderr)
    old = _previous(out / "zoo.json", summary)
    names = [row_name(e) for e in entries]
    t_zoo = time.time()
    for entry in entries:
        arch, hp = parse_entry(entry)
        name = row_name(entry)
        t0 = time.time()
        row: dict[str, Any] = {"model": name, "arch": arch, "deployable": arch in DEEP}
        try:
            check_window(arch, window, hp)  # refuse up front, with the smallest valid window
            run_dir = train(data, arch, out / name, window=window, hop=hop, epochs=epochs, seed=seed, hp=hp,
                            force=True, **train_kw)  # the zoo's own entries: re-running the zoo redoes them
            cfg = json.loads((run_dir / "run.json").read_text())
            row.update({"run": str(run_dir), "test": cfg["metrics"]["test"], "val": cfg["metrics"]["val"],
                        "params": cfg["params"], "macs": cfg["macs"], "train_seconds": cfg["train_seconds"],
                        "epochs_run": cfg["train_config"].get("epochs_run"), "split": cfg.get("split"),
                        "n_anomaly_windows": cfg.get("n_anomaly_windows"), "warnings": cfg.get("warnings", []),
                        "supervised": arch not in NORMAL_ONLY and hp.get("variant") != "iforest"})
        except ImuadError as exc:
            row["error"] = plain(str(exc))
        except Exception as exc:  # keep the other rows; the whole message is printed and stored
            row["error"] = plain(f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
        if "error" in row:
            print(f"zoo: {name} FAILED: {row['error']}", file=sys.stderr, flush=True)
        row["wall_seconds"] = round(time.time() - t0, 1)
        summary["rows"].append(row)
        summary["rows"] = _merged(old, summary["rows"], names)
        (out / "zoo.json").write_text(json.dumps(summary, indent=2))
    _int8(summary, int8)
    _costs(summary, cost)
    summary["wall_seconds"] = round(time.time() - t_zoo, 1)
    problems = verdict(summary)
    summary["exit_status"] = 1 if problems else 0
    summary["problems"] = problems
    (out / "zoo.json").write_text(json.dumps(summary, indent=2))
    md = markdown_table(summary)
    (out / "zoo.md").write_text(md)
    print(md)
    for p in problems:
        print(f"zoo: error: {p}", file=sys.stderr)
    print(f"zoo: {out / 'zoo.md'} ({summary['wall_seconds']:.0f} s)")
    return summary


def _val_key(row: dict[str, Any]) -> tuple:
    """Best on val: F1, then PR-AUC (never test); a tie carries no information, so it goes to the
    architecture listed first in DEFAULT_ENTRIES (the recommended one)."""
    v = row["val"]
    order = [row_name(e) for e in DEFAULT_ENTRIES]
    rank = order.index(row["model"]) if row["model"] in order else len(order)
    return (v["f1"], v.get("pr_auc") or 0.0, -rank)


def best_deployable_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The val-best deep row whose int8 model fits the device budget (rows quantized already)."""
    deep = sorted([r for r in rows if r.get("deployable") and "error" not in r and "run" in r], key=_val_key,
                  reverse=True)
    return next((r for r in deep if (r.get("int8") or {}).get("within_budget")), None)


def _int8(summary: dict[str, Any], mode: str) -> None:
    """Quantize deep rows (all, or the val-best first until one fits the device budget) and
    name the best deployable model in summary["best_deployable"]."""
    if mode == "none":
        return
    from ..deploy.export import BUDGET_ARENA, BUDGET_TFLITE
    from ..deploy.quantize import quantize_run
    from .run import Run
    deep = sorted([r for r in summary["rows"] if r.get("deployable") and "error" not in r and "run" in r],
                  key=_val_key, reverse=True)
    best = None
    for row in deep:
        if mode == "best" and best is not None:
            break
        print(f"zoo: int8 {row['model']} (quantize, TFLM) ...", flush=True)
        try:
            q = quantize_run(Run.load(row["run"]), write=True, verbose=False)
        except ImuadError as exc:
            row["int8_error"] = plain(str(exc))
            print(f"zoo: {row['model']}: int8 FAILED: {row['int8_error']}", file=sys.stderr)
            continue
        row["int8"] = {"test": q["metrics"]["int8"], "tflite_bytes": q["tflite_bytes"],
                       "arena_bytes_measured": q["arena_bytes_measured"], "ops": q["ops"]}
        fits = q["tflite_bytes"] <= BUDGET_TFLITE and q["arena_bytes_measured"] <= BUDGET_ARENA
        row["int8"]["within_budget"] = fits
        if fits and best is None:
            best = row
    if best is not None:
        summary["best_deployable"] = {"model": best["model"], "val_f1": best["val"]["f1"],
                                      "test_f1_float": best["test"]["f1"],
                                      "test_f1_int8": best["int8"]["test"]["f1"], "params": best["params"],
                                      "macs": best["macs"], "tflite_bytes": best["int8"]["tflite_bytes"],
                                      "arena_bytes_measured": best["int8"]["arena_bytes_measured"],
                                      "budget": {"tflite_bytes": BUDGET_TFLITE, "arena_bytes": BUDGET_ARENA}}


def _costs(summary: dict[str, Any], target: str) -> None:
    """Measured cost of every quantized row on `target` (row["int8"]["cost"]), copied into the
    best-deployable summary: instructions per inference and the arena used, on the board."""
    rows = [r for r in summary["rows"] if r.get("int8") and "run" in r]
    if target == "none" or not rows:
        return
    import tempfile

    from ..contracts.card import load_model_dir
    from ..deploy.export import export_run
    from ..evaluation.cost import measure_cost
    from ..targets import get_target
    ok, why = get_target(target).available()
    summary["cost_target"] = target
    for row in rows:
        if not ok:
            row["int8"]["cost"] = {"target": target, "not_measured": why}
            continue
        print(f"zoo: cost of {row['model']} on {target} (export, upload, {COST_WINDOWS} windows) ...", flush=True)
        try:
            with tempfile.TemporaryDirectory(prefix="imuad-zoo-") as tmp:
                out, _ = export_run(row["run"], row["model"], Path(tmp) / row["model"])
                c = measure_cost(load_model_dir(out), target, windows=COST_WINDOWS)
            if not c.ok:
                raise ImuadError(f"{c.bit_exact}/{c.windows} windows bit-exact against TFLM Python")
            row["int8"]["cost"] = {"target": target, "instructions": c.instructions, "arena_used": c.arena_used,
                                   "tflite_bytes": c.tflite_bytes, "windows": c.windows, "bit_exact": c.bit_exact}
        except ImuadError as exc:
            row["int8"]["cost"] = {"target": target, "not_measured": plain(str(exc)).splitlines()[0]}
            print(f"zoo: {row['model']}: cost not measured: {row['int8']['cost']['not_measured']}", file=sys.stderr)
    b = summary.get("best_deployable")
    if b:
        best = next(r for r in rows if r["model"] == b["model"])
        b["cost"] = best["int8"].get("cost")


def _cost_cells(q: dict[str, Any]) -> tuple[str, str]:
    """(arena, instructions/inference) cells of a row's measured cost."""
    c = (q or {}).get("cost") or {}
    if "instructions" in c:
        return f"{c['arena_used']}", f"{c['instructions']:,}"
    if "not_measured" in c:
        return "not measured", "not measured"
    return "–", "–"


def verdict(summary: dict[str, Any]) -> list[str]:
    """Reasons for a non-zero exit: every entry failed; val or test without anomalous windows."""
    rows = summary["rows"]
    problems = []
    if rows and all("error" in r for r in rows):
        problems.append(f"every entry failed ({len(rows)} of {len(rows)}); see the messages above")
    for split in ("val", "test"):
        if any(r.get("n_anomaly_windows", {}).get(split) == 0 for r in rows if "error" not in r):
            problems.append(f"the {split} split has no anomalous window: its F1 says nothing. Try --split stream, "
                            "a smaller --window or --hop, or a recording with more anomalies")
    return problems


def _previous(path: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of an earlier zoo.json with the same recording/window/hop (re-running some entries keeps the rest)."""
    if not path.is_file():
        return []
    try:
        prev = json.loads(path.read_text())
    except json.JSONDecodeError:
        return []
    same = all(prev.get(k) == summary[k] for k in ("recording", "window", "hop", "seed"))
    return prev.get("rows", []) if same else []


def _merged(old: list[dict[str, Any]], new: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Old rows not being retrained, then the new ones, in DEFAULT_ENTRIES order."""
    done = {r["model"] for r in new}
    rows = [r for r in old if r["model"] not in done and r["model"] not in names] + \
        [r for r in new if r["model"] in done]
    order = [row_name(e) for e in DEFAULT_ENTRIES]
    return sorted(rows, key=lambda r: order.index(r["model"]) if r["model"] in order else len(order))


def markdown_table(summary: dict[str, Any]) -> str:
    first_ok = next((r for r in summary["rows"] if r.get("split")), None)
    split = (first_ok or {}).get("split") or {}
    how = (f"split **{split.get('mode')}** (window label rule {split.get('label_rule')}; {split.get('reason', '')})"
           if split else "split: –")
    rate = f"{summary['sample_rate_hz']:g} Hz" if summary.get("sample_rate_hz") else "sample rate **unknown**"
    head = (f"Recording `{Path(summary['recording']).name}` ({rate}), window {summary['window']}, "
            f"hop {summary['hop']}, seed {summary['seed']}; {how}. Threshold chosen on val; metrics on **test** "
            f"(anomaly class). `device`: runs on the ESP32 (full int8, TFLM); `host`: host-only baseline.\n\n")
    target = summary.get("cost_target") or "qemu-nn"
    head += (f"Cost, measured on the Cortex-M4 emulator (`{target}`: "
             f"{'CMSIS-NN' if target == 'qemu-nn' else 'TFLM reference'} kernels; the exported model uploaded "
             "into the firmware's model slot, bit-exact against TFLM Python): `M4 arena B` = tensor arena TFLM "
             "used there, `instr/inference` = median over "
             f"{COST_WINDOWS} windows; `flatbuffer B` is the model's flash (the models partition).\n\n")
    lines = ["| model | runs on | val F1 | F1 | precision | recall | ROC-AUC | PR-AUC | int8 F1 | params | MACs "
             "| flatbuffer B | M4 arena B | instr/inference | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    best = (summary.get("best_deployable") or {}).get("model")
    failures = []
    for r in summary["rows"]:
        where = "device" if r.get("deployable") else "host"
        if "error" in r:
            lines.append(f"| {r['model']} | {where} | failed (below) | | | | | | | | | | | | |")
            failures.append(f"- **{r['model']}**: {r['error']}")
            continue
        t, q = r["test"], r.get("int8") or {}
        mark = " **(best deployable)**" if r["model"] == best else ""
        arena, instr = _cost_cells(q)
        if "not_measured" in (q.get("cost") or {}):
            failures.append(f"- **{r['model']}** cost not measured on {q['cost']['target']}: "
                            f"{q['cost']['not_measured']}")
        lines.append(f"| {r['model']}{mark} | {where} | {fmt(r['val']['f1'])} | " + " | ".join(fmt(t[c]) for c in COLUMNS)
                     + f" | {fmt(q['test']['f1']) if q else '–'} | {r['params']} | {r['macs']} | "
                     f"{q.get('tflite_bytes', '–')} | {arena} | {instr} | {r['train_seconds']:.1f} |")
    text = head + "\n".join(lines) + "\n"
    b = summary.get("best_deployable")
    if b:
        text += (f"\nBest deployable model (by val F1): **{b['model']}** — val F1 {fmt(b['val_f1'])}, test F1 "
                 f"{fmt(b['test_f1_float'])} float / {fmt(b['test_f1_int8'])} int8; cost {b['params']} params, "
                 f"{b['macs']} MACs, {b['tflite_bytes']} B flatbuffer, {b['arena_bytes_measured']} B arena "
                 f"(x86-64 measure; budget {b['budget']['tflite_bytes']} / {b['budget']['arena_bytes']} B)")
        c = b.get("cost") or {}
        if "instructions" in c:
            text += (f"; on the Cortex-M4 ({c['target']}): {c['instructions']:,} instructions/inference, "
                     f"{c['arena_used']} B arena")
        elif "not_measured" in c:
            text += f"; Cortex-M4 cost not measured ({c['not_measured']})"
        text += ".\n"
    hosts = [r for r in summary["rows"] if not r.get("deployable") and "error" not in r]
    if hosts:
        h = max(hosts, key=_val_key)
        text += f"Best host-only baseline (by val F1): {h['model']} — val F1 {fmt(h['val']['f1'])}, test F1 {fmt(h['test']['f1'])}.\n"
    warns = sorted({w for r in summary["rows"] for w in r.get("warnings", [])})
    if warns:
        text += "\nWarnings:\n" + "\n".join(f"- {w}" for w in warns) + "\n"
    if failures:
        text += "\nFailures (whole messages):\n" + "\n".join(failures) + "\n"
    for p in summary.get("problems", []):
        text += f"\n**Error:** {p}\n"
    return text
