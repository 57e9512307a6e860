"""`imuad parity`: the same windows through several engines, compared bit for bit; or
`--layers`: the first tensor at which two engines (or two models) part ways."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ImuadError
from ..evaluation.recordings import SPLIT_CHOICES
from .options import int_range, model_from, writable_file


def cmd_parity(args: argparse.Namespace) -> int:
    from ..evaluation import engines as eng
    from ..evaluation import parity
    from ..fileio import write_json
    if args.list:
        print("\n".join(eng.describe_engines()))
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()] if args.engines else None
    unknown = [e for e in (engines or []) + args.target if e not in eng.engine_names()]
    if unknown:
        raise ImuadError(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(eng.engine_names())}")
    if args.model is None:
        raise ImuadError("parity needs a model folder, e.g. imuad parity models/synth")
    report_path = writable_file(args.report, "--report") if args.report else None
    model = model_from(args)
    if args.layers:
        pair = engines or ["tflite-ref", "tflm"]
        if args.against is not None and len(pair) == 1:
            pair = pair * 2
        if len(pair) != 2:
            raise ImuadError("--layers compares two engines, e.g. --engines tflite-ref,tflm")
        model_b = None
        if args.against is not None:
            from ..contracts.tflite import read_model
            if not args.against.is_file():
                raise ImuadError(f"{args.against}: no such .tflite")
            model_b = args.against.read_bytes()
            read_model(model_b, str(args.against))
        res = parity.first_difference(model, pair[0], pair[1], recording=args.recording,
                                      split=args.split, max_windows=args.max_windows, model_b=model_b)
        print(parity.format_layers(res))
        return 0
    report = parity.run_parity(model, recording=args.recording, split=args.split, engines=engines,
                               targets=args.target, max_windows=args.max_windows)
    print(parity.format_matrix(report))
    out = report_path or parity.default_report_path(report)
    write_json(out, report)
    print(f"report: {out}")
    if args.update_card:
        notes = parity.explain_differences(model, report, args.recording)
        for pair, n in notes.items():
            print(f"{pair}: first difference at op #{n['op_index']} {n['op']} (layer '{n['layer']}')")
        path = parity.update_card(model, report, notes)
        print(f"updated {path} (parity)")
    failed = [p for p in report["pairs"] if p["required"] and not p["ok"]]
    if failed:
        print("FAILED (required bit-exact): " + ", ".join(p["pair"] for p in failed))
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("parity", help="same windows through several engines: bit-exact matrix, "
                              "or --layers: first tensor that differs")
    p.add_argument("model", nargs="?", help="model folder (written by `imuad export` / `imuad import`), or NAME "
                   "for models/NAME")
    p.add_argument("--recording", type=Path, help="recording (default: the card's dataset)")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="test",
                   help="windows of one split (C2 time blocks) or the whole recording as one stream")
    p.add_argument("--engines", default=None,
                   help="comma list (default tflite-ref,tflite,tflm plus every --target); see --list")
    p.add_argument("--target", action="append", default=[], help="firmware target engine, e.g. host (repeatable)")
    p.add_argument("--max-windows", type=int_range(1), default=None, help="only the first N windows")
    p.add_argument("--report", type=Path, help="JSON report (default build/parity/<name>-<split>.json)")
    p.add_argument("--update-card", action="store_true", help="write the pair results into the card's `parity`")
    p.add_argument("--layers", action="store_true", help="find the first tensor that differs between two engines")
    p.add_argument("--against", type=Path, help="--layers: compare with this .tflite (e.g. a perturbed copy) "
                   "instead of the model's own flatbuffer on the second engine")
    p.add_argument("--list", action="store_true", help="list the engines and exit")
    p.set_defaults(func=cmd_parity)
