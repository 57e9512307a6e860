"""`imuad sim`: a recording through the firmware on an emulated board, with benchmarks.
Writes runs/sim-<time>-<model>-<target>/report.json."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import targets
from ..evaluation.recordings import SPLIT_CHOICES
from ..paths import REPO_ROOT
from .options import add_model, float_range, int_range, model_from


def _run(args: argparse.Namespace) -> int:
    from ..evaluation.recordings import segments
    from ..evaluation.sim import benchmarks, elf_sizes, onset_latencies, run_sim
    from ..fileio import write_json
    model = model_from(args)
    card = model.card
    out_dir = Path(args.out) if args.out else (
        REPO_ROOT / "runs" / f"sim-{time.strftime('%Y%m%d-%H%M%S')}-{card.name}-{args.target}")
    if out_dir.exists() and not out_dir.is_dir():
        from ..errors import ImuadError
        raise ImuadError(f"--out {out_dir} is a file; give a folder")
    rec, segs = segments(card, args.recording, args.split, args.max_samples or None)
    fs = card.sample_rate_hz or rec.fs
    run = run_sim(model, segs, target_name=args.target, elf=Path(args.elf) if args.elf else None, chunk=args.chunk,
                  idle_timeout=args.timeout, rx=args.rx)
    target = targets.get_target(args.target)
    sizes = elf_sizes(Path(run.elf), target)
    bench = benchmarks(run, target, sizes, fs)
    labels = rec.y if (args.split in (None, "all") and rec.y is not None) else None
    if labels is not None and args.max_samples:
        labels = labels[:args.max_samples]
    latencies = onset_latencies(labels, run.windows, card.window, card.hop, run.events)
    report = {"kind": "sim", "target": run.target, "board": target.board, "rx": run.rx, "model": card.name,
              "model_dir": str(model.path), "recording": str(args.recording), "split": args.split,
              "elf": run.elf, "benchmarks": bench, "stats": run.stats, "device_info": run.device_info,
              "events": [{"window": w, "kind": k, "score": s} for w, k, s in run.events],
              "onsets": latencies, "exit_code": run.exit_code,
              # per window, so a dashboard can draw the score over time like a live device
              "window_scores": [] if run.scores is None else [int(v) for v in run.scores]}
    write_json(out_dir / "report.json", report)

    ipi = bench["instructions_per_inference"]
    print(f"sim {card.name} on '{run.target}' ({target.board}, rx {run.rx}): "
          f"{run.windows} windows, {len(run.events)} events")
    for w, k, s in run.events:
        print(f"  {'ONSET' if k == 1 else 'CLEAR'} window {w} score {s}")
    for o in latencies:
        lat = "missed" if o["latency_windows"] is None else f"{o['latency_windows']:+d} windows"
        print(f"  true onset at window {o['first_labelled_window']}: detected {lat}")
    print(f"  instructions/inference  median {ipi['median']:,} (min {ipi['min']:,}, max {ipi['max']:,})"
          if ipi["median"] is not None else "  instructions/inference  n/a (no window)")
    print(f"  stack high-water        {bench['stack_high_water_bytes']} of {sizes['stack']} B")
    print(f"  arena                   used {bench['arena_used_bytes']} of {bench['arena_size_bytes']} B")
    print(f"  size                    text {sizes['text']} data {sizes['data']} bss {sizes['bss']} "
          f"stack {sizes['stack']} | flash {sizes['flash']} / {sizes['flash_budget']} B, "
          f"RAM {bench['ram_total_bytes']} (static {sizes['ram_static']} + arena) / {sizes['ram_budget']} B")
    if bench.get("realtime_factor") is not None:
        print(f"  replay speed            {bench['realtime_factor']:.2f}x real time "
              f"({bench['recording_s']:.1f} s at {fs:g} Hz in {run.wall_s:.1f} s wall)")
    else:
        print(f"  replay wall time        {run.wall_s:.1f} s (sample rate unknown)")
    print(f"  report                  {out_dir / 'report.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run a recording through the firmware on an emulated board, with benchmarks")
    add_model(p)
    p.add_argument("--recording", required=True, help="CSV or NPZ recording")
    p.add_argument("--target", default="qemu", choices=targets.emulator_names(),
                   help="emulated board and kernels: " + "; ".join(f"{n} = {targets.describe(n)}"
                                                                    for n in targets.emulator_names()))
    p.add_argument("--split", choices=SPLIT_CHOICES, default=None,
                   help="replay only this time-block split (each block is its own stream)")
    p.add_argument("--max-samples", type=int_range(1), default=0, help="replay only the first N samples")
    p.add_argument("--chunk", type=int_range(1, 1020), default=None, help="samples per SAMPLES frame")
    p.add_argument("--timeout", type=float_range(0, 3600, lo_open=True), default=None,
                   help="seconds without an answer before failing")
    p.add_argument("--rx", choices=("uart", "semihost"), default="uart",
                   help="host->device channel: the board's UART (the contract) or a FIFO read through "
                        "semihosting (faster; not the contract)")
    p.add_argument("--elf", default=None, help="run this ELF instead of the target's firmware")
    p.add_argument("--out", default=None, help="report folder (default runs/sim-<time>-<model>-<target>)")
    p.set_defaults(func=_run)
