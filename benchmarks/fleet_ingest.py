"""Sustained ingest rate into PostgreSQL (`imuad fleet ingest`), one and two ingest processes.

Throw-away Mosquitto and PostgreSQL (tests/fleet/services.py). Publisher processes send C9 MQTT
event messages (QoS 1, 50 gateways x 20 devices, round robin) as fast as the broker takes them
into the broker (by default a backlog queued for the ingests' sessions, then drained; --live:
while the ingest runs); the rate is the rows committed to PostgreSQL divided by the span of their
`ingested_at` (first to last commit). Everything shares this machine's cores (publishers,
broker, ingest, PostgreSQL), as a gateway host and the central server would not.

    .venv/bin/python benchmarks/fleet_ingest.py [--events 200000] [--publishers 2]
Bar (issue 19): >= 5,000 events/s with one ingest process. Also printed: the latency from a
gateway's SQLite commit to the PostgreSQL commit (the whole way to a browser's live stream, and
the dashboard's page times on 10 M events: benchmarks/fleet_dashboard.py).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "host"))
sys.path.insert(0, str(REPO / "tests" / "fleet"))
from services import Broker, Postgres  # noqa: E402

from imuad import procs  # noqa: E402
from imuad.contracts import mqtt as c9  # noqa: E402

GATEWAYS, DEVICES = 50, 20


def publish(port: int, part: int, parts: int, events: int) -> None:
    import paho.mqtt.client as mqtt
    cl = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{part}",
                     protocol=mqtt.MQTTv5)
    cl.max_inflight_messages_set(1000)
    cl.max_queued_messages_set(0)
    cl.connect("127.0.0.1", port)
    cl.loop_start()
    last = None
    for i in range(part, events, parts):
        gw, dev, seq = i % GATEWAYS, (i // GATEWAYS) % DEVICES, i // (GATEWAYS * DEVICES) + 1
        g, d = f"g{gw:02d}", f"F0:00:00:00:00:{dev:02X}"
        row = dict(device_id=d, seq=seq, kind=1, state=1, score=i % 1000, uptime_ms=seq * 100,
                   model_id="00c0ffee", flags=0, received_at=time.time())
        last = cl.publish(c9.events_topic(g, d), c9.encode_event(g, row), qos=1)
        while len(cl._out_messages) > 5000:  # keep memory bounded: the broker sets the pace
            time.sleep(0.001)
    if last is not None:
        last.wait_for_publish(120)
    cl.loop_stop()
    cl.disconnect()


def run(events: int, ingests: int, publishers: int, pg: Postgres, folder: Path,
        preload: bool) -> dict:
    broker = Broker(folder / f"mq{ingests}")
    url = pg.new_database()
    children: list[subprocess.Popen] = []
    try:
        def start_ingests() -> None:
            for n in range(ingests):
                p = procs.spawn([sys.executable, "-m", "imuad.cli", "fleet", "ingest",
                                 "--broker", broker.url, "--db", url, "--name", f"bench{n}",
                                 "--batch", "5000", "--exit-idle", "5"],
                                stdout=subprocess.PIPE, text=True)
                assert "INGEST READY" in p.stdout.readline()
                children.append(p)

        if preload:  # sessions first, then a backlog waiting in the broker for the ingests
            start_ingests()
            for p in children:
                procs.stop(p, 30)
            children.clear()
        else:
            start_ingests()
        t0 = time.monotonic()
        pubs = [mp.Process(target=publish, args=(broker.port, i, publishers, events))
                for i in range(publishers)]
        for p in pubs:
            p.start()
        for p in pubs:
            p.join()
        t_pub = time.monotonic() - t0
        if preload:
            start_ingests()
        for p in children:
            p.wait(600)
        import psycopg
        with psycopg.connect(url) as c:
            n, first, last = c.execute(
                "SELECT COUNT(*), MIN(ingested_at), MAX(ingested_at) FROM events").fetchone()
        return {"ingests": ingests, "events": n, "span_s": last - first,
                "rate": n / (last - first), "publish_rate": events / t_pub}
    finally:
        for p in children:
            procs.stop(p)
        broker.stop()


def latency(pg: Postgres, folder: Path, gateways: int = 10, rate: float = 50.0) -> dict:
    """Gateway store commit -> PostgreSQL commit, live: simulated gateways (the real SQLite outbox)
    at `rate` events/s each, one ingest with its default 0.2 s flush."""
    broker = Broker(folder / "mq-latency")
    url = pg.new_database()
    ing = procs.spawn([sys.executable, "-m", "imuad.cli", "fleet", "ingest", "--broker",
                       broker.url, "--db", url, "--name", "lat", "--exit-idle", "3"],
                      stdout=subprocess.PIPE, text=True)
    try:
        assert "INGEST READY" in ing.stdout.readline()
        gws = ",".join(f"g{i:02d}" for i in range(gateways))
        subprocess.run([sys.executable, "-m", "imuad.cli", "fleet", "simgw", "--broker",
                        broker.url, "--dir", str(folder / "lat-gw"), "--gateways", gws,
                        "--devices", "5", "--events", "100", "--rate", str(rate)],
                       check=True, stdout=subprocess.DEVNULL)
        ing.wait(120)
        import psycopg
        with psycopg.connect(url) as c:
            n, p50, p95 = c.execute(
                "SELECT COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY ingested_at - "
                "received_at), percentile_cont(0.95) WITHIN GROUP (ORDER BY ingested_at - "
                "received_at) FROM events").fetchone()
        return {"events": n, "rate": gateways * rate, "p50_ms": p50 * 1000, "p95_ms": p95 * 1000}
    finally:
        procs.stop(ing)
        broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--live", action="store_true",
                    help="publish while the ingest runs (the publishers then share the cores "
                         "and set the pace); default: drain a backlog queued in the broker")
    args = ap.parse_args()
    import tempfile
    folder = Path(tempfile.mkdtemp(prefix="imuad-bench-fleet-"))
    pg = Postgres()
    try:
        for ingests in (1, 2):
            r = run(args.events, ingests, args.publishers, pg, folder, not args.live)
            assert r["events"] == args.events, r
            print(f"fleet ingest, {ingests} process(es): {r['events']} events in "
                  f"{r['span_s']:.1f} s = {r['rate']:,.0f} events/s into PostgreSQL "
                  f"({'live, publishers offered' if args.live else 'backlog queued at'} "
                  f"{r['publish_rate']:,.0f} events/s)", flush=True)
        r = latency(pg, folder)
        print(f"latency gateway store -> PostgreSQL (live, {r['rate']:,.0f} events/s from 10 "
              f"gateways, {r['events']} events): p50 {r['p50_ms']:.0f} ms, "
              f"p95 {r['p95_ms']:.0f} ms", flush=True)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
