"""A recording through the firmware on an emulated board, with benchmarks (`imuad sim`).

Streams the recording over the board's emulated UART with ReplaySession and reports
instructions per inference (deterministic under -icount), stack high-water mark, arena,
flash/RAM from the ELF, and the replay speed against the recording's real time.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import procs, targets
from ..contracts.card import ModelDir
from ..contracts.windows import window_labels, window_starts
from ..errors import ImuadError
from ..targets.qemu import QemuTarget


def elf_sizes(elf: Path, target: QemuTarget) -> dict[str, int]:
    """text/data/bss as the toolchain's `size` (Berkeley) plus stack, flash and static RAM."""
    try:
        out = procs.run([target.size_tool, "-A", str(elf)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ImuadError(f"{target.size_tool} {elf}: {exc}") from exc
    sec: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sec[parts[0]] = int(parts[1])
    text = sum(v for k, v in sec.items() if k in target.text_sections)
    data = sec.get(".data", 0)
    bss = sec.get(".bss", 0)
    stack = sum(sec.get(k, 0) for k in target.stack_sections)
    return {"text": text, "data": data, "bss": bss, "stack": stack, "flash": text + data,
            "ram_static": data + bss + stack, "flash_budget": target.flash_budget, "ram_budget": target.ram_budget}


def onset_latencies(labels: np.ndarray | None, n_windows: int, window: int, hop: int,
                    events: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """For each labelled fault run: first window labelled anomalous (C2 rule), the first ONSET
    event at or after the window where the fault starts to enter, and the latency in windows."""
    if labels is None or n_windows == 0:
        return []
    win_lab = window_labels(np.asarray(labels), window_starts(len(labels), window, hop)[:n_windows], window)
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


def run_sim(model: ModelDir, segments: list[tuple[int, np.ndarray]], target_name: str = "qemu",
            elf: Path | None = None, chunk: int | None = None, idle_timeout: float | None = None,
            progress: bool = True, rx: str = "uart") -> SimRun:
    """Streams every segment (one HELLO each) through one emulator instance; BYE at the end."""
    target = targets.get_target(target_name, elf=elf, idle_timeout=idle_timeout, rx=rx)
    if not isinstance(target, QemuTarget):
        raise ImuadError(f"'{target_name}' is not an emulated board; sim runs on: {', '.join(targets.emulator_names())}")
    exe = target.executable()  # builds if needed
    card = model.card
    run = SimRun(card.name, target.name, str(exe), rx=rx)
    outs, scores = [], []
    total = sum(len(c) for _, c in segments)
    bar = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=total, unit="sample", desc=f"sim {target.name}", leave=False)
    t0 = time.monotonic()
    with targets.ReplaySession.open(target) as session:
        model_name = session.provide_model(model)
        for i, (_first, counts) in enumerate(segments):
            last = i == len(segments) - 1
            res = session.replay(counts, model=model_name, chunk=chunk, bye=last,
                                 on_progress=(bar.update if bar else None))
            info = res.device_info
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
        raise ImuadError(f"the emulator exited with code {run.exit_code} after BYE (expected 0)")
    run.outputs = np.concatenate(outs) if outs else None
    run.scores = np.concatenate(scores) if scores else None
    return run


def benchmarks(run: SimRun, target: QemuTarget, sizes: dict[str, int], fs: float | None) -> dict[str, Any]:
    t = np.asarray(run.ticks, dtype=np.int64)
    instr = t * target.instr_per_tick
    arena_size = int(run.device_info.get("arena_size", 0) or 0)
    b: dict[str, Any] = {
        "windows": run.windows,
        "instructions_per_inference": {
            "median": int(np.median(instr)) if len(t) else None,
            "min": int(instr.min()) if len(t) else None, "max": int(instr.max()) if len(t) else None,
            "note": f"board ticks x {target.instr_per_tick} under -icount shift=0 (resolution {target.instr_per_tick})"},
        "est_ms_at_240mhz": float(np.median(instr)) / 240e3 if len(t) else None,
        "stack_high_water_bytes": run.stats.get("stack_hwm_bytes"),
        "stack_size_bytes": sizes["stack"],
        "arena_used_bytes": run.stats.get("arena_used") or run.device_info.get("arena_used"),
        "arena_size_bytes": arena_size,
        "sizes": sizes,
        "ram_total_bytes": sizes["ram_static"] + arena_size,
        "wall_s": round(run.wall_s, 3),
        "emulated_inference_s": float(instr.sum()) / target.clock_hz,
    }
    if fs:
        rec_s = run.samples / fs
        b["recording_s"] = rec_s
        b["sample_rate_hz"] = fs
        b["realtime_factor"] = rec_s / run.wall_s if run.wall_s > 0 else None
    return b
