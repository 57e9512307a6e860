"""`imuad data info|check` and `imuad synth`."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import ImuadError
from .options import float_range, int_range
from ..data.recording import Recording, auto_counts_per_unit, load_recording, save_recording
from ..data.rules import apply_rules
from ..data.splits import plan_split
from ..data.synth import PRESETS, SynthConfig, parse_faults, synth_machine, with_overrides

MAX_RUNS_SHOWN = 40
DEFAULT_WINDOW = 128  # imuad train/zoo --window default


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="inspect and validate recordings (CSV / NPZ)")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    info = dsub.add_parser("info", help="shape, rate, channels, label runs, per-axis statistics")
    info.add_argument("file", type=Path)
    info.set_defaults(func=cmd_info)
    check = dsub.add_parser("check", help="validate recordings and report the seed dataset rules")
    check.add_argument("files", type=Path, nargs="+")
    check.set_defaults(func=cmd_check)
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    synth = subparsers.add_parser("synth", help="synthetic rotating machine seen by a 3-axis MEMS accelerometer")
    synth.add_argument("--out", type=Path, required=True, help="output .csv or .npz")
    synth.add_argument("--preset", choices=sorted(PRESETS), default="default")
    synth.add_argument("--duration", type=float_range(0, 86_400, lo_open=True),
                       help="seconds (the preset's faults scale with it)")
    synth.add_argument("--fs", type=float_range(0, 1e6, lo_open=True), help="output data rate, Hz")
    synth.add_argument("--faults", help='replace the schedule, e.g. "outer@20-30,inner@45-60:0.8" '
                       "(kinds: outer, inner, imbalance, misalignment; :severity optional)")
    synth.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0)
    synth.add_argument("--plot", type=Path, help="also write a PNG of signal and spectra")
    synth.set_defaults(func=cmd_synth)


def describe(rec: Recording) -> str:
    lines = [f"file:        {rec.path}",
             f"samples:     {rec.n_samples} x {rec.n_channels} channels ({', '.join(rec.channels)})"]
    if rec.fs:
        lines.append(f"rate:        {rec.fs:g} Hz ({rec.n_samples / rec.fs:.2f} s)")
    else:
        lines.append("rate:        unknown (no fs / t)")
    cpu = auto_counts_per_unit(rec.X)
    lines.append(f"counts/unit: {cpu:g} (auto; {'raw int16 counts' if cpu == 1.0 else 'physical units'})")
    if rec.y is None:
        lines.append("labels:      none")
    else:
        runs = rec.label_runs()
        lines.append(f"labels:      {rec.anomaly_rate * 100:.2f} % anomalous, {len(runs)} runs "
                     f"({sum(1 for r in runs if r[0] == 1)} anomalous)")
        lines.extend(run_table(runs, rec.fs))
        plan = plan_split(rec.y, rec.n_samples, DEFAULT_WINDOW)
        lines.append(f"split:       {plan.mode} at window {DEFAULT_WINDOW} (label rule {plan.label_rule}; {plan.reason})")
    X = rec.X
    lines.append(f"{'axis':>8s} {'min':>12s} {'max':>12s} {'mean':>12s} {'std':>12s} {'rms':>12s}")
    for c, name in enumerate(rec.channels):
        x = X[:, c]
        lines.append(f"{name:>8s} {x.min():12.6g} {x.max():12.6g} {x.mean():12.6g} {x.std():12.6g} "
                     f"{np.sqrt(np.mean(x * x)):12.6g}")
    return "\n".join(lines)


def run_table(runs: list[tuple[int, int, int]], fs: float | None) -> list[str]:
    """The label-run table, columns right-aligned to their widest cell; with a length summary."""
    shown = runs[:MAX_RUNS_SHOWN]
    head = ["label", "start", "stop", "length"] + (["seconds"] if fs else [])
    rows = [["anomaly" if label else "normal", str(s), str(e), str(e - s)]
            + ([f"{s / fs:.2f}-{e / fs:.2f}"] if fs else []) for label, s, e in shown]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda cells: "  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths))
    lines = ["label runs:", fmt(head)] + [fmt(r) for r in rows]
    if len(runs) > MAX_RUNS_SHOWN:
        lines.append(f"  ... {len(runs) - MAX_RUNS_SHOWN} more runs")
    for lab, name in ((1, "anomalous"), (0, "normal")):
        lens = [e - s for label, s, e in runs if label == lab]
        if lens:
            lines.append(f"  {name} run lengths: {len(lens)} runs, min {min(lens)}, median {int(np.median(lens))}, "
                         f"max {max(lens)} samples")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    print(describe(load_recording(args.file)))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    recs, failed = [], 0
    for path in args.files:
        try:
            rec = load_recording(path)
        except ImuadError as exc:
            print(f"INVALID {exc}")
            failed += 1
            continue
        print(f"ok      {path}: {rec.n_samples} x {rec.n_channels}"
              + ("" if rec.anomaly_rate is None else f", {100 * rec.anomaly_rate:.1f} % anomalies"))
        recs.append(rec)
    _, report = apply_rules(recs)
    print(report)
    if failed:
        raise ImuadError(f"{failed} of {len(args.files)} file(s) invalid")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    preset = PRESETS[args.preset]
    cfg: SynthConfig = preset(**{k: v for k, v in (("duration_s", args.duration), ("fs", args.fs))
                                 if v is not None}, seed=args.seed)
    if args.faults is not None:
        cfg = with_overrides(cfg, faults=parse_faults(args.faults))
    if args.out.suffix.lower() not in (".csv", ".npz"):
        raise ImuadError(f"{args.out}: output must end in .csv or .npz")
    rec = synth_machine(cfg)
    save_recording(rec, args.out)
    rec.path = args.out
    faults = ", ".join(f"{f.kind}@{f.start_s:g}-{f.stop_s:g}:{f.severity:g}" for f in cfg.faults) or "none"
    print(f"wrote {args.out}: {rec.n_samples} samples x 3 at {cfg.fs:g} Hz, "
          f"{100 * rec.anomaly_rate:.1f} % anomalous; faults: {faults}; "
          f"BPFO {cfg.bearing.bpfo(cfg.shaft_hz):.2f} Hz, BPFI {cfg.bearing.bpfi(cfg.shaft_hz):.2f} Hz, "
          f"resonance {cfg.resonance():g} Hz; counts_per_unit 1 (int16 counts, {cfg.counts_per_g:g}/g)")
    if args.plot:
        from ..data.plot import plot_recording
        plot_recording(rec, cfg, args.plot)
        print(f"wrote {args.plot}")
    return 0
