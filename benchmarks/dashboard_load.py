"""Load benchmark of the dashboard's live view (not a test; prints figures).

50 devices x 20 events/s are written into a fresh gateway store for --duration seconds
while `imuad dashboard` (a separate process, as on the gateway) streams them over SSE to
Python clients: one overview client (all devices) and --device-clients per-device live
views. Reported: achieved insert rate, insert->client latency (p50/p95/p99/max), delivered
vs inserted events, and the server's RSS over time (it must stay flat).

    python benchmarks/dashboard_load.py                # 60 s, 50 devices, 20 ev/s each
    python benchmarks/dashboard_load.py --duration 15  # quicker
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "host"))

from imuad.gateway.store import Store  # noqa: E402
from imuad.net import free_port  # noqa: E402
from imuad.procs import rss_mib  # noqa: E402  (the gateway's writer, as in production)

TOKEN = "bench-token-0123456789"






class SseClient(threading.Thread):
    """Reads /api/stream and records (receive time - received_at) per event."""

    def __init__(self, base: str, device: str | None, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url = base + "/api/stream" + (f"?device={device}" if device else "")
        self.stop = stop
        self.latencies: list[float] = []
        self.count = 0
        self.connected = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=None) as r:
                r.raise_for_status()
                self.connected.set()
                for line in r.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("data: "):
                        now = time.time()
                        ev = json.loads(line[6:])
                        if "received_at" in ev:
                            self.latencies.append(now - ev["received_at"])
                            self.count += 1
        except Exception as exc:  # reported, never silently lost
            if not self.stop.is_set():
                self.error = repr(exc)
            self.connected.set()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--rate", type=float, default=20.0, help="events/s per device")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--device-clients", type=int, default=5,
                    help="per-device live-view SSE clients (besides one overview client)")
    ap.add_argument("--tick", type=float, default=0.05, help="writer period, s")
    ap.add_argument("--keep", action="store_true", help="keep the temporary store")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="imuad-dash-bench-"))
    db = tmp / "store.db"
    store = Store(db, synchronous="NORMAL")
    devices = [f"machine-{i:02d}" for i in range(args.devices)]
    for d in devices:
        store.upsert_device(d, name=d, model_id="9f3a61c2", state=0, threshold=120,
                            last_seen=time.time(), source="ble")

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO / "host"))
    server = subprocess.Popen(
        [sys.executable, "-m", "imuad.cli", "dashboard", "--store", str(db), "--port", str(port),
         "--token", TOKEN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 20
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("dashboard did not start: " + server.stderr.read().decode()[-2000:])
            time.sleep(0.1)

        stop = threading.Event()
        clients = [SseClient(base, None, stop)] + [
            SseClient(base, devices[i * len(devices) // max(1, args.device_clients)], stop)
            for i in range(args.device_clients)]
        for c in clients:
            c.start()
        for c in clients:
            c.connected.wait(10)
        time.sleep(0.5)

        rss: list[tuple[float, float]] = []
        per_tick = args.rate * args.tick  # events per device per tick (may be fractional)
        inserted = 0
        seq = 0
        carry = 0.0
        t0 = time.time()
        next_tick = t0
        last_rss = 0.0
        with tqdm(total=int(args.duration), unit="s", desc="load") as bar:
            while (now := time.time()) - t0 < args.duration:
                carry += per_tick
                n = int(carry)
                carry -= n
                for _ in range(n):
                    for i, d in enumerate(devices):
                        score = 40 + (seq * 7 + i * 13) % 50
                        kind = 1 if seq % 400 == 200 else 2 if seq % 400 == 260 else 3
                        store.insert_event(d, seq, kind, 1 if 200 <= seq % 400 < 260 else 0,
                                           score, uptime_ms=seq * 50, received_at=time.time())
                        inserted += 1
                    seq += 1
                if now - last_rss >= 1.0:
                    rss.append((now - t0, rss_mib(server.pid)))
                    last_rss = now
                    bar.n = min(int(now - t0), int(args.duration))
                    bar.refresh()
                next_tick += args.tick
                time.sleep(max(0.0, next_tick - time.time()))
        elapsed = time.time() - t0
        time.sleep(1.5)  # let the last poll reach the clients
        rss.append((time.time() - t0, rss_mib(server.pid)))
        stop.set()
        # how the read pages cope with the store the load left behind (median of 3)
        timings = {}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for url in ("/api/devices", "/api/devices?spark=120", "/api/events?kind=alerts",
                    f"/api/devices/{devices[0]}/series?limit=3000", "/alerts",
                    "/api/events.csv?kind=any"):
            runs = []
            for _ in range(3):
                t = time.perf_counter()
                r = httpx.get(base + url, headers=auth, timeout=60)
                runs.append(time.perf_counter() - t)
                r.raise_for_status()
            timings[url] = (sorted(runs)[1], len(r.content))
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        store.close()

    overview, views = clients[0], clients[1:]
    view_lat = [x for c in views for x in c.latencies]
    view_expected = seq * len(views)
    print(f"\n== dashboard load: {args.devices} devices x {args.rate:g} ev/s for {elapsed:.1f} s ==")
    print(f"inserted           {inserted} events ({inserted / elapsed:.0f} ev/s, one commit each,"
          f" Store synchronous=NORMAL)")
    for name, lat, got, want in (("overview (all)", overview.latencies, overview.count, inserted),
                                 (f"live views x{len(views)}", view_lat,
                                  sum(c.count for c in views), view_expected)):
        print(f"{name:<18} delivered {got}/{want}; latency ms p50 {1e3 * pct(lat, .5):.0f}  "
              f"p95 {1e3 * pct(lat, .95):.0f}  p99 {1e3 * pct(lat, .99):.0f}  "
              f"max {1e3 * max(lat or [float('nan')]):.0f}")
    errors = [c.error for c in clients if c.error]
    if errors:
        print("client errors:", errors)
    first = [m for t, m in rss if t <= 5]
    last_half = [(t, m) for t, m in rss if t >= elapsed / 2]
    slope = 0.0
    if len(last_half) >= 3:
        ts, ms = zip(*last_half)
        mt, mm = statistics.fmean(ts), statistics.fmean(ms)
        slope = sum((t - mt) * (m - mm) for t, m in last_half) / \
            max(1e-9, sum((t - mt) ** 2 for t in ts)) * 60
    print(f"server RSS MB      start {first[0] if first else float('nan'):.1f}  "
          f"max {max(m for _, m in rss):.1f}  end {rss[-1][1]:.1f}  "
          f"second-half slope {slope:+.2f} MB/min")
    print("RSS series (s, MB): " + ", ".join(f"{t:.0f}:{m:.1f}" for t, m in rss[:: max(1, len(rss) // 12)]))
    for url, (sec, size) in timings.items():
        print(f"GET {url:<40} {1e3 * sec:7.1f} ms  ({size / 1e3:.0f} kB)")
    print(f"store {db} ({db.stat().st_size / 1e6:.1f} MB{'' if args.keep else ', deleted'})")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
