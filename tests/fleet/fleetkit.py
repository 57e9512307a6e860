"""Helpers of the fleet tests: what the gateways stored vs what PostgreSQL holds."""
from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def stored_keys(folder: Path) -> set[tuple[str, str, int]]:
    """(gateway, device, seq) of every event committed in the gateways' SQLite stores."""
    out: set[tuple[str, str, int]] = set()
    for db in sorted(folder.glob("*.db")):
        c = sqlite3.connect(db)
        out |= {(db.stem, d, s) for d, s in c.execute("SELECT device_id, seq FROM events")}
        c.close()
    return out


def pg_rows(url: str) -> list[tuple[str, str, int]]:
    import psycopg
    with psycopg.connect(url) as c:
        return [tuple(r) for r in c.execute("SELECT gateway_id, device_id, seq FROM events")]


def pg_count(url: str) -> int:
    import psycopg
    with psycopg.connect(url) as c:
        if not c.execute("SELECT to_regclass('events') IS NOT NULL").fetchone()[0]:
            return 0
        return c.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def wait_for(cond: Callable[[], bool], timeout: float, what: str, logs: list | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            detail = ""
            for p in logs or []:
                detail += f"\n--- {p.log_path}:\n" + Path(p.log_path).read_text()[-1500:]
            raise AssertionError(f"timed out waiting for {what}{detail}")
        time.sleep(0.1)


def wait_line(proc: subprocess.Popen, text: str, timeout: float) -> None:
    wait_for(lambda: text in Path(proc.log_path).read_text(), timeout, f"'{text}'", [proc])


def ingest_argv(broker: str, db: str, name: str, *extra: str) -> list[str]:
    return ["fleet", "ingest", "--broker", broker, "--db", db, "--name", name, *extra]


def simgw_argv(broker: str, folder: Path, gateways: list[str], devices: int, events: int,
               *extra: str) -> list[str]:
    return ["fleet", "simgw", "--broker", broker, "--dir", str(folder), "--gateways",
            ",".join(gateways), "--devices", str(devices), "--events", str(events), *extra]
