"""Combine runs/zoo-*/zoo.json into one markdown table (for docs/zoo.md).

Usage: python benchmarks/zoo_table.py runs/zoo-cnc runs/zoo-uci runs/zoo-furnace
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from imuad.models.evaluate import fmt


def main(dirs: list[str]) -> None:
    print("| recording | W / hop | model | test F1 | precision | recall | ROC-AUC | PR-AUC | params | MACs | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for d in dirs:
        z = json.loads((Path(d) / "zoo.json").read_text())
        rec = Path(z["recording"]).stem
        for r in z["rows"]:
            if "error" in r:
                print(f"| {rec} | {z['window']} / {z['hop']} | {r['model']} | failed: {r['error'][:60]} | | | | | | | |")
                continue
            t = r["test"]
            print(f"| {rec} | {z['window']} / {z['hop']} | {r['model']} | " +
                  " | ".join(fmt(t[k]) for k in ("f1", "precision", "recall", "roc_auc", "pr_auc")) +
                  f" | {r['params']} | {r['macs']} | {r['train_seconds']:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
