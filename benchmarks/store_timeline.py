"""Dashboard alert timeline on a large gateway store: newest-first page, with and without the
C9 index events_received_at.

    python benchmarks/store_timeline.py [--devices 50] [--per-device 20000]   (or `imuad bench store_timeline`)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from imuad.dashboard.queries import EventFilter, StoreReader  # noqa: E402
from imuad.gateway.store import Store  # noqa: E402


def _fill(path: Path, devices: int, per_device: int, index: bool) -> None:
    s = Store(path)
    if not index:
        s.db.execute("DROP INDEX events_received_at")
    rows = ((f"dev{d}", i, 1, 1, 5, 0, "m", 0, 1e9 + i * 0.05 + d * 1e-3, 0, None, None)
            for d in range(devices) for i in range(per_device))
    s.db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    s.db.commit()
    s.close()


def _ms(fn, n: int = 10) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--per-device", type=int, default=20000)
    a = ap.parse_args()
    total = a.devices * a.per_device
    with tempfile.TemporaryDirectory() as tmp:
        for index in (False, True):
            path = Path(tmp) / f"store-{int(index)}.db"
            _fill(path, a.devices, a.per_device, index)
            r = StoreReader(path)
            newest = _ms(lambda: r.events(EventFilter(), limit=500))
            since = _ms(lambda: r.events(EventFilter(since=1e9 + 500), limit=500))
            print(f"{total:,} events, index {'on ' if index else 'off'}: newest 500 {newest:6.1f} ms, "
                  f"newest 500 since t {since:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
