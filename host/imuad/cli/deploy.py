"""`imuad quantize` and `imuad export`: a trained run -> full int8 -> a model folder (C6)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ImuadError
from ..targets import target_names
from .options import float_range, int_range


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


def cmd_import(args: argparse.Namespace) -> int:
    from ..deploy.importer import import_model
    out = args.out or Path(args.name)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ImuadError(f"{out} exists and is not empty; pass --force to overwrite it")
    normal = None
    if args.normal:
        import numpy as np

        from ..contracts.windows import stream_windows
        from ..data.recording import load_recording
        rec = load_recording(args.normal)
        if rec.n_channels != args.channels:
            raise ImuadError(f"{args.normal}: {rec.n_channels} channels, --channels is {args.channels}")
        counts = np.clip(np.rint(rec.X), -128, 127).astype(np.int16)
        normal = stream_windows(counts, args.window or 0, args.hop or args.window or 0) if args.window else None
        if normal is None:
            from ..contracts.tflite import read_model
            n_in = int(np.prod(read_model(args.model).inputs[0].shape[1:]))
            w = n_in // args.channels
            normal = stream_windows(counts, w, args.hop or w)
    card = import_model(args.model, args.name, out, channels=args.channels, window=args.window, hop=args.hop,
                        sample_rate_hz=args.sample_rate, score_kind=args.score, threshold=args.threshold,
                        normal=normal)
    s = card["sizes"]
    print(f"wrote {out}/: {card['architecture']} model '{card['name']}', input {card['input']['shape']} = window "
          f"{card['window']} x {len(card['channels'])} channel(s), score {card['score']['kind']}, threshold_on "
          f"{card['decision']['threshold_on']} ({card['decision_rule']}); {s['tflite_bytes']} B flatbuffer, "
          f"arena {s['arena_bytes']} B; ops {', '.join(card['ops'])}")
    print(f"next: imuad parity {out} --recording REC [--target host --target qemu]")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..contracts.card import load_model_dir
    from ..deploy.commission import commission, plot_scores, write_commissioned
    model = load_model_dir(args.model)
    if args.on_target:
        return _calibrate_on_target(args, model)
    model, new_card, info, scores, refitted = commission(model, args.recording, args.false_alarms_per_hour,
                                                         0.1 if args.margin is None else args.margin, args.counts_per_unit, args.latency or None,
                                                         refit_statistics=not args.threshold_only)
    out = args.out or (model.path if args.in_place else model.path.parent / f"{model.path.name}-commissioned")
    write_commissioned(model, new_card, out, refitted)
    png = plot_scores(scores, info, out / "commissioning.png",
                      f"{model.card.name} on {Path(args.recording).name}: {info.windows} normal windows")
    b, a = info.decision_before, info.decision_after
    print(f"{info.windows} normal windows{f' ({info.hours * 60:.1f} min)' if info.hours else ''}; scores p50 "
          f"{info.score_quantiles['p50']} p99 {info.score_quantiles['p99']} max {info.score_quantiles['p100']}")
    print(f"threshold_on {b['threshold_on']} -> {a['threshold_on']}, threshold_off {b['threshold_off']} -> "
          f"{a['threshold_off']} (k {a['k']} of n {a['n']}): onsets on this normal recording {info.onsets_before} "
          f"-> {info.onsets_after} (allowed {info.allowed_onsets})")
    if info.hours is not None and info.hours < 5 / 60:
        print(f"warning: {info.hours * 60:.1f} min of normal operation; a recording shorter than 5 min "
              "misses rare normal peaks (false alarms later): record longer if you can")
    what = ("new model.tflite (normal statistics refitted), C arrays" if refitted is not None
            else "same model.tflite")
    print(f"wrote {out}/ (card, model_config.h, {what}) and {png}")
    print(f"next: imuad parity {out} --target host; on a device, `imuad replay`/`hil` uploads a changed model "
          "into its models slot (no reflash)")
    return 0


def _calibrate_on_target(args: argparse.Namespace, model) -> int:
    from .. import targets
    from ..deploy.commission import calibrate_on_target
    target = targets.get_target(args.on_target, **({"port": args.port} if args.port else {}))
    r = calibrate_on_target(model, args.recording, target, args.false_alarms_per_hour, args.margin,
                            args.counts_per_unit, args.latency or None)
    q = r.request
    print(f"CALIBRATE on '{r.target}': {q.windows} windows{' of shape statistics, then as many for the threshold' if q.refit else ''}, "
          f"<= {q.allowed} onset(s), margin {q.margin_permille} permille, k {q.k} of n {q.n}, drift block {q.drift_block} windows")
    for who, d in (("device", r.device), ("imuad calibrate", r.host)):
        print(f"  {who:15s} threshold_on {d['threshold_on']} threshold_off {d['threshold_off']} k {d['k']} n {d['n']} "
              f"(median score {d['median']}, lowest quiet {d['lowest_on']}, onsets before {d['onsets_before']})")
    if not r.exact:
        print("MISMATCH: the device's calibration differs from the host's on the same windows", file=sys.stderr)
        return 1
    print(f"bit-exact: the device keeps this decision for model '{model.card.name}' (NVS on ESP-IDF) and now "
          "raises drift events (kind 4/5) against its median")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    c = subparsers.add_parser("calibrate", help="commission a model on a new machine from its normal operation: "
                              "a new decision (C5) without retraining")
    c.add_argument("--model", type=Path, required=True, help="model folder (C6)")
    c.add_argument("--recording", type=Path, required=True, help="recording of the new machine, normal operation only")
    c.add_argument("--out", type=Path, default=None, help="output model folder (default MODEL-commissioned)")
    c.add_argument("--in-place", action="store_true", help="rewrite the model folder itself")
    c.add_argument("--false-alarms-per-hour", type=float_range(0), default=1.0,
                   help="onsets allowed per hour of the recording (default 1; 0 if its sample rate is unknown)")
    c.add_argument("--margin", type=float_range(0, 10), default=None,
                   help="headroom above the fitted threshold, x (threshold - median score) (default 0.1; "
                        "0.3 for --on-target with a refit of the shape statistics)")
    c.add_argument("--threshold-only", action="store_true",
                   help="keep the flatbuffer; fit only the decision (normal-only models refit their statistics)")
    c.add_argument("--latency", type=float_range(0), default=2.0,
                   help="detection latency budget in s: sets the k-of-n debounce (default 2; 0 keeps the card's)")
    c.add_argument("--counts-per-unit", type=float_range(0, lo_open=True), default=None,
                   help="scale to int16 counts (default: the card's)")
    c.add_argument("--on-target", metavar="TARGET", choices=target_names(), default=None,
                   help="let a firmware target calibrate itself (C5b) on the recording's first windows (<= 4096) "
                        "and check it against the host's fit; writes no model folder")
    c.add_argument("--port", help="--on-target esp32: the board's serial port")
    c.set_defaults(func=cmd_calibrate)

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

    i = subparsers.add_parser("import", help="a model folder for an int8 .tflite trained elsewhere (e.g. MLPerf Tiny)")
    i.add_argument("model", type=Path, help="full-int8 .tflite (int8 input and output)")
    i.add_argument("--name", required=True, help="model name (C identifier)")
    i.add_argument("--out", type=Path, help="output folder (default ./NAME)")
    i.add_argument("--channels", type=int_range(1, 8), default=1, help="axes per sample (default 1)")
    i.add_argument("--window", type=int_range(1, 65535), default=None,
                   help="samples per window (default: input size / channels)")
    i.add_argument("--hop", type=int_range(1, 65535), default=None, help="samples between windows (default window)")
    i.add_argument("--sample-rate", type=float_range(0, lo_open=True), default=None, help="Hz, if known")
    i.add_argument("--score", choices=("class_prob", "recon_error"), default=None,
                   help="default: recon_error when the output has the input's size, else class_prob")
    i.add_argument("--threshold", type=int_range(-2**31, 2**31 - 1), default=None, help="threshold_on in score units")
    i.add_argument("--normal", type=Path, default=None,
                   help="recording of normal operation (int8-valued samples): threshold = p99 of its scores")
    i.add_argument("--force", action="store_true", help="overwrite a non-empty --out folder")
    i.set_defaults(func=cmd_import)
