"""`imuad replay`: stream a recording through a firmware target, print events and a summary."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .. import targets
from ..contracts.calibration import EVENT_NAMES
from ..contracts import frames as P
from ..contracts.decision import THRESHOLD, check_decision
from ..evaluation.recordings import SPLIT_CHOICES
from .options import add_model, int_range, model_from


def _run(args: argparse.Namespace) -> int:
    from ..evaluation.recordings import segments
    model = model_from(args)
    card = model.card
    _, segs = segments(card, args.recording, args.split)
    config = None
    if args.threshold is not None:
        d = card.decision
        s = check_decision(args.threshold, min(args.threshold, d.threshold_off), d.k, d.n)
        config = P.Config(s.threshold_on, s.threshold_off, s.k, s.n)
    target = targets.get_target(args.target, **({"pty": True} if args.pty else {}))
    total_windows = total_events = 0
    infer: list[int] = []
    t0 = time.monotonic()
    with targets.ReplaySession.open(target) as session:
        name = session.provide_model(model)
        for first, counts in segs:
            def show(ev: P.Event, first: int = first) -> None:
                kind = EVENT_NAMES.get(ev.kind, str(ev.kind)).upper()
                print(f"  {kind:5s} window {ev.window:6d} (sample {first + ev.window * card.hop}) score {ev.score}",
                      flush=True)
            res = session.replay(counts, model=name, config=config, chunk=args.chunk, on_event=show, bye=False)
            total_windows += len(res.windows)
            total_events += len(res.events)
            infer += [w.infer_us for w in res.windows]
            for e in res.errors:
                print(f"  firmware ERROR {e}", file=sys.stderr)
        dropped = session.stats().dropped
    secs = time.monotonic() - t0
    mean_us = float(np.mean(infer)) if infer else 0.0
    print(f"replay {Path(args.recording).name} on '{target.name}' model {card.name} "
          f"({len(segs)} segment(s){', split ' + args.split if args.split else ''}): "
          f"{total_windows} windows, {total_events} events, {total_windows / max(secs, 1e-9):.0f} windows/s, "
          f"mean infer {mean_us:.0f} board-clock units (µs; QEMU: SysTick ticks), frames dropped by firmware {dropped}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="stream a recording through a firmware target (host, qemu, esp32, ...)")
    p.add_argument("--target", default="host", choices=targets.target_names(), help="firmware target (default host)")
    add_model(p)
    p.add_argument("--recording", required=True, help="CSV or NPZ recording")
    p.add_argument("--split", choices=SPLIT_CHOICES, default=None,
                   help="replay only this time-block split (each block is its own stream)")
    p.add_argument("--chunk", type=int_range(1, (P.MAX_PAYLOAD - 6) // 2), default=256,
                   help="samples per SAMPLES frame")
    p.add_argument("--threshold", type=THRESHOLD.argtype("--threshold"), default=None,
                   help="override threshold_on (CONFIG frame)")
    p.add_argument("--pty", action="store_true", help="host target: talk through a pseudo-terminal")
    p.set_defaults(func=_run)
