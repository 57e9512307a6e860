"""`imuad quantize` and `imuad export`: a trained run -> full int8 -> a model folder (C6)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ImuadError


def cmd_quantize(args: argparse.Namespace) -> int:
    from ..deploy.quantize import QUANT_JSON, TFLITE_NAME, quantize_run
    from ..deploy.runs import load_run
    run = load_run(args.run)
    quantize_run(run)
    print(f"wrote {args.run / TFLITE_NAME} and {args.run / QUANT_JSON}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..deploy.export import export_run
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
