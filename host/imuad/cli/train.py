"""CLI: `imuad train`, `imuad evaluate`, `imuad zoo` (TensorFlow is imported only when run)."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..errors import ImuadError
from .options import float_range, int_range


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or not all(math.isfinite(p) and p >= 0 for p in parts) or sum(parts) <= 0:
        raise argparse.ArgumentTypeError(f"must be three non-negative numbers with a positive sum like "
                                         f"0.6,0.2,0.2, got {text!r}")
    return parts  # type: ignore[return-value]


def _positive(text: str) -> int:
    """window / hop: the firmware holds them in uint16 (C7 DEVICE_INFO)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be >= 1 and <= 65535, got {v}")
    return v


def _common(p: argparse.ArgumentParser, hop_default: int | None) -> None:
    p.add_argument("--data", required=True, help="recording (CSV or NPZ) with labels")
    p.add_argument("--window", type=_positive, default=128,
                   help="samples per window (default 128; architectures that need another size say which)")
    p.add_argument("--hop", type=_positive, default=hop_default,
                   help="samples between windows" + (f" (default {hop_default})" if hop_default
                                                     else " (default: chosen from the recording length)"))
    p.add_argument("--epochs", type=int_range(1, 100_000), default=40,
                   help="max epochs, early stopping on val loss (default 40)")
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0)
    p.add_argument("--counts-per-unit", type=float_range(0, 1e9, lo_open=True), default=None,
                   help="scale to int16 counts (default: 1 for integer data, else a power of two)")
    p.add_argument("--fractions", type=_fractions, default=(0.6, 0.2, 0.2), help="train,val,test (default 0.6,0.2,0.2)")
    p.add_argument("--patience", type=int_range(0, 100_000), default=5,
                   help="early-stopping patience in epochs (default 5)")
    p.add_argument("--batch-size", type=int_range(1, 1 << 16), default=32)
    p.add_argument("--split", choices=("auto", "per_run", "stream"), default="auto",
                   help="per_run: cut every label run 60/20/20, window label = majority of its samples; "
                        "stream: three contiguous blocks with a one-window gap, window label = an anomalous "
                        "sample in its newest hop samples (short events); auto (default) picks from the "
                        "label runs and prints why")


def register(sub: argparse._SubParsersAction) -> None:
    from ..training.names import ARCHITECTURES
    p = sub.add_parser("train", help="train one model on a recording -> run folder with run.json and report.html")
    _common(p, 64)
    p.add_argument("--arch", default="cnn", choices=ARCHITECTURES, help="architecture (default cnn)")
    p.add_argument("--variant", default=None, help="classical only: logreg (default), iforest or forest")
    p.add_argument("--out", required=True, help="run folder to create, e.g. runs/cnc-cnn")
    p.add_argument("--force", action="store_true", help="replace --out if it holds a previous run")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="recompute a run's metrics on val/test and rewrite its report")
    p.add_argument("run", help="run folder (made by imuad train)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("zoo", help="train every architecture on one recording and compare them")
    _common(p, None)
    p.add_argument("--archs", nargs="+", default=None,
                   help="entries to train (default: all; classical:iforest / classical:forest for variants)")
    p.add_argument("--out", default=None, help="output folder (default runs/zoo-<recording name>)")
    p.add_argument("--int8", choices=("best", "all", "none"), default="best",
                   help="quantize the best deployable model by val F1 (default), every deep model, or none")
    p.add_argument("--cost", choices=("qemu-nn", "qemu", "none"), default="qemu-nn",
                   help="measure every quantized model on this emulated Cortex-M4 (instructions/inference, "
                        "arena; default qemu-nn = CMSIS-NN), or none")
    p.set_defaults(func=cmd_zoo)


def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cmd_train(args: argparse.Namespace) -> int:
    _quiet_tf()
    from ..training.train import train
    hp = {"variant": args.variant} if args.variant else {}
    if args.variant and args.arch != "classical":
        raise ImuadError("--variant only applies to --arch classical")
    train(args.data, args.arch, args.out, window=args.window, hop=args.hop, epochs=args.epochs, seed=args.seed,
          counts_per_unit=args.counts_per_unit, fractions=args.fractions, batch_size=args.batch_size,
          patience=args.patience, hp=hp, split=args.split, force=args.force)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    _quiet_tf()
    from ..training.evaluate import evaluate_run, fmt
    from ..training.report import write_report
    result = evaluate_run(args.run)
    print(f"{'split':6} {'n':>6} {'anom':>6} {'prec':>7} {'recall':>7} {'F1':>7} {'ROC-AUC':>8} {'PR-AUC':>8}  confusion")
    for split, m in result["metrics"].items():
        print(f"{split:6} {m['n']:6d} {m['n_anomaly']:6d} {fmt(m['precision']):>7} {fmt(m['recall']):>7} "
              f"{fmt(m['f1']):>7} {fmt(m['roc_auc']):>8} {fmt(m['pr_auc']):>8}  {m['confusion']}")
    print(f"threshold {result['threshold']:.6g} (chosen on val at training time)")
    if not result["matches_run_json"]:
        print("note: differs from the metrics stored in run.json (different TF build or changed code?)")
    print(f"report: {write_report(Path(args.run))}")
    return 0


def cmd_zoo(args: argparse.Namespace) -> int:
    _quiet_tf()
    from ..training.compare import DEFAULT_ENTRIES, run_zoo
    out = args.out or f"runs/zoo-{Path(args.data).stem}"
    summary = run_zoo(args.data, out, tuple(args.archs) if args.archs else DEFAULT_ENTRIES, window=args.window,
                      hop=args.hop, epochs=args.epochs, seed=args.seed, int8=args.int8, cost=args.cost,
                      counts_per_unit=args.counts_per_unit, fractions=args.fractions, batch_size=args.batch_size,
                      patience=args.patience, split=args.split)
    return int(summary["exit_status"])
