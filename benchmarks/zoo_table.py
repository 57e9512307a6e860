"""Combine runs/zoo-*/zoo.json into markdown tables: per recording x model, test F1 (float and
int8) as mean and spread (min-max) over the seeds found; the val-chosen best deployable model.

Usage: python benchmarks/zoo_table.py runs/zoo-54_CNCMachining-s0 runs/zoo-54_CNCMachining-s1 ...
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from imuad.training.compare import best_deployable_row


def _ms(values: list[float]) -> str:
    if not values:
        return "–"
    m = sum(values) / len(values)
    return f"{m:.3f} ± {(max(values) - min(values)) / 2:.3f}" if len(values) > 1 else f"{m:.3f}"


def main(dirs: list[str]) -> None:
    f1: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    info: dict[str, dict] = {}
    best: dict[str, list[tuple[int, str, float, float]]] = defaultdict(list)
    order: list[str] = []
    for d in dirs:
        z = json.loads((Path(d) / "zoo.json").read_text())
        rec = Path(z["recording"]).stem
        split = next((r.get("split") for r in z["rows"] if r.get("split")), {}) or {}
        info[rec] = {"window": z["window"], "hop": z["hop"], "split": split.get("mode", "?"),
                     "wall": info.get(rec, {}).get("wall", []) + [z.get("wall_seconds", 0.0)]}
        for r in z["rows"]:
            if r["model"] not in order:
                order.append(r["model"])
            key = (rec, r["model"])
            if "error" in r:
                f1[key]["failed"].append(1.0)
                continue
            f1[key]["float"].append(r["test"]["f1"])
            f1[key]["val"].append(r["val"]["f1"])
            if r.get("int8"):
                f1[key]["int8"].append(r["int8"]["test"]["f1"])
                f1[key]["bytes"].append(r["int8"]["tflite_bytes"])
                c = r["int8"].get("cost") or {}
                if "instructions" in c:   # measured on the emulated Cortex-M4 (imuad zoo --cost)
                    f1[key]["arena"].append(c["arena_used"])
                    f1[key]["instr"].append(c["instructions"])
            f1[key]["macs"].append(r["macs"])
        b = best_deployable_row(z["rows"])   # the zoo's rule, re-applied (zoo.json of older runs)
        if b:
            best[rec].append((z["seed"], b["model"], b["int8"]["test"]["f1"], b["val"]["f1"]))
    print("| recording | W / hop / split | model | val F1 | test F1 float | test F1 int8 | MACs | flatbuffer B "
          "| M4 arena B | instr/inference (M4, CMSIS-NN) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rec, i in info.items():
        for model in order:
            v = f1.get((rec, model))
            if not v:
                continue
            if v.get("failed") and not v.get("float"):
                print(f"| {rec} | {i['window']} / {i['hop']} / {i['split']} | {model} | failed | | | | | | |")
                continue
            spread = (f"{min(v['instr']):,}" if v.get("instr") and min(v["instr"]) == max(v["instr"])
                      else f"{min(v.get('instr') or [0]):,}–{max(v.get('instr') or [0]):,}")
            measured = (f"{max(v['arena'])} | {spread}" if v.get("instr")
                        else ("not measured | not measured" if v.get("int8") else "– | –"))
            print(f"| {rec} | {i['window']} / {i['hop']} / {i['split']} | {model} | {_ms(v['val'])} | "
                  f"{_ms(v['float'])} | {_ms(v.get('int8', []))} | {int(v['macs'][0])} | "
                  f"{int(v['bytes'][0]) if v.get('bytes') else '–'} | {measured} |")
    print("\n| recording | best deployable by val (per seed) | its int8 test F1 | best classical test F1 (by val) | zoo wall s |")
    print("|---|---|---|---|---|")
    for rec, i in info.items():
        picks = sorted(best.get(rec, []))
        cls = []
        for d in dirs:
            z = json.loads((Path(d) / "zoo.json").read_text())
            if Path(z["recording"]).stem != rec:
                continue
            hosts = [r for r in z["rows"] if not r.get("deployable") and "error" not in r]
            if hosts:
                h = max(hosts, key=lambda r: (r["val"]["f1"], r["val"].get("pr_auc") or 0.0))
                cls.append(h["test"]["f1"])
        print(f"| {rec} | {', '.join(f's{s}: {m}' for s, m, _, _ in picks)} | {_ms([p[2] for p in picks])} | "
              f"{_ms(cls)} | {', '.join(f'{w:.0f}' for w in i['wall'])} |")


if __name__ == "__main__":
    main(sys.argv[1:])
