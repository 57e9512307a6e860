"""The dashboard on the fleet's PostgreSQL: page times on a store of 10 M events, and the
end-to-end latency from a gateway's store to a browser's live stream (not a test; prints figures).

1. Page times. A fresh PostgreSQL (tests/fleet/services.py) gets the fleet schema and
   --events events (default 10,000,000) from --gateways x --devices devices (default 50 x 20),
   about 2 % of them alerts (onset/clear pairs; all but the newest 100,000 acknowledged), then
   `VACUUM ANALYZE`. `imuad dashboard --store postgresql://...` runs as its own process; each
   page is fetched --repeat times after 3 warm-up fetches. Bar (issue 19): the alert timeline's
   newest page (`/alerts`) <= 100 ms.
2. Live latency. Broker, `imuad fleet ingest` and `imuad fleet simgw` (simulated gateways with
   the real SQLite store and MQTT outbox) as separate processes; a client follows
   `/api/stream` of the dashboard over the same PostgreSQL. Latency = arrival at the client -
   the event's `received_at` (the gateway's clock when it stored the event; one machine, one
   clock): gateway outbox -> broker -> ingest batch and commit -> NOTIFY -> dashboard -> SSE.

    .venv/bin/python benchmarks/fleet_dashboard.py                 # 10 M events (~10 min)
    .venv/bin/python benchmarks/fleet_dashboard.py --events 1000000 --skip-latency
Everything shares this machine's cores.
"""
from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(REPO / "tests" / "fleet"))
from services import Broker, Postgres  # noqa: E402

from imuad import procs  # noqa: E402
from imuad.net import free_port  # noqa: E402

TOKEN = "bench-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHUNK = 500_000


def fill(url: str, events: int, gateways: int, devices: int) -> float:
    """The fleet schema and `events` rows, as the ingest would have left them; seconds taken."""
    import psycopg

    from imuad.fleet import schema
    t0 = time.monotonic()
    with psycopg.connect(url, autocommit=True) as c:
        schema.migrate(c)
        c.execute("SET synchronous_commit = off")
        n_dev = gateways * devices
        c.execute(
            "INSERT INTO devices (gateway_id, device_id, name, model_id, fw_version, last_seen, "
            "state, threshold, uptime_ms, battery, source) SELECT "
            "'g' || lpad((d %% %s)::text, 2, '0'), 'dev' || lpad((d / %s)::text, 2, '0'), "
            "'Machine ' || d, '9f3a61c2', '1.2.0', extract(epoch from now()), 0, 120, "
            "3600000, 0.8, 'ble' FROM generate_series(0, %s) d", (gateways, gateways, n_dev - 1))
        t_end = time.time()
        dt = 0.01  # s between events: 10 M events span ~28 h
        acked_below = events - 100_000
        with tqdm(total=events, unit="ev", unit_scale=True, desc="filling") as bar:
            for lo in range(0, events, CHUNK):
                hi = min(events, lo + CHUNK) - 1
                c.execute(
                    "INSERT INTO events (gateway_id, device_id, seq, kind, state, score, uptime_ms, "
                    "model_id, flags, received_at, ingested_at, acked) SELECT "
                    "'g' || lpad(((i %% %(nd)s) %% %(g)s)::text, 2, '0'), "
                    "'dev' || lpad(((i %% %(nd)s) / %(g)s)::text, 2, '0'), i / %(nd)s + 1, "
                    "CASE (i / %(nd)s) %% 100 WHEN 0 THEN 1 WHEN 1 THEN 2 ELSE 3 END, "
                    "CASE (i / %(nd)s) %% 100 WHEN 0 THEN 1 ELSE 0 END, "
                    "40 + (i * 7919) %% 60, (i / %(nd)s) * 1000, '9f3a61c2', 0, "
                    "%(t0)s + i * %(dt)s, %(t0)s + i * %(dt)s + 0.15, "
                    "CASE WHEN (i / %(nd)s) %% 100 = 0 AND i < %(acked)s THEN 1 ELSE 0 END "
                    "FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) i",
                    {"nd": n_dev, "g": gateways, "t0": t_end - events * dt, "dt": dt,
                     "acked": acked_below, "lo": lo, "hi": hi})
                bar.update(hi - lo + 1)
        c.execute("VACUUM ANALYZE events")
        c.execute("VACUUM ANALYZE devices")
    return time.monotonic() - t0


def start_dashboard(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = procs.spawn([sys.executable, "-m", "imuad.cli", "dashboard", "--store", url,
                        "--token", TOKEN, "--port", str(port)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"dashboard did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)


def page_times(base: str, repeat: int) -> list[tuple[str, str, float, float, int]]:
    pages = [
        ("alert timeline, newest page (HTML)", "/alerts"),
        ("alert timeline, one device (HTML)", "/alerts?device=g07/dev03"),
        ("alert timeline, unacknowledged onsets (HTML)", "/alerts?kind=onset&acked=false"),
        ("events API, newest 50 of every kind", "/api/events?limit=50"),
        ("devices overview (HTML, open alerts per device)", "/"),
        ("devices API with 60-point sparklines", "/api/devices?spark=60"),
        ("device page (HTML)", "/devices/g07%2Fdev03"),
        ("device live chart backfill, 2000 points", "/api/devices/g07%2Fdev03/series?limit=2000"),
    ]
    out = []
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
        for name, path in pages:
            for _ in range(3):
                r = http.get(path)
                r.raise_for_status()
            ts = []
            for _ in range(repeat):
                t = time.perf_counter()
                r = http.get(path)
                ts.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            ts.sort()
            out.append((name, path, statistics.median(ts), ts[int(0.95 * (len(ts) - 1))],
                        len(r.content)))
    return out


def live_latency(pg: Postgres, folder: Path, gateways: int, devices: int, rate: float,
                 events: int) -> dict:
    url = pg.new_database()
    broker = Broker(folder / "mq")
    children: list[subprocess.Popen] = []
    try:
        ing = procs.spawn([sys.executable, "-m", "imuad.cli", "fleet", "ingest", "--broker",
                           broker.url, "--db", url, "--name", "lat"],
                          stdout=subprocess.PIPE, text=True)
        children.append(ing)
        assert "INGEST READY" in (ing.stdout.readline() if ing.stdout else "")
        dash, base = start_dashboard(url)
        children.append(dash)
        lat: list[float] = []
        total = gateways * devices * events
        ready = threading.Event()

        def follow() -> None:
            with httpx.stream("GET", base + "/api/stream", headers=AUTH, timeout=120) as r:
                ready.set()
                kind = None
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == "event":
                        ev = json.loads(line[6:])
                        lat.append(time.time() - ev["received_at"])
                        if len(lat) >= total:
                            return

        t = threading.Thread(target=follow, daemon=True)
        t.start()
        ready.wait(30)
        gws = ",".join(f"g{i:02d}" for i in range(gateways))
        subprocess.run([sys.executable, "-m", "imuad.cli", "fleet", "simgw", "--broker",
                        broker.url, "--dir", str(folder / "gw"), "--gateways", gws,
                        "--devices", str(devices), "--events", str(events), "--rate", str(rate)],
                       check=True, stdout=subprocess.DEVNULL)
        t.join(60)
        lat.sort()
        return {"events": len(lat), "expected": total, "rate": gateways * rate,
                "p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
                "max_ms": 1000 * lat[-1]}
    finally:
        for p in children:
            procs.stop(p, 10)
        broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--gateways", type=int, default=50)
    ap.add_argument("--devices", type=int, default=20, help="per gateway")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--skip-pages", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--live-gateways", type=int, default=10)
    ap.add_argument("--live-rate", type=float, default=50.0, help="events/s per gateway")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="imuad-bench-fleetdash-"))
    pg = Postgres()
    try:
        if not args.skip_pages:
            url = pg.new_database()
            took = fill(url, args.events, args.gateways, args.devices)
            print(f"store: {args.events:,} events, {args.gateways * args.devices} devices of "
                  f"{args.gateways} gateways, filled in {took:.0f} s", flush=True)
            dash, base = start_dashboard(url)
            try:
                rows = page_times(base, args.repeat)
                t = time.perf_counter()  # keyset batches: cost per row flat however far in
                with httpx.stream("GET", base + "/api/events.csv?kind=alerts", headers=AUTH,
                                  timeout=600) as r:
                    n_csv = sum(chunk.count(b"\n") for chunk in r.iter_bytes()) - 1
                t_csv = time.perf_counter() - t
            finally:
                procs.stop(dash, 10)
            print(f"\n| page ({args.events:,} events) | path | p50 ms | p95 ms | bytes |")
            print("|---|---|---|---|---|")
            for name, path, p50, p95, size in rows:
                print(f"| {name} | `{path}` | {p50:.1f} | {p95:.1f} | {size:,} |")
            print(f"\nCSV export of every alert: {n_csv:,} rows in {t_csv:.1f} s "
                  f"({n_csv / t_csv:,.0f} rows/s)", flush=True)
        if not args.skip_latency:
            r = live_latency(pg, folder, args.live_gateways, 5, args.live_rate, 200)
            print(f"live latency gateway store -> dashboard SSE ({r['rate']:,.0f} events/s from "
                  f"{args.live_gateways} gateways, {r['events']}/{r['expected']} events "
                  f"received): p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
                  f"max {r['max_ms']:.0f} ms", flush=True)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
