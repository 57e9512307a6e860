"""Test-side writer of a C9 store, standing in for the gateway.

Uses `imuad.gateway.store.Store` (the schema's owner) when it is importable; otherwise it
executes the C9 DDL quoted in docs/contracts.md, so tests never carry their own copy.
`conn` is a plain connection for assertions on what the dashboard wrote.
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from imuad.paths import REPO_ROOT

TOKEN = "test-token-0123456789"

try:
    from imuad.gateway.store import Store
except ImportError:  # gateway area not installed: fall back to the contract's DDL
    Store = None  # type: ignore[assignment,misc]


def c9_ddl() -> str:
    text = (REPO_ROOT / "docs" / "contracts.md").read_text()
    section = text[text.index("## C9"):]
    match = re.search(r"```sql\n(.*?)```", section, re.S)
    assert match, "docs/contracts.md: no sql block in section C9"
    return match.group(1)


class FakeGateway:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.store = Store(self.path, synchronous="NORMAL") if Store is not None else None
        self.conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        if self.store is None:
            self.conn.execute("PRAGMA journal_mode=WAL")
            if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name='events'").fetchone():
                self.conn.executescript(c9_ddl())
            self.conn.commit()

    def upsert_device(self, device_id: str, **fields: Any) -> None:
        if self.store is not None:
            self.store.upsert_device(device_id, **fields)
            return
        self.conn.execute("INSERT OR IGNORE INTO devices (device_id) VALUES (?)", (device_id,))
        for col, value in fields.items():  # column names come from the test code only
            self.conn.execute(f"UPDATE devices SET {col} = ? WHERE device_id = ?", (value, device_id))
        self.conn.commit()

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        now = time.time()
        full = [dict(r, state=r.get("state", 1 if r["kind"] == 1 else 0),
                     received_at=r.get("received_at", now), flags=r.get("flags", 0))
                for r in rows]
        if self.store is not None:
            by_dev: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in full:
                by_dev[r["device_id"]].append(r)
            for dev, evs in by_dev.items():
                self.store.insert_events(dev, evs)
            return
        self.conn.executemany(
            "INSERT OR IGNORE INTO events (device_id, seq, kind, state, score, uptime_ms, model_id,"
            " flags, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [(r["device_id"], r["seq"], r["kind"], r["state"], r["score"], r.get("uptime_ms"),
              r.get("model_id"), r["flags"], r["received_at"]) for r in full])
        self.conn.commit()

    def add_run(self, run_id: str, kind: str, target: str, model: str, recording: str,
                report: dict[str, Any], started_at: float | None = None) -> None:
        if self.store is not None:
            self.store.add_run(run_id, kind, target, model, recording, started_at, report)
            return
        self.conn.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?)",
                          (run_id, kind, target, model, recording, started_at or time.time(),
                           json.dumps(report)))
        self.conn.commit()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        self.conn.close()
