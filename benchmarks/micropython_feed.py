"""Samples/s through imuad.Detector.feed on the MicroPython unix port vs imuad-fw-host, same
recording, same model, measured in one run; prints the MicroPython overhead per chunk size.

    python3 benchmarks/micropython_feed.py [--model models/synth] [--samples 240000] [--repeats 3]

imuad-fw-host is timed as a whole process replaying pre-encoded frames from a file
(HELLO, SAMPLES frames as large as C7 allows, BYE; --exit-on-bye) to /dev/null-like output, so its figure
holds the firmware's frame decode/encode but no Python; best of --repeats runs each.
Target: overhead <= 20 % for chunks >= 64 samples.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "host"))

from imuad.contracts import frames as protocol  # noqa: E402
from imuad.build import artefact  # noqa: E402


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def host_rate(exe: Path, card: dict, counts: np.ndarray, repeats: int, tmp: Path) -> tuple[float, int]:
    frames = bytearray(protocol.encode_frame(protocol.Hello(card["name"])))
    per = (protocol.MAX_PAYLOAD - 6) // (2 * counts.shape[1])  # samples per SAMPLES frame (C7: body <= 2048)
    for i in range(0, len(counts), per):
        frames += protocol.encode_frame(protocol.Samples(i, counts[i:i + per]))
    frames += protocol.encode_frame(protocol.Bye())
    src = tmp / "frames.bin"
    src.write_bytes(bytes(frames))
    best, n_windows = None, 0
    for _ in range(repeats):
        with open(src, "rb") as fin:
            t0 = time.perf_counter()
            proc = subprocess.run([str(exe), "--exit-on-bye"], stdin=fin, capture_output=True, timeout=600)
            dt = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"imuad-fw-host failed: {proc.stderr.decode(errors='replace')[-2000:]}")
        dec = protocol.FrameDecoder(len(card["channels"]))
        n_windows = sum(1 for t, _ in dec.feed_bodies(proc.stdout) if t == protocol.WINDOW_RESULT)
        best = dt if best is None or dt < best else best
    return len(counts) / best, n_windows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "synth"))
    ap.add_argument("--samples", type=int, default=240_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunks", default="1,16,64,256,1024,4096")
    args = ap.parse_args()
    mdir = Path(args.model)
    card = json.loads((mdir / "model_card.json").read_text())
    tests_conftest = load(REPO / "tests" / "micropython" / "mpy_support.py", "imuad_mpy_support")
    tests_conftest.MAX_SAMPLES = args.samples
    counts = tests_conftest.recording_counts(card)
    exe = artefact("host")
    mpy = artefact("micropython")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        (tmp / "counts.bin").write_bytes(counts.tobytes())
        heap = f"{max(8, counts.nbytes * 3 // (1 << 20) + 4)}m"
        proc = subprocess.run([str(mpy), "-X", f"heapsize={heap}",
                               str(REPO / "benchmarks" / "micropython" / "feed_bench.mpy.py"),
                               str(mdir / "model.tflite"), str(mdir / "model_card.json"), str(tmp / "counts.bin"),
                               args.chunks, str(args.repeats)], capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"micropython failed: {proc.stdout[-1000:]}{proc.stderr[-2000:]}")
        mp = json.loads(proc.stdout.strip().splitlines()[-1])
        h_rate, h_windows = host_rate(exe, card, counts, args.repeats, tmp)
    print(f"model {card['name']} (W={card['window']} H={card['hop']} C={len(card['channels'])}), "
          f"{len(counts)} samples, best of {args.repeats}")
    print(f"imuad-fw-host          : {h_rate:12,.0f} samples/s  ({h_windows} windows)")
    ok = True
    for size, r in sorted(mp.items(), key=lambda kv: int(kv[0])):
        overhead = h_rate / r["samples_per_s"] - 1.0
        flag = ""
        if int(size) >= 64:
            ok &= overhead <= 0.20
            flag = "  ok (<= 20 %)" if overhead <= 0.20 else "  ABOVE 20 %"
        print(f"micropython chunk {int(size):5d}: {r['samples_per_s']:12,.0f} samples/s  ({r['windows']} windows)"
              f"  ratio mpy/host {r['samples_per_s'] / h_rate:5.3f}  overhead {overhead * 100:+6.1f} %{flag}")
    print("target (overhead <= 20 % for chunks >= 64 samples):", "MET" if ok else "NOT MET")


if __name__ == "__main__":
    main()
