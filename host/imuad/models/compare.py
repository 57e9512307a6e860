"""`imuad zoo`: train every architecture on one recording and tabulate the results."""
from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Any

from ..errors import ImuadError
from .evaluate import fmt
from .names import ARCHITECTURES

# zoo rows: "classical" expands into its sklearn variants (host-only baselines)
DEFAULT_ENTRIES = ("cnn", "cnn_lstm", "cnn_gru", "transformer", "autoencoder",
                   "classical", "classical:iforest", "classical:forest")
COLUMNS = ("f1", "precision", "recall", "roc_auc", "pr_auc")


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
            hop: int | None = None, epochs: int = 40, seed: int = 0, **train_kw: Any) -> dict[str, Any]:
    """Train each entry into out/<row>; write out/zoo.json and out/zoo.md; return the summary."""
    from ..data.recording import load_recording
    from .train import train
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rec = load_recording(data)
    if hop is None:
        hop = suggest_hop(rec.n_samples, window)
    summary: dict[str, Any] = {"recording": str(Path(data).resolve()), "window": window, "hop": hop,
                               "epochs": epochs, "seed": seed, "rows": []}
    old = _previous(out / "zoo.json", summary)
    names = [row_name(e) for e in entries]
    for entry in entries:
        arch, hp = parse_entry(entry)
        name = row_name(entry)
        t0 = time.time()
        row: dict[str, Any] = {"model": name, "arch": arch}
        try:
            run_dir = train(data, arch, out / name, window=window, hop=hop, epochs=epochs, seed=seed, hp=hp,
                            **train_kw)
            cfg = json.loads((run_dir / "run.json").read_text())
            row.update({"run": str(run_dir), "test": cfg["metrics"]["test"], "val": cfg["metrics"]["val"],
                        "params": cfg["params"], "macs": cfg["macs"], "train_seconds": cfg["train_seconds"],
                        "epochs_run": cfg["train_config"].get("epochs_run"),
                        "supervised": arch not in ("autoencoder",) and hp.get("variant") != "iforest"})
        except ImuadError as exc:
            row["error"] = str(exc)
        except Exception as exc:  # keep the other rows; the table shows what failed
            row["error"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        row["wall_seconds"] = round(time.time() - t0, 1)
        summary["rows"].append(row)
        summary["rows"] = _merged(old, summary["rows"], names)
        (out / "zoo.json").write_text(json.dumps(summary, indent=2))
    md = markdown_table(summary)
    (out / "zoo.md").write_text(md)
    print(md)
    print(f"zoo: {out / 'zoo.md'}")
    return summary


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
    head = (f"Recording `{Path(summary['recording']).name}`, window {summary['window']}, hop {summary['hop']}, "
            f"time-block split 60/20/20, threshold chosen on val, metrics on **test** (anomaly class).\n\n")
    lines = ["| model | F1 | precision | recall | ROC-AUC | PR-AUC | params | MACs | train s | epochs |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        if "error" in r:
            lines.append(f"| {r['model']} | failed: {r['error'][:80]} | | | | | | | | |")
            continue
        t = r["test"]
        lines.append(f"| {r['model']} | " + " | ".join(fmt(t[c]) for c in COLUMNS)
                     + f" | {r['params']} | {r['macs']} | {r['train_seconds']:.1f} | {r.get('epochs_run') or '–'} |")
    return head + "\n".join(lines) + "\n"
