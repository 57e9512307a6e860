"""Peak memory of loading a large CSV recording (`imuad data info`), against the size of the
arrays it produces. Bar: peak RSS growth <= 3x the final arrays.

    imuad bench csv_memory [--rows 5000000]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as fh:
        fh.write("t,ax,ay,az,label\n")
        step = 200_000
        for s in range(0, rows, step):
            n = min(step, rows - s)
            t = (np.arange(s, s + n) / 2000.0)
            X = rng.integers(-4000, 4000, (n, 3))
            lab = (np.arange(s, s + n) // 50_000) % 2
            block = np.column_stack([t, X, lab])
            np.savetxt(fh, block, fmt=["%.4f", "%d", "%d", "%d", "%d"], delimiter=",")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "big.csv"
        t0 = time.monotonic()
        write_csv(csv, args.rows)
        print(f"wrote {csv.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows in {time.monotonic() - t0:.0f} s")
        subprocess.run([sys.executable, "-c", "import imuad.data.recording"], check=True)
        base_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "imuad.cli", "data", "info", str(csv)], check=True,
                       stdout=subprocess.DEVNULL)
        secs = time.monotonic() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    final = args.rows * (3 * 8 + 8 + 1)  # X float64 [T, 3] + t float64 + y int8
    growth = peak - base_rss
    print(f"data info: {secs:.1f} s; peak RSS {peak / 2**20:.0f} MiB (interpreter + imports {base_rss / 2**20:.0f} MiB)")
    print(f"final arrays {final / 2**20:.0f} MiB; growth {growth / 2**20:.0f} MiB = {growth / final:.2f}x "
          f"(bar <= 3x) {'PASS' if growth <= 3 * final else 'FAIL'}")
    return 0 if growth <= 3 * final else 1


if __name__ == "__main__":
    sys.exit(main())
