"""Read layer over the gateway store (contract C9), plus the two writes the dashboard makes.

The gateway (`imuad.gateway.store`) owns the schema and the one way to open a store: this
module never creates or migrates tables. The reader checks the file up front
(`inspect_file`, `verify`: integrity and C9 tables) and reads through read-only
connections (`connect_readonly`), so a bug here cannot write; the two writes (acknowledge,
queue a command) go through `Store`. All SQL is parameterised: the only text ever joined
is constant WHERE fragments chosen from a fixed list. Values come back with the types
their C9 column declares (a damaged row cannot put text where a time is expected).
"""
from __future__ import annotations

import json
import math
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..contracts.calibration import CALIBRATED, DRIFT, DRIFT_CLEAR, EVENT_NAMES
from ..errors import ImuadError
from ..gateway.store import Store, connect_readonly, inspect_file, schema_columns, verify

EVENT_KINDS = dict(EVENT_NAMES)  # C8 kinds 1..6: onset, clear, heartbeat, drift, drift cleared, calibrated
# names in queries: "drift cleared", drift_cleared and drift-cleared alike
KIND_BY_NAME = {alias: k for k, v in EVENT_KINDS.items()
                for alias in {v, v.replace(" ", "_"), v.replace(" ", "-")}}
ALERT_KINDS = (1, 2, DRIFT, DRIFT_CLEAR, CALIBRATED)  # the timeline: everything but heartbeats
# a device drifts while its newest drift-related event is a DRIFT: a DRIFT_CLEAR or a new
# calibration (which restarts the drift watch from its own median) ends it
_DRIFTING = (f"(SELECT e.kind FROM events e WHERE e.device_id = d.device_id AND e.kind IN "
             f"({DRIFT}, {DRIFT_CLEAR}, {CALIBRATED}) ORDER BY e.seq DESC LIMIT 1) = {DRIFT}")
STATES = {0: "normal", 1: "anomaly"}
EVENT_COLUMNS = ("device_id", "seq", "kind", "state", "score", "uptime_ms", "model_id",
                 "flags", "received_at", "acked", "ack_note", "ack_at")
DEVICE_COLUMNS = ("device_id", "name", "model_id", "fw_version", "last_seen", "state",
                  "threshold", "uptime_ms", "battery", "source")
RUN_COLUMNS = ("run_id", "kind", "target", "model", "recording", "started_at", "report_json")


@dataclass(frozen=True)
class EventFilter:
    """Filters of the alert timeline; None means 'any'."""

    device_id: str | None = None
    kinds: tuple[int, ...] | None = None
    acked: bool | None = None
    since: float | None = None
    until: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.device_id is not None:
            clauses.append("device_id = ?")
            params.append(self.device_id)
        if self.kinds:
            clauses.append("kind IN (%s)" % ",".join("?" * len(self.kinds)))
            params.extend(self.kinds)
        if self.acked is not None:
            clauses.append("acked = ?" if self.acked else "(acked = ? OR acked IS NULL)")
            params.append(1 if self.acked else 0)
        if self.since is not None:
            clauses.append("received_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("received_at <= ?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _as_int(v: Any) -> int | None:
    if type(v) is int or v is None:  # the common case first: this runs per cell
        return v
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    return None


def _as_float(v: Any) -> float | None:
    if type(v) is float:
        return v if math.isfinite(v) else None
    if type(v) is int or v is None:
        return v
    return None


def _as_text(v: Any) -> str | None:
    if type(v) is str or v is None:
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


_CONVERT: dict[str, Callable[[Any], Any]] = {"INTEGER": _as_int, "REAL": _as_float,
                                            "TEXT": _as_text}


def _typed(table: str) -> dict[str, Callable[[Any], Any]]:
    return {c: _CONVERT.get(t, _as_text) for c, t in schema_columns()[table].items()}


_EVENT_TYPES = _typed("events")
_DEVICE_TYPES = _typed("devices")
_RUN_TYPES = _typed("runs")
_COMMAND_TYPES = _typed("commands")


def _row(row: sqlite3.Row, types: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    return {k: types[k](row[k]) if k in types else row[k] for k in row.keys()}


_EVENT_CONVERT = [(k, _EVENT_TYPES[k]) for k in EVENT_COLUMNS]


def _event_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = {k: conv(row[k]) for k, conv in _EVENT_CONVERT}
    d["kind_name"] = EVENT_KINDS.get(d["kind"], str(d["kind"]))
    d["kind_class"] = d["kind_name"].replace(" ", "-")  # one CSS class ("drift cleared")
    d["acked"] = bool(d["acked"])
    if d["received_at"] is None:
        d["received_at"] = 0.0  # NOT NULL in C9: only a damaged row lacks it
    if "rowid" in row.keys():
        d["id"] = row["rowid"]
    return d


class StoreReader:
    """Thread-safe read access: one read-only connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        inspect_file(self.path)
        probe = connect_readonly(self.path, snapshot=True)  # a refusal leaves no -wal/-shm
        try:
            verify(probe, self.path)
        finally:
            probe.close()
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect_readonly(self.path)
        return conn

    def _all(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        conn = self._conn()
        # an explicit read transaction gives a consistent snapshot and releases the WAL at once
        with _read_tx(conn):
            return conn.execute(sql, params).fetchall()

    # ---- devices -------------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT d.*, "
            " (SELECT COUNT(*) FROM events e WHERE e.device_id = d.device_id AND e.kind = 1"
            "   AND (e.acked = 0 OR e.acked IS NULL)) AS open_alerts,"
            " (SELECT e.score FROM events e WHERE e.device_id = d.device_id"
            "   ORDER BY e.seq DESC LIMIT 1) AS last_score, "
            f"{_DRIFTING} AS drifting "
            "FROM devices d ORDER BY d.device_id")
        out = []
        for r in rows:
            d = _row(r, _DEVICE_TYPES)
            d["open_alerts"], d["last_score"] = _as_int(r["open_alerts"]), _as_int(r["last_score"])
            d["drifting"] = bool(r["drifting"])
            out.append(d)
        return out

    def sparks(self, device_ids: list[str], n: int) -> dict[str, list[int]]:
        """The last `n` scores of each device, oldest first (seq order uses the primary key)."""
        out: dict[str, list[int]] = {}
        conn = self._conn()
        with _read_tx(conn):
            for dev in device_ids:
                rows = conn.execute("SELECT score FROM events WHERE device_id = ? "
                                    "ORDER BY seq DESC LIMIT ?", (dev, n)).fetchall()
                out[dev] = [_as_int(r[0]) for r in reversed(rows)]
        return out

    def device(self, device_id: str) -> dict[str, Any] | None:
        rows = self._all(f"SELECT d.*, {_DRIFTING} AS drifting FROM devices d "
                         "WHERE d.device_id = ?", (device_id,))
        if not rows:
            return None
        d = _row(rows[0], _DEVICE_TYPES)
        d["drifting"] = bool(d["drifting"])
        return d

    # ---- events --------------------------------------------------------------------------
    def events(self, flt: EventFilter, limit: int = 500, offset: int = 0,
               newest_first: bool = True) -> list[dict[str, Any]]:
        where, params = flt.where()
        order = "DESC" if newest_first else "ASC"
        rows = self._all(
            f"SELECT rowid, * FROM events{where} ORDER BY received_at {order}, seq {order} "
            f"LIMIT ? OFFSET ?", [*params, limit, offset])
        return [_event_dict(r) for r in rows]

    def iter_events(self, flt: EventFilter, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every matching event, oldest first, in batches (CSV export of any size)."""
        offset = 0
        while True:
            chunk = self.events(flt, limit=batch, offset=offset, newest_first=False)
            yield from chunk
            if len(chunk) < batch:
                return
            offset += batch

    def count_events(self, flt: EventFilter) -> int:
        where, params = flt.where()
        return int(self._all(f"SELECT COUNT(*) FROM events{where}", params)[0][0])

    def event(self, device_id: str, seq: int) -> dict[str, Any] | None:
        rows = self._all("SELECT rowid, * FROM events WHERE device_id = ? AND seq = ?",
                         (device_id, seq))
        return _event_dict(rows[0]) if rows else None

    def series(self, device_id: str, since: float | None = None,
               limit: int = 2000) -> list[dict[str, Any]]:
        """The newest `limit` events of one device, oldest first (live chart backfill)."""
        rows = self._all(
            "SELECT * FROM (SELECT rowid, * FROM events WHERE device_id = ? "
            "AND received_at >= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (device_id, since if since is not None else 0.0, limit))
        return [_event_dict(r) for r in rows]

    def max_event_id(self) -> int:
        return int(self._all("SELECT COALESCE(MAX(rowid), 0) FROM events")[0][0])

    def events_after(self, rowid: int, limit: int = 5000) -> list[dict[str, Any]]:
        """Events inserted after `rowid` (the live stream's cursor), in insertion order."""
        rows = self._all("SELECT rowid, * FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
                         (rowid, limit))
        return [_event_dict(r) for r in rows]

    def devices_version(self) -> tuple[Any, ...]:
        """Cheap fingerprint that changes when a device row is added or updated."""
        row = self._all("SELECT COUNT(*), MAX(last_seen), TOTAL(state), TOTAL(threshold), "
                        "TOTAL(battery), TOTAL(uptime_ms) FROM devices")[0]
        return tuple(row)

    # ---- runs ----------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM runs ORDER BY started_at DESC, run_id")
        return [_run_dict(r) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run_dict(rows[0]) if rows else None

    def pending_commands(self, device_id: str | None = None) -> list[dict[str, Any]]:
        if device_id is None:
            rows = self._all("SELECT * FROM commands WHERE sent_at IS NULL ORDER BY id")
        else:
            rows = self._all("SELECT * FROM commands WHERE sent_at IS NULL AND device_id = ? "
                             "ORDER BY id", (device_id,))
        return [_row(r, _COMMAND_TYPES) for r in rows]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _read_tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = {k: _RUN_TYPES[k](row[k]) for k in RUN_COLUMNS}
    d["report"] = parse_report(d.get("report_json"))
    d["device_id"] = f"{d['kind']}:{d['run_id']}" if d.get("kind") else d["run_id"]
    return d


def parse_report(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return {"unparsed_report": str(text)[:2000]}


def load_run_files(folder: str | Path) -> list[dict[str, Any]]:
    """Run reports saved as JSON files (`--runs DIR`), shown beside the store's runs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImuadError(f"--runs {folder}: not a directory")
    runs = []
    for path in sorted(folder.glob("*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            runs.append({"run_id": path.stem, "kind": "file", "target": None, "model": None,
                         "recording": None, "started_at": path.stat().st_mtime,
                         "report": {"error": f"{path.name}: {exc}"}, "device_id": None,
                         "report_json": None, "file": str(path)})
            continue
        meta = report if isinstance(report, dict) else {}
        run_id = str(meta.get("run_id") or path.stem)
        kind = meta.get("kind")
        runs.append({"run_id": run_id, "kind": kind, "target": meta.get("target"),
                     "model": meta.get("model"), "recording": meta.get("recording"),
                     "started_at": meta.get("started_at") or path.stat().st_mtime,
                     "report": report, "report_json": None, "file": str(path),
                     "device_id": f"{kind}:{run_id}" if kind else None})
    return runs


class StoreWriter:
    """The dashboard's only writes: acknowledge an event, queue a command for the gateway.

    Both go through the gateway's `Store`, the schema's owner (one instance per thread,
    as sqlite3 connections are per thread).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.path)
        return store

    def ack_event(self, device_id: str, seq: int, note: str) -> bool:
        return bool(self._store().ack_event(device_id, seq, note))

    def queue_command(self, device_id: str, kind: str, payload: dict[str, Any]) -> int:
        return int(self._store().queue_command(device_id, kind, payload))

    def close(self) -> None:
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()
            self._local.store = None
