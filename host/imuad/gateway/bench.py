"""Benchmark of the BLE path on the virtual radio (not a test):
events/s imuad-ble-host (NimBLE) -> gateway (Bumble backend) -> SQLite (committed + ACKed),
and LE Secure Connections passkey pairing / bonded re-encryption times.

    imuad gateway bench [--events 3000] [--pairings 5]
    python benchmarks/ble_throughput.py
"""
from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import procs
from ..net import free_ports
from ..errors import ImuadError
from .backends.bumble_backend import BumbleBackend
from .central import Gateway, GatewayOptions
from .store import Store

PASSKEY = 123456


def ensure_ble_host() -> Path:
    """imuad-ble-host of the build table's nimble-linux target (built incrementally)."""
    from ..build import artefact
    return artefact("nimble-linux")




def _start(argv: list[str], ready: str, stdin: bool = False) -> subprocess.Popen:
    p = procs.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                    stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    assert p.stdout is not None
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith(ready):
            return p
    procs.stop(p)
    raise ImuadError(f"{argv[0]} did not print {ready!r}")


async def _session(port: int, db: Path, keystore: Path, passkey: int | None,
                   until: int | None, marks: dict) -> Gateway:
    def report(what: str, info: dict) -> None:
        now = time.perf_counter()
        marks.setdefault(what, []).append((now, info))

    store = Store(db)
    gw = Gateway(BumbleBackend(f"tcp-client:127.0.0.1:{port}", keystore=str(keystore)), store,
                 GatewayOptions(passkey=passkey, max_sessions=1, stop_after_events=until),
                 report=report)
    try:
        await gw.run()
    finally:
        store.close()
    return gw


def run_bench(events: int = 3000, pairings: int = 5) -> dict:
    exe = ensure_ble_host()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="imuad-ble-bench-") as tmp_s:
        tmp = Path(tmp_s)
        fw_port, gw_port = free_ports(2)
        radio = _start([sys.executable, "-m", "imuad.gateway.vlink", "--port", str(fw_port),
                        "--port", str(gw_port)], "VLINK READY")
        fw = None
        try:
            # -- throughput: the whole stream, each batch committed (synchronous=FULL) then ACKed
            fw = _start([str(exe), "--hci-port", str(fw_port), "--passkey", str(PASSKEY),
                         "--events", f"scripted:{events}"], "ADVERTISING")
            marks: dict = {}
            gw = asyncio.run(_session(gw_port, tmp / "bench.db", tmp / "keys.json", PASSKEY,
                                      events, marks))
            t0 = marks["subscribed"][0][0]
            t1 = marks["acked"][-1][0]
            c = gw.counters
            if c.stored != events:
                raise ImuadError(f"bench: stored {c.stored} of {events} events")
            results["events"] = events
            results["events_per_s"] = events / (t1 - t0)
            results["acks"] = c.acks
            results["first_pairing_s"] = marks["secured"][0][1]["seconds"]
            procs.stop(fw)

            # -- pairing: fresh key store each time (passkey entry, SC P-256 on both sides)
            fw = _start([str(exe), "--hci-port", str(fw_port), "--passkey", str(PASSKEY),
                         "--events", "stdin"], "ADVERTISING", stdin=True)
            pair_s, bonded_s = [], []
            for i in range(pairings):
                m: dict = {}
                asyncio.run(_session(gw_port, tmp / "p.db", tmp / f"k{i}.json", PASSKEY, 0, m))
                pair_s.append(m["secured"][0][1]["seconds"])
                m = {}
                asyncio.run(_session(gw_port, tmp / "p.db", tmp / f"k{i}.json", None, 0, m))
                assert m["secured"][0][1]["bonded"]
                bonded_s.append(m["secured"][0][1]["seconds"])
            results["pairing_s_median"] = statistics.median(pair_s)
            results["pairing_s_max"] = max(pair_s)
            results["bonded_encrypt_s_median"] = statistics.median(bonded_s)
        finally:
            for p in (fw, radio):
                if p is not None:
                    procs.stop(p)
    print("BLE virtual link, imuad-ble-host (NimBLE) -> gateway (Bumble) -> SQLite (WAL, FULL):")
    print(f"  throughput: {results['events_per_s']:.0f} events/s over {events} events "
          f"({results['acks']} ACK writes, every event committed before its ACK)")
    print(f"  LE SC passkey pairing: median {results['pairing_s_median'] * 1000:.0f} ms, "
          f"max {results['pairing_s_max'] * 1000:.0f} ms over {pairings} pairings")
    print(f"  bonded reconnect (encryption with stored LTK): median "
          f"{results['bonded_encrypt_s_median'] * 1000:.1f} ms")
    return results
