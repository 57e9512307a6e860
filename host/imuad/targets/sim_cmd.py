"""`imuad sim`: a recording through the firmware on QEMU mps2-an386 (Cortex-M4F), with benchmarks.

Builds the QEMU firmware if needed (build-table targets qemu / qemu-nn), streams
the recording over the emulated UART0 with ReplaySession and reports instructions per
inference (SysTick ticks x 40, deterministic under -icount), stack high-water mark, arena,
flash/RAM from `arm-none-eabi-size`, and the replay speed against the recording's real time.
Writes runs/sim-<time>-<model>-<target>/report.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImuadError
from ..paths import REPO_ROOT

FLASH_BUDGET = 1024 * 1024   # sim/boards/mps2-an386/mps2_an386.ld
RAM_BUDGET = 320 * 1024


def elf_sizes(elf: Path) -> dict[str, int]:
    """text/data/bss as `arm-none-eabi-size` (Berkeley) plus stack, flash and static RAM."""
    try:
        out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ImuadError(f"arm-none-eabi-size {elf}: {exc}") from exc
    sec: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sec[parts[0]] = int(parts[1])
    text = sum(v for k, v in sec.items() if k in (".text", ".ARM.extab", ".ARM.exidx"))
    data = sec.get(".data", 0)
    bss = sec.get(".bss", 0)
    stack = sec.get(".stack", 0) + sec.get(".handler_stack", 0)
    return {"text": text, "data": data, "bss": bss, "stack": stack, "flash": text + data,
            "ram_static": data + bss + stack, "flash_budget": FLASH_BUDGET, "ram_budget": RAM_BUDGET}


def onset_latencies(labels: np.ndarray | None, n_windows: int, window: int, hop: int,
                    events: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """For each labelled fault run: first window labelled anomalous (C2 rule), the first ONSET
    event at or after the window where the fault starts to enter, and the latency in windows."""
    if labels is None or n_windows == 0:
        return []
    y = np.asarray(labels, dtype=np.int64)
    starts = np.arange(n_windows) * hop
    cs = np.concatenate([[0], np.cumsum(y)])
    win_lab = (2 * (cs[starts + window] - cs[starts]) >= window).astype(np.int8)
    onsets = [e[0] for e in events if e[1] == 1]
    out = []
    j = 0
    while j < n_windows:
        if win_lab[j] and (j == 0 or not win_lab[j - 1]):
            k = j
            while k < n_windows and win_lab[k]:
                k += 1
            enter = max(0, j - (window // hop))  # earliest window touching the fault
            hit = next((o for o in onsets if enter <= o < k + window // hop), None)
            out.append({"first_labelled_window": j, "last_labelled_window": k - 1, "onset_window": hit,
                        "latency_windows": None if hit is None else hit - j})
            j = k
        else:
            j += 1
    return out


@dataclass
class SimRun:
    model: str
    kernels: str
    target: str
    elf: str
    windows: int = 0
    events: list[tuple[int, int, int]] = field(default_factory=list)
    ticks: list[int] = field(default_factory=list)
    outputs: np.ndarray | None = None
    scores: np.ndarray | None = None
    stats: dict[str, int] = field(default_factory=dict)
    device_info: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    samples: int = 0
    exit_code: int | None = None
    rx: str = "uart"


def run_sim(card: dict, segments: list[tuple[int, np.ndarray]], target: str = "qemu",
            elf: Path | None = None, chunk: int | None = None, idle_timeout: float | None = None,
            progress: bool = True, rx: str = "uart") -> SimRun:
    """Streams every segment (one HELLO each) through one QEMU instance; BYE at the end."""
    from . import ReplaySession
    from .qemu import QemuTarget
    target = QemuTarget(target, elf=elf, idle_timeout=idle_timeout, rx=rx)
    exe = target.executable()  # builds if needed
    run = SimRun(card["name"], target.kernels, target.name, str(exe), rx=rx)
    outs, scores = [], []
    total = sum(len(c) for _, c in segments)
    bar = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=total, unit="sample", desc=f"sim {target.name}", leave=False)
    t0 = time.monotonic()
    with ReplaySession.open(target) as session:
        for i, (_first, counts) in enumerate(segments):
            last = i == len(segments) - 1
            res = session.replay(counts, model=card["name"], chunk=chunk, bye=last,
                                 on_progress=(bar.update if bar else None))
            info = res.device_info
            if card.get("tflite_sha256") and info.model_sha256.hex() != card["tflite_sha256"]:
                raise ImuadError(f"QEMU firmware carries another build of '{card['name']}' (sha256 "
                                 f"{info.model_sha256.hex()[:12]}, card {card['tflite_sha256'][:12]}): "
                                 f"rebuild with `imuad build {target.name}`")
            for e in res.errors:
                print(f"  firmware ERROR {e}", file=sys.stderr)
            off = run.windows
            run.events += [(off + e.window, e.kind, e.score) for e in res.events]
            run.windows += len(res.windows)
            run.ticks += [w.infer_us for w in res.windows]
            outs.append(res.outputs)
            scores.append(res.scores)
            run.samples += len(counts)
            if res.stats is not None:
                run.stats = {k: int(getattr(res.stats, k)) for k in res.stats.__dataclass_fields__}
            run.device_info = {k: (v.hex() if isinstance(v, bytes) else v)
                               for k, v in info.__dict__.items()}
        transport = target.last_transport
        run.wall_s = time.monotonic() - t0
        if transport is not None:
            run.exit_code = transport.exit_code(timeout=5.0)
    if bar is not None:
        bar.close()
    if run.exit_code not in (0, None):
        raise ImuadError(f"QEMU exited with code {run.exit_code} after BYE (expected 0)")
    run.outputs = np.concatenate(outs) if outs else None
    run.scores = np.concatenate(scores) if scores else None
    return run


def benchmarks(run: SimRun, card: dict, sizes: dict[str, int], fs: float | None) -> dict[str, Any]:
    from .qemu import INSTR_PER_TICK, SYSCLK_HZ
    t = np.asarray(run.ticks, dtype=np.int64)
    instr = t * INSTR_PER_TICK
    arena_size = int(run.device_info.get("arena_size", 0) or 0)
    b: dict[str, Any] = {
        "windows": run.windows,
        "instructions_per_inference": {
            "median": int(np.median(instr)) if len(t) else None,
            "min": int(instr.min()) if len(t) else None, "max": int(instr.max()) if len(t) else None,
            "note": f"SysTick ticks x {INSTR_PER_TICK} under -icount shift=0 (resolution {INSTR_PER_TICK})"},
        "est_ms_at_240mhz": float(np.median(instr)) / 240e3 if len(t) else None,
        "stack_high_water_bytes": run.stats.get("stack_hwm_bytes"),
        "stack_size_bytes": sizes["stack"],
        "arena_used_bytes": run.stats.get("arena_used") or run.device_info.get("arena_used"),
        "arena_size_bytes": arena_size,
        "sizes": sizes,
        "ram_total_bytes": sizes["ram_static"] + arena_size,
        "wall_s": round(run.wall_s, 3),
        "emulated_inference_s": float(t.sum()) / SYSCLK_HZ,
    }
    if fs:
        rec_s = run.samples / fs
        b["recording_s"] = rec_s
        b["sample_rate_hz"] = fs
        b["realtime_factor"] = rec_s / run.wall_s if run.wall_s > 0 else None
    return b


def _default_report_dir(model: str, target: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return REPO_ROOT / "runs" / f"sim-{stamp}-{model}-{target}"


def _run(args: argparse.Namespace) -> int:
    from ..data.recording import load_recording
    from .replay_cmd import load_card, recording_segments
    model_dir, card = load_card(args.model)
    segments = recording_segments(args.recording, card, args.split)
    if args.max_samples:
        segments = [(f, c[:args.max_samples]) for f, c in segments][:1]
    rec = load_recording(args.recording)
    fs = card.get("sample_rate_hz") or rec.fs
    run = run_sim(card, segments, target=args.target, elf=Path(args.elf) if args.elf else None, chunk=args.chunk,
                  idle_timeout=args.timeout, rx=args.rx)
    sizes = elf_sizes(Path(run.elf))
    bench = benchmarks(run, card, sizes, fs)
    labels = rec.y if (args.split in (None, "all") and rec.y is not None) else None
    if labels is not None and args.max_samples:
        labels = labels[:args.max_samples]
    latencies = onset_latencies(labels, run.windows, int(card["window"]), int(card["hop"]), run.events)
    kernels = run.kernels
    report = {"kind": "sim", "target": run.target, "kernels": kernels, "rx": run.rx, "model": card["name"],
              "model_dir": str(model_dir), "recording": str(args.recording), "split": args.split,
              "elf": run.elf, "benchmarks": bench, "stats": run.stats, "device_info": run.device_info,
              "events": [{"window": w, "kind": k, "score": s} for w, k, s in run.events],
              "onsets": latencies, "qemu_exit_code": run.exit_code,
              # per window, so a dashboard can draw the score over time like a live device
              "window_scores": [] if run.scores is None else [int(v) for v in run.scores]}
    out_dir = Path(args.out) if args.out else _default_report_dir(card["name"], run.target)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=int) + "\n")

    ipi = bench["instructions_per_inference"]
    print(f"sim {card['name']} on '{run.target}' (QEMU mps2-an386 Cortex-M4F, {kernels} kernels, rx {run.rx}): "
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
          f"stack {sizes['stack']} | flash {sizes['flash']} / {FLASH_BUDGET} B, "
          f"RAM {bench['ram_total_bytes']} (static {sizes['ram_static']} + arena) / {RAM_BUDGET} B")
    if bench.get("realtime_factor") is not None:
        print(f"  replay speed            {bench['realtime_factor']:.2f}x real time "
              f"({bench['recording_s']:.1f} s at {fs:g} Hz in {run.wall_s:.1f} s wall)")
    else:
        print(f"  replay wall time        {run.wall_s:.1f} s (sample rate unknown)")
    print(f"  report                  {out_dir / 'report.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run a recording through the firmware on QEMU (Cortex-M4F) with benchmarks")
    p.add_argument("--model", required=True, help="model dir (models/NAME)")
    p.add_argument("--recording", required=True, help="CSV or NPZ recording")
    p.add_argument("--target", default="qemu", choices=("qemu", "qemu-nn"),
                   help="qemu: TFLM reference kernels; qemu-nn: CMSIS-NN kernels (the build table's rows)")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default=None,
                   help="replay only this time-block split (each block is its own stream)")
    p.add_argument("--max-samples", type=int, default=0, help="replay only the first N samples")
    p.add_argument("--chunk", type=int, default=None, help="samples per SAMPLES frame")
    p.add_argument("--timeout", type=float, default=None, help="seconds without an answer before failing")
    p.add_argument("--rx", choices=("uart", "semihost"), default="uart",
                   help="host->device channel: UART0 (the contract; QEMU's UART model caps it near 10x real time "
                        "for 2 kHz x 3 axes) or a FIFO read through semihosting (faster; not the contract)")
    p.add_argument("--elf", default=None, help="run this ELF instead of the target's imuad-fw-qemu.elf")
    p.add_argument("--out", default=None, help="report directory (default runs/sim-<time>-<model>-<target>)")
    p.set_defaults(func=_run)
