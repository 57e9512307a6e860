"""Test-side writers of the two stores the dashboard reads.

`FakeGateway` stands in for the gateway: it writes through `imuad.gateway.store.Store`, the
schema's owner (its SCHEMA is the one C9 DDL), so tests never carry their own copy.
`FakeFleet` stands in for `imuad fleet ingest`: the fleet schema from `imuad.fleet.schema`,
rows as the ingest writes them, all devices under one gateway id. Both take plain device ids;
`key(dev)` is how the dashboard names that device, and `ack_of` / `command_payload` read back
what the dashboard wrote.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from imuad.gateway.store import Store

TOKEN = "test-token-0123456789"


class FakeGateway:
    has_runs = True

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

    def key(self, device_id: str) -> str:
        return device_id

    def ack_of(self, device_id: str, seq: int) -> tuple[int, str | None]:
        return tuple(self.conn.execute("SELECT acked, ack_note FROM events WHERE device_id = ? "
                                       "AND seq = ?", (device_id, seq)).fetchone())

    def command_payload(self, device_id: str, kind: str) -> Any:
        row = self.conn.execute("SELECT payload_json FROM commands WHERE device_id = ? AND "
                                "kind = ? ORDER BY id DESC", (device_id, kind)).fetchone()
        return None if row is None else json.loads(row[0])

    def close(self) -> None:
        self.store.close()
        self.conn.close()


class FakeFleet:
    """The fleet store in PostgreSQL, filled as `imuad fleet ingest` fills it."""

    has_runs = False  # runs stay on the machine that made them

    def __init__(self, url: str, gateway: str = "hall-a") -> None:
        import psycopg

        from imuad.fleet import schema
        self.path = url  # what the dashboard's --store takes
        self.gateway = gateway
        self.conn = psycopg.connect(url, autocommit=True)
        schema.migrate(self.conn)

    def key(self, device_id: str) -> str:
        return f"{self.gateway}/{device_id}"

    def upsert_device(self, device_id: str, **fields: Any) -> None:
        cols = ["gateway_id", "device_id", *fields]
        self.conn.execute(
            f"INSERT INTO devices ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
            "ON CONFLICT (gateway_id, device_id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in fields),
            [self.gateway, device_id, *fields.values()])

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        now = time.time()
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (gateway_id, device_id, seq, kind, state, score, uptime_ms, "
                "model_id, flags, received_at, ingested_at) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(self.gateway, r["device_id"], r["seq"], r["kind"],
                  r.get("state", 1 if r["kind"] == 1 else 0), r["score"], r.get("uptime_ms"),
                  r.get("model_id"), r.get("flags", 0), r.get("received_at", now), now)
                 for r in rows])

    def add_run(self, *args: Any, **kw: Any) -> None:
        pass  # the fleet store has no runs table

    def ack_of(self, device_id: str, seq: int) -> tuple[int, str | None]:
        return tuple(self.conn.execute(
            "SELECT acked, ack_note FROM events WHERE gateway_id = %s AND device_id = %s "
            "AND seq = %s", (self.gateway, device_id, seq)).fetchone())

    def command_payload(self, device_id: str, kind: str) -> Any:
        row = self.conn.execute(
            "SELECT payload_json FROM commands WHERE gateway_id = %s AND device_id = %s AND "
            "kind = %s ORDER BY id DESC", (self.gateway, device_id, kind)).fetchone()
        return None if row is None else json.loads(row[0])

    def close(self) -> None:
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
