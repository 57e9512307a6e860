"""`imuad replay`: stream a recording through a firmware target, print events and a summary."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .. import protocol as P
from ..errors import ImuadError
from ..paths import models_dir


def load_card(model: str) -> tuple[Path, dict]:
    d = Path(model)
    if not d.exists() and (models_dir() / model).exists():
        d = models_dir() / model
    path = d / "model_card.json"
    try:
        return d, json.loads(path.read_text())
    except FileNotFoundError:
        raise ImuadError(f"{path}: no model card (give --model models/NAME)") from None
    except json.JSONDecodeError as exc:
        raise ImuadError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None


def recording_segments(recording: str, card: dict, split: str | None) -> list[tuple[int, np.ndarray]]:
    """(first sample, int16 counts) of every stretch to replay: the whole file, or each block of a split."""
    from ..data.recording import load_recording
    from ..data.splits import SplitPlan, split_blocks
    rec = load_recording(recording)
    cpu = float(card.get("dataset", {}).get("counts_per_unit")
                or card.get("preprocessing", {}).get("counts_per_unit") or 1.0)
    counts = rec.counts(cpu)
    if split in (None, "all"):
        return [(0, counts)]
    blocks = split_blocks(SplitPlan.from_dict(card.get("split")), rec.y, rec.n_samples, int(card["window"]))
    segs = [(b.start, counts[b.start:b.stop]) for b in blocks if b.split == split]
    if not segs:
        raise ImuadError(f"{recording}: split '{split}' has no block of at least {card['window']} samples")
    return segs


def _run(args: argparse.Namespace) -> int:
    from . import ReplaySession, get_target
    model_dir, card = load_card(args.model)
    segments = recording_segments(args.recording, card, args.split)
    opts = {"pty": True} if args.pty else {}
    target = get_target(args.target, **opts)
    config = None
    if args.threshold is not None:
        d = card["decision"]
        config = P.Config(args.threshold, min(args.threshold, d["threshold_off"]), d["k"], d["n"])
    total_windows = total_events = 0
    infer: list[int] = []
    dropped = 0
    t0 = time.monotonic()
    with ReplaySession.open(target) as session:
        for first, counts in segments:
            def show(ev: P.Event, first=first) -> None:
                start = first + ev.window * int(card["hop"])
                kind = {1: "ONSET", 2: "CLEAR"}.get(ev.kind, str(ev.kind))
                print(f"  {kind:5s} window {ev.window:6d} (sample {start}) score {ev.score}", flush=True)
            res = session.replay(counts, model=card["name"], config=config, chunk=args.chunk,
                                 on_event=show, bye=False)
            info = res.device_info
            if card.get("tflite_sha256") and info.model_sha256.hex() != card["tflite_sha256"]:
                raise ImuadError(f"target '{target.name}' carries another build of '{card['name']}' "
                                 f"(sha256 {info.model_sha256.hex()[:12]}, card {card['tflite_sha256'][:12]}): rebuild it")
            total_windows += len(res.windows)
            total_events += len(res.events)
            infer += [w.infer_us for w in res.windows]
            for e in res.errors:
                print(f"  firmware ERROR {e}", file=sys.stderr)
        stats = session.stats()
        dropped = stats.dropped
    secs = time.monotonic() - t0
    mean_us = float(np.mean(infer)) if infer else 0.0
    print(f"replay {Path(args.recording).name} on '{target.name}' model {card['name']} "
          f"({len(segments)} segment(s){', split ' + args.split if args.split else ''}): "
          f"{total_windows} windows, {total_events} events, {total_windows / max(secs, 1e-9):.0f} windows/s, "
          f"mean infer {mean_us:.0f} board-clock units (µs; QEMU: SysTick ticks), frames dropped by firmware {dropped}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="stream a recording through a firmware target (host, qemu, esp32, ...)")
    p.add_argument("--target", default="host", help="firmware target (default host)")
    p.add_argument("--model", required=True, help="model dir (models/NAME) whose card describes the model")
    p.add_argument("--recording", required=True, help="CSV or NPZ recording")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default=None,
                   help="replay only this time-block split (each block is its own stream)")
    p.add_argument("--chunk", type=int, default=256, help="samples per SAMPLES frame")
    p.add_argument("--threshold", type=int, default=None, help="override threshold_on (CONFIG frame)")
    p.add_argument("--pty", action="store_true", help="host target: talk through a pseudo-terminal")
    p.set_defaults(func=_run)
