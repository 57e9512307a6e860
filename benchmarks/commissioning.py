"""Commissioning a normal-only model on another machine without retraining (issue "Labels are
scarce"): spectral_gauss fitted on synthetic machine 1 (`imuad synth --seed 1`), deployed to
machine 2 (2.2x harmonics, 1.6x noise, more damping, 2x knocks), before and after `imuad
calibrate` on 5 min of machine 2's normal operation. Prints false onsets per hour on 30 min of
machine 2's normal operation (another seed) and each fault's detection delay.

Then the device's own calibration (C5b with a refit of the shape statistics, what `imuad calibrate
--on-target` and the dashboard's "recalibrate" ask a device for): a firmware target (default the
host build) streams machine 2's first 2 x 4096 normal windows after CALIBRATE, then 30 min of
normal operation / the fault recording; its decision must equal the host's and its events the
contract's simulation.

    imuad bench commissioning [--minutes 30] [--target host]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def machine2(seed: int, duration_s: float, faults: str = ""):
    from imuad.data.synth import default_config, parse_faults, synth_machine, with_overrides
    cfg = default_config(duration_s=duration_s, seed=seed)
    cfg = with_overrides(cfg, harmonics_g=tuple(2.2 * h for h in cfg.harmonics_g), noise_g=1.6 * cfg.noise_g,
                         resonance_zeta=0.06, knocks_per_s=0.8, faults=parse_faults(faults) if faults else ())
    return synth_machine(cfg)


def onsets(model_dir: Path, rec) -> list[float]:
    from imuad.contracts.card import load_model_dir
    from imuad.evaluation.reference import stream_reference
    m = load_model_dir(model_dir)
    ref = stream_reference(m, rec.counts(m.card.counts_per_unit))
    return [(w * m.card.hop + m.card.window) / rec.fs for (w, kind, _) in ref.events if kind == 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="normal operation to count false onsets on")
    ap.add_argument("--target", default="host", help="firmware target for the on-device calibration (host, qemu, ...)")
    args = ap.parse_args()
    from imuad.contracts.card import load_model_dir
    from imuad.data.recording import save_recording
    from imuad.data.synth import default_config, synth_machine
    from imuad.deploy.commission import commission, write_commissioned
    from imuad.deploy.export import export_run
    from imuad.deploy.quantize import quantize_run
    from imuad.training.run import Run
    from imuad.training.train import train
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        m1 = save_recording(synth_machine(default_config(seed=1)), d / "machine1.npz")
        run = train(m1, "spectral_gauss", d / "run", report=False)
        quantize_run(Run.load(run), verbose=False)
        model_dir, _ = export_run(run, "m1", d / "m1")
        normal = save_recording(machine2(2, 300.0), d / "machine2-normal.npz")
        t0 = time.perf_counter()
        model, card, info, _, refitted = commission(load_model_dir(model_dir), normal)
        write_commissioned(model, card, d / "m1-commissioned", refitted)
        seconds = time.perf_counter() - t0
        held_out = machine2(7, 60.0 * args.minutes)
        faulty = machine2(5, 120.0, "outer@30-60,inner@80-100")
        print(f"commissioning: {seconds:.1f} s on {info.windows} windows (5 min); decision {info.decision_before} -> "
              f"{info.decision_after}")
        for name, folder in (("before", model_dir), ("after", d / "m1-commissioned")):
            quiet = onsets(folder, held_out)
            found = onsets(folder, faulty)
            delays = [next((t - a for t in found if a <= t <= b + 1.0), float("nan")) for a, b in ((30, 60), (80, 100))]
            false = [t for t in found if not (30 <= t <= 61 or 80 <= t <= 101)]
            print(f"{name:6s}: {len(quiet)} onsets in {args.minutes:g} min of normal operation "
                  f"({len(quiet) * 60 / args.minutes:.1f}/h); faults outer@30 s, inner@80 s detected after "
                  f"{delays[0]:.2f} s, {delays[1]:.2f} s; {len(false)} onsets outside them in 120 s")
        on_device(load_model_dir(model_dir), normal, held_out, faulty, args)


def on_device(model, normal: Path, held_out, faulty, args: argparse.Namespace) -> None:
    """Machine 1's model, machine 2's device calibrating itself: spectral_gauss refits its shape
    statistics on 4096 windows, then its threshold on 4096 more (C5b refit), all on the device."""
    from imuad.contracts.calibration import CalibrationRequest, simulate
    from imuad.contracts.decision import decision_from_mapping
    from imuad.contracts.frames import Calibrate
    from imuad.data.recording import load_recording
    from imuad.deploy.commission import calibrate_on_target
    from imuad.evaluation.reference import stream_reference
    from imuad.targets import ReplaySession, get_target
    card = model.card
    fs = card.sample_rate_hz
    target = get_target(args.target)
    t0 = time.perf_counter()
    r = calibrate_on_target(model, normal, target)
    seconds = time.perf_counter() - t0
    q = r.request
    used = q.windows * (2 if q.refit else 1)
    print(f"on-device calibration ('{r.target}', {used} windows = {(card.window + card.hop * (used - 1)) / fs:.0f} s of "
          f"normal operation{', shape statistics refitted' if q.refit else ''}, {seconds:.1f} s incl. streaming): "
          f"threshold_on {r.device['threshold_on']} k {r.device['k']} of n {r.device['n']}; "
          f"device == host contract: {r.exact}")
    prefix = load_recording(normal).counts(card.counts_per_unit)[:card.window + card.hop * (used - 1)]
    req = CalibrationRequest(**q.as_dict())

    def device(rec) -> tuple[list[float], bool]:
        """The device's stream: its calibration windows, then `rec`: onset times in `rec`."""
        stream = np.concatenate([prefix, rec.counts(card.counts_per_unit)])
        ref = stream_reference(model, stream)
        feats = ref.outputs.reshape(len(ref.outputs), -1)[:, card.score.output_index + 1:].tolist()
        want, _, _ = simulate(ref.scores.tolist(), decision_from_mapping(card.raw["decision"]), req, feats)
        with ReplaySession.open(target) as session:
            res = session.replay(stream, model=session.provide_model(model), calibrate=Calibrate(**q.as_dict()),
                                 bye=False)
        onsets = [(w * card.hop + card.window) / fs - len(prefix) / fs for (w, kind, _) in res.event_tuples()
                  if kind == 1 and w >= used]
        return onsets, res.event_tuples() == want

    quiet, same_quiet = device(held_out)
    found, same_faulty = device(faulty)
    delays = [next((t - a for t in found if a <= t <= b + 1.0), float("nan")) for a, b in ((30, 60), (80, 100))]
    false = [t for t in found if not (30 <= t <= 61 or 80 <= t <= 101)]
    print(f"device: {len(quiet)} onsets in {args.minutes:g} min of normal operation "
          f"({len(quiet) * 60 / args.minutes:.1f}/h); faults detected after {delays[0]:.2f} s, {delays[1]:.2f} s; "
          f"{len(false)} onsets outside them; events on '{r.target}' == contract simulation: {same_quiet and same_faulty}")


if __name__ == "__main__":
    main()
