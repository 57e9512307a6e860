"""Test-side writer of a C9 store, standing in for the gateway.

Writes through `imuad.gateway.store.Store`, the schema's owner (its SCHEMA is the one C9
DDL), so tests never carry their own copy. `conn` is a plain connection for assertions on
what the dashboard wrote.
"""
from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from imuad.gateway.store import Store

TOKEN = "test-token-0123456789"


class FakeGateway:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.store = Store(self.path, synchronous="NORMAL")
        self.conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)

    def upsert_device(self, device_id: str, **fields: Any) -> None:
        self.store.upsert_device(device_id, **fields)

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        now = time.time()
        by_dev: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_dev[r["device_id"]].append(dict(r, state=r.get("state", 1 if r["kind"] == 1 else 0),
                                               received_at=r.get("received_at", now),
                                               flags=r.get("flags", 0)))
        for dev, evs in by_dev.items():
            self.store.insert_events(dev, evs)

    def add_run(self, run_id: str, kind: str, target: str, model: str, recording: str,
                report: dict[str, Any], started_at: float | None = None) -> None:
        self.store.add_run(run_id, kind, target, model, recording, started_at, report)

    def close(self) -> None:
        self.store.close()
        self.conn.close()


def populate(gateway: FakeGateway) -> FakeGateway:
    """Two devices, a few heartbeats, one onset/clear pair on pump-1, one sim run."""
    t0 = time.time() - 100
    gateway.upsert_device("pump-1", name="Pump 1", model_id="a1b2c3d4", fw_version="1.0.0",
                          last_seen=t0 + 50, state=0, threshold=120, uptime_ms=3_600_000,
                          battery=0.82, source="ble")
    gateway.upsert_device("fan-2", name="Fan 2", model_id="a1b2c3d4", last_seen=t0 + 40,
                          state=0, threshold=100, source="ble")
    rows = [dict(device_id="pump-1", seq=i, kind=3, score=40 + i, received_at=t0 + i)
            for i in range(10)]
    rows += [dict(device_id="pump-1", seq=10, kind=1, score=150, received_at=t0 + 20),
             dict(device_id="pump-1", seq=11, kind=2, score=30, received_at=t0 + 30),
             dict(device_id="fan-2", seq=1, kind=1, score=101,
                  received_at=t0 + 25)]
    gateway.insert_events(rows)
    gateway.add_run("r1", "sim", "qemu", "cnn_small", "pump.csv",
                    {"parity": {"exact": 500, "total": 500, "max_lsb": 0},
                     "instructions_per_inference": 123456, "events": 2, "windows": 500})
    gateway.insert_events([dict(device_id="sim:r1", seq=3, kind=1, score=200,
                                received_at=t0 + 5)])
    return gateway
