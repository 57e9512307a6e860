"""CLI: `imuad quantize`, `imuad export`, `imuad parity`."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ImuadError


def register(subparsers: argparse._SubParsersAction) -> None:
    q = subparsers.add_parser("quantize", help="full-int8 TFLite from a run folder, op check, integer constants, "
                              "int8 vs float on the test split")
    q.add_argument("run", type=Path, help="run folder made by `imuad train`")
    q.set_defaults(func=cmd_quantize)

    e = subparsers.add_parser("export", help="models/NAME/: .tflite, C array, op_resolver.h, model_config.h, card")
    e.add_argument("run", type=Path, help="quantized run folder")
    e.add_argument("--name", required=True, help="model name (C identifier)")
    e.add_argument("--out", type=Path, help="output folder (default models/NAME)")
    e.add_argument("--synth", metavar="PRESET[:SEED]",
                   help="the run's recording is `imuad synth --preset PRESET --seed SEED` output: "
                        "recorded in the card so parity can regenerate it")
    e.set_defaults(func=cmd_export)

    p = subparsers.add_parser("parity", help="same windows through several engines: bit-exact matrix, "
                              "or --layers: first tensor that differs")
    p.add_argument("model_dir", type=Path, help="exported model folder (models/NAME)")
    p.add_argument("--recording", type=Path, help="recording (default: the card's dataset)")
    p.add_argument("--split", choices=("test", "val", "train", "all"), default="test",
                   help="windows of one split (C2 time blocks) or the whole recording as one stream")
    p.add_argument("--engines", default=None,
                   help="comma list (default tflite-ref,tflite,tflm plus every --target); see --list")
    p.add_argument("--target", action="append", default=[], help="firmware target engine, e.g. host (repeatable)")
    p.add_argument("--max-windows", type=int, default=None, help="only the first N windows")
    p.add_argument("--report", type=Path, help="JSON report (default build/parity/<name>-<split>.json)")
    p.add_argument("--update-card", action="store_true", help="write the pair results into the card's `parity`")
    p.add_argument("--layers", action="store_true", help="find the first tensor that differs between two engines")
    p.add_argument("--against", type=Path, help="--layers: compare with this .tflite (e.g. a perturbed copy) "
                   "instead of the model's own flatbuffer on the second engine")
    p.add_argument("--list", action="store_true", help="list the registered engines and exit")
    p.set_defaults(func=cmd_parity)


def cmd_quantize(args: argparse.Namespace) -> int:
    from .quantize import QUANT_JSON, TFLITE_NAME, quantize_run
    from .runs import load_run
    run = load_run(args.run)
    quantize_run(run)
    print(f"wrote {args.run / TFLITE_NAME} and {args.run / QUANT_JSON}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_run
    synth = None
    if args.synth:
        preset, _, seed = args.synth.partition(":")
        try:
            synth = {"preset": preset, "seed": int(seed or 0)}
        except ValueError as exc:
            raise ImuadError(f"--synth {args.synth}: seed must be an integer") from exc
    out, card = export_run(args.run, args.name, args.out, synth)
    s = card["sizes"]
    print(f"wrote {out}/: model.tflite ({s['tflite_bytes']} B, sha256 {card['tflite_sha256'][:16]}...), "
          f"model_data.cc/.h, op_resolver.h ({len(card['ops'])} ops), model_config.h, model_card.json "
          f"(arena {s['arena_bytes_measured']} B measured, {s['arena_bytes']} B reserved)")
    if not card["parity"]:
        print(f"parity not yet recorded: imuad parity {out} --update-card")
    return 0


def cmd_parity(args: argparse.Namespace) -> int:
    from . import parity
    from .engines import engine_names
    if args.list:
        print("\n".join(engine_names()))
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()] if args.engines else None
    if args.layers:
        pair = engines or ["tflite-ref", "tflm"]
        if args.against is not None and len(pair) == 1:
            pair = pair * 2
        if len(pair) != 2:
            raise ImuadError("--layers compares two engines, e.g. --engines tflite-ref,tflm")
        model_b = None
        if args.against is not None:
            from .flatbuffer import read_model
            model_b = args.against.read_bytes() if args.against.is_file() else None
            if model_b is None:
                raise ImuadError(f"{args.against}: no such .tflite")
            read_model(model_b, str(args.against))
        res = parity.first_difference(args.model_dir, pair[0], pair[1], recording=args.recording,
                                      split=args.split, max_windows=args.max_windows, model_b=model_b)
        print(parity.format_layers(res))
        return 0
    report = parity.run_parity(args.model_dir, recording=args.recording, split=args.split, engines=engines,
                               targets=args.target, max_windows=args.max_windows)
    print(parity.format_matrix(report))
    out = args.report or parity.default_report_path(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {out}")
    if args.update_card:
        notes = parity.explain_differences(args.model_dir, report, args.recording)
        for pair, n in notes.items():
            print(f"{pair}: first difference at op #{n['op_index']} {n['op']} (layer '{n['layer']}')")
        path = parity.update_card(args.model_dir, report, notes)
        print(f"updated {path} (parity)")
    failed = [p for p in report["pairs"] if p["required"] and not p["ok"]]
    if failed:
        print("FAILED (required bit-exact): " + ", ".join(p["pair"] for p in failed))
        return 1
    return 0
