"""`imuad bench fw-host [--windows N] [--model DIR ...]`: windows/s of imuad-fw-host (the firmware
core + TFLM on x86-64) vs the TFLM Python interpreter on the same windows, and a check that both
give the same outputs.

Columns: `session` = wall-clock through ReplaySession (Python frame codec included);
`fw-only` = CPU time of imuad-fw-host reading pre-encoded frames from a file and writing its
frames to a file; `TFLM-py` = CPU time of the Python interpreter loop; ratio = fw-only / TFLM-py.
Both run the same TFLM reference kernels, so the ratio mostly shows per-window overhead."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from imuad.paths import REPO_ROOT, models_dir
from imuad.contracts.preprocess import Preprocess
from imuad.contracts.windows import stream_windows
from imuad.targets import ReplaySession, get_target


def synthetic(n_windows: int, window: int, hop: int, channels: int) -> np.ndarray:
    n = window + hop * (n_windows - 1)
    rng = np.random.default_rng(0)
    return np.clip(rng.normal(0, 1500, (n, channels)), -32768, 32767).astype(np.int16)


def tflm_python(model: Path, x_q: np.ndarray, shape) -> tuple[np.ndarray, float]:
    from tflite_micro.python.tflite_micro import runtime
    interp = runtime.Interpreter.from_bytes(model.read_bytes())
    outs = []
    t0 = time.process_time()  # CPU seconds, like the firmware's figure
    for w in x_q:
        interp.reset()
        interp.set_input(w.reshape(shape), 0)
        interp.invoke()
        outs.append(interp.get_output(0).reshape(-1).copy())
    return np.stack(outs), time.process_time() - t0


def fw_only(exe: Path, name: str, counts: np.ndarray, n_windows: int) -> float:
    """Seconds imuad-fw-host needs for pre-encoded frames from a file to a file (no Python in the loop)."""
    import subprocess
    import tempfile
    from imuad.contracts import frames as P
    frames = [P.encode_frame(P.Hello(name))]
    frames += [P.encode_frame(P.Samples(i, counts[i:i + 256])) for i in range(0, len(counts), 256)]
    frames.append(P.encode_frame(P.Bye()))
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        src.write_bytes(b"".join(frames))
        import resource
        with open(src, "rb") as fi, open(dst, "wb") as fo:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([str(exe)], stdin=fi, stdout=fo, check=True, timeout=600)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU seconds of the firmware process: robust to a loaded machine
            secs = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        got = sum(1 for m in P.FrameDecoder().feed(dst.read_bytes()) if isinstance(m, P.WindowResult))
    assert got == n_windows, (got, n_windows)
    return secs


def main() -> None:
    ap = argparse.ArgumentParser(prog="imuad bench fw-host")
    ap.add_argument("--windows", type=int, default=5000)
    ap.add_argument("--model", action="append", default=None, help="model dir (default: committed + fixtures)")
    args = ap.parse_args()
    dirs = [Path(m) for m in args.model] if args.model else (
        sorted(p.parent for p in models_dir().glob("*/model_config.h"))
        + sorted(p.parent for p in (REPO_ROOT / "tests/firmware/fixtures/models").glob("*/model_config.h")))
    target = get_target("host", test_models=True)
    target.executable()  # build before timing
    print(f"{'model':14s} {'windows':>8s} {'session w/s':>12s} {'fw-only w/s':>12s} {'infer us':>9s} "
          f"{'TFLM-py w/s':>12s} {'ratio':>7s} exact")
    for d in dirs:
        card = json.loads((d / "model_card.json").read_text())
        counts = synthetic(args.windows, card["window"], card["hop"], len(card["channels"]))
        x_q = Preprocess.from_card(card).apply(stream_windows(counts, card["window"], card["hop"]))
        with ReplaySession.open(target) as s:
            s.hello(card["name"])  # start the process and load the model outside the timing
            t0 = time.perf_counter()
            res = s.replay(counts, model=card["name"], chunk=512)
            fw_s = time.perf_counter() - t0
        ref, py_s = tflm_python(d / "model.tflite", x_q, card["input"]["shape"])
        only_s = fw_only(target.executable(), card["name"], counts, len(x_q))
        exact = np.array_equal(res.outputs, ref)
        fw_rate, only_rate, py_rate = len(x_q) / fw_s, len(x_q) / only_s, len(x_q) / py_s
        mean_us = float(np.mean([w.infer_us for w in res.windows]))
        print(f"{card['name']:14s} {len(x_q):8d} {fw_rate:12.0f} {only_rate:12.0f} {mean_us:9.1f} {py_rate:12.0f} "
              f"{only_rate / py_rate:6.1f}x {exact}")


if __name__ == "__main__":
    main()
