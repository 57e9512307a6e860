"""BLE path benchmark (virtual radio): events/s firmware -> gateway -> SQLite, pairing time.

    python benchmarks/ble_throughput.py [--events 3000] [--pairings 5]
Same as `imuad gateway bench`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from imuad.gateway.bench import run_bench  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--pairings", type=int, default=5)
    a = ap.parse_args()
    run_bench(events=a.events, pairings=a.pairings)
