"""Simulated gateways for fault tests and benchmarks: the real store and outbox, fake devices.

One process hosts several gateways `<prefix><i>`, each with its own SQLite store
`DIR/<gateway>.db` and its own MqttOutbox (client id imuad-gw-<gateway>), exactly as
`imuad gateway run --mqtt` runs them. Each device produces seqs 1..events; a restarted process
continues after the highest stored seq, so "stored in a gateway's SQLite" (what the device got
ACKed for) is the set the fleet must end up with in PostgreSQL exactly once.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ..gateway.mqtt import MqttOutbox
from ..gateway.store import Store


def device_ids(devices: int) -> list[str]:
    return [f"F0:00:00:00:{d // 256:02X}:{d % 256:02X}" for d in range(devices)]


def run(broker: str, folder: Path, gateways: list[str], devices: int, events: int,
        rate: float, chunk: int = 10, wait_confirmed: float | None = 60.0,
        confirm_timeout: float = 30.0, report: Any = print) -> dict[str, int]:
    """Produce `events` per device at `rate` events/s per gateway; then wait until every
    outbox is confirmed by the ingest (at most `wait_confirmed` s). Returns outbox counts."""
    folder.mkdir(parents=True, exist_ok=True)
    devs = device_ids(devices)
    stores, outboxes = {}, {}
    for gw in gateways:
        db = folder / f"{gw}.db"
        stores[gw] = Store(db)
        outboxes[gw] = MqttOutbox(broker, db, gw, confirm_timeout=confirm_timeout,
                                  require_broker=False)  # a rebooting gateway: broker may be down
    report(f"SIMGW READY {len(gateways)} gateways x {devices} devices")
    failed: list[BaseException] = []

    def produce(gw: str) -> None:
        try:
            with Store(folder / f"{gw}.db") as st:  # sqlite3: one connection per thread
                _produce(st, outboxes[gw])
        except BaseException as exc:
            failed.append(exc)

    def _produce(st: Store, ob: MqttOutbox) -> None:
        nxt = {d: (st.max_seq(d) or 0) + 1 for d in devs}
        period = chunk * len(devs) / rate if rate else 0.0
        t = time.monotonic()
        while any(n <= events for n in nxt.values()):
            for d in devs:
                if nxt[d] > events:
                    continue
                hi = min(events, nxt[d] + chunk - 1)
                now = time.time()
                st.insert_events(d, [dict(seq=s, kind=1 + (s % 3 == 0), state=s % 2,
                                          score=(s * 37) % 1000, uptime_ms=s * 100,
                                          model_id="00c0ffee", received_at=now)
                                     for s in range(nxt[d], hi + 1)])
                nxt[d] = hi + 1
            ob.notify()
            if period:
                t += period
                time.sleep(max(0.0, t - time.monotonic()))

    threads = [threading.Thread(target=produce, args=(gw,), daemon=True) for gw in gateways]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if failed:
        raise failed[0]
    report("SIMGW STORED")
    deadline = time.monotonic() + (wait_confirmed or 0)
    totals = {"unpublished": 0, "unconfirmed": 0}
    while True:
        totals = {"unpublished": 0, "unconfirmed": 0}
        for st in stores.values():
            for k, v in st.outbox_counts().items():
                totals[k] += v
        if totals["unpublished"] + totals["unconfirmed"] == 0 or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    report(f"SIMGW DONE unpublished={totals['unpublished']} unconfirmed={totals['unconfirmed']}")
    for gw in gateways:
        outboxes[gw].close(timeout=1.0)
        stores[gw].close()
    return totals
