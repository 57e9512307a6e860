"""The dashboard's one SQL layer, over a gateway's SQLite store or the fleet's PostgreSQL.

Every query is written once; `sources.Dialect` supplies the few fragments that differ
(placeholders, the event cursor column, the device key `<gateway>/<device>` on the fleet).
The reader never creates or migrates tables: the gateway owns the SQLite schema and the fleet
schema (`imuad.fleet.schema`) the PostgreSQL one. Reads go through read-only connections or
read-only transactions, so a bug here cannot write; the two writes (acknowledge, queue a
command) are the source's. All SQL is parameterised: the only text ever joined is constant
fragments chosen from a fixed list. Values come back with the types their C9 column declares
(a damaged row cannot put text where a time is expected).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..contracts.calibration import CALIBRATED, DRIFT, DRIFT_CLEAR, EVENT_NAMES
from ..errors import ImuadError
from ..gateway.store import schema_columns
from .sources import Dialect, PostgresSource, SqliteSource, open_source

EVENT_KINDS = dict(EVENT_NAMES)  # C8 kinds 1..6: onset, clear, heartbeat, drift, drift cleared, calibrated
# names in queries: "drift cleared", drift_cleared and drift-cleared alike
KIND_BY_NAME = {alias: k for k, v in EVENT_KINDS.items()
                for alias in {v, v.replace(" ", "_"), v.replace(" ", "-")}}
ALERT_KINDS = (1, 2, DRIFT, DRIFT_CLEAR, CALIBRATED)  # the timeline: everything but heartbeats


def _drifting(d: Dialect) -> str:
    # a device drifts while its newest drift-related event is a DRIFT: a DRIFT_CLEAR or a new
    # calibration (which restarts the drift watch from its own median) ends it
    return (f"(SELECT e.kind FROM events e WHERE {d.same_device('e', 'd')} AND e.kind IN "
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

    def where(self, dialect: Dialect) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.device_id is not None:
            sql, key_params = dialect.key_eq(self.device_id)
            clauses.append(sql)
            params.extend(key_params)
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


def _row(row: Any, types: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    return {k: types[k](row[k]) if k in types else row[k] for k in row.keys()}


_EVENT_CONVERT = [(k, _EVENT_TYPES[k]) for k in EVENT_COLUMNS]


def _event_dict(row: Any) -> dict[str, Any]:
    d = {k: conv(row[k]) for k, conv in _EVENT_CONVERT}
    d["kind_name"] = EVENT_KINDS.get(d["kind"], str(d["kind"]))
    d["kind_class"] = d["kind_name"].replace(" ", "-")  # one CSS class ("drift cleared")
    d["acked"] = bool(d["acked"])
    if d["received_at"] is None:
        d["received_at"] = 0.0  # NOT NULL in C9: only a damaged row lacks it
    if "id" in row.keys():
        d["id"] = row["id"]
    return d


COUNT_CAP = 100_000  # counting every match of a 10 M-event store costs seconds; pages say "100 000+"


class StoreReader:
    """Thread-safe reads of either store (the source holds one connection per thread or a pool)."""

    def __init__(self, store: str | Path | SqliteSource | PostgresSource) -> None:
        self.source = store if isinstance(store, (SqliteSource, PostgresSource)) \
            else open_source(store)
        self.dialect = d = self.source.dialect
        self.path = self.source.label  # for messages
        # the SELECT lists, with the device key in the column C9 calls device_id
        self._event_cols = (f"{d.cursor} AS id, {d.key()} AS device_id, seq, kind, state, score, "
                            "uptime_ms, model_id, flags, received_at, acked, ack_note, ack_at")
        self._device_cols = f"{d.key('d')} AS device_id, " + ", ".join(
            f"d.{c}" for c in DEVICE_COLUMNS[1:])

    def _all(self, sql: str, params: Any = ()) -> list[Any]:
        with self.source.snapshot() as conn:
            return conn.execute(self.dialect.sql(sql), list(params)).fetchall()

    # ---- devices -------------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        d = self.dialect
        rows = self._all(
            f"SELECT {self._device_cols}, "
            f" (SELECT COUNT(*) FROM events e WHERE {d.same_device('e', 'd')} AND e.kind = 1"
            "   AND (e.acked = 0 OR e.acked IS NULL)) AS open_alerts,"
            f" (SELECT e.score FROM events e WHERE {d.same_device('e', 'd')}"
            "   ORDER BY e.seq DESC LIMIT 1) AS last_score, "
            f"{_drifting(d)} AS drifting "
            f"FROM devices d ORDER BY {d.key('d')}")
        out = []
        for r in rows:
            dev = _row(r, _DEVICE_TYPES)
            dev["open_alerts"] = _as_int(r["open_alerts"])
            dev["last_score"] = _as_int(r["last_score"])
            dev["drifting"] = bool(r["drifting"])
            out.append(dev)
        return out

    def device_ids(self) -> list[str]:
        """Every device key, sorted (the filter menus: no per-device aggregates)."""
        key = self.dialect.key()
        return [_as_text(r["k"]) for r in self._all(f"SELECT {key} AS k FROM devices ORDER BY {key}")]

    def sparks(self, device_ids: list[str], n: int) -> dict[str, list[int]]:
        """The last `n` scores of each device, oldest first (seq order uses the primary key)."""
        groups: dict[str, list[tuple[str, list[Any]]]] = {}  # one statement per WHERE form
        for dev in device_ids:
            where, params = self.dialect.key_eq(dev)
            groups.setdefault(where, []).append((dev, [*params, n]))
        out: dict[str, list[int]] = {}
        with self.source.snapshot() as conn:
            for where, items in groups.items():
                sql = self.dialect.sql(f"SELECT score FROM events WHERE {where} ORDER BY seq DESC LIMIT ?")
                for (dev, _), rows in zip(items, self.source.each(conn, sql, [p for _, p in items])):
                    out[dev] = [_as_int(r["score"]) for r in reversed(rows)]
        return out

    def device(self, device_id: str) -> dict[str, Any] | None:
        where, params = self.dialect.key_eq(device_id, "d")
        rows = self._all(f"SELECT {self._device_cols}, {_drifting(self.dialect)} AS drifting "
                         f"FROM devices d WHERE {where}", params)
        if not rows:
            return None
        dev = _row(rows[0], _DEVICE_TYPES)
        dev["drifting"] = bool(dev["drifting"])
        return dev

    # ---- events --------------------------------------------------------------------------
    def events(self, flt: EventFilter, limit: int = 500, offset: int = 0,
               newest_first: bool = True) -> list[dict[str, Any]]:
        where, params = flt.where(self.dialect)
        order = "DESC" if newest_first else "ASC"
        rows = self._all(
            f"SELECT {self._event_cols} FROM events{where} "
            f"ORDER BY received_at {order}, seq {order}, {self.dialect.cursor} {order} "
            f"LIMIT ? OFFSET ?", [*params, limit, offset])
        return [_event_dict(r) for r in rows]

    def iter_events(self, flt: EventFilter, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every matching event, oldest first, in batches (CSV export of any size). Each batch
        starts after the last row of the one before (keyset, not OFFSET: the cost of a batch
        does not grow with the rows already exported)."""
        where, params = flt.where(self.dialect)
        c = self.dialect.cursor
        after = ""
        last: list[Any] = []
        while True:
            rows = self._all(
                f"SELECT {self._event_cols} FROM events{where}{after} "
                f"ORDER BY received_at, seq, {c} LIMIT ?", [*params, *last, batch])
            chunk = [_event_dict(r) for r in rows]
            yield from chunk
            if len(rows) < batch:
                return
            r = rows[-1]
            # (received_at, seq, cursor) > the last row's, with a plain range on the index's
            # leading column so both engines walk events_received_at
            after = (f"{' AND' if where else ' WHERE'} received_at >= ? AND (received_at > ? "
                     f"OR (received_at = ? AND (seq > ? OR (seq = ? AND {c} > ?))))")
            last = [r["received_at"], r["received_at"], r["received_at"], r["seq"], r["seq"],
                    r["id"]]

    def count_events(self, flt: EventFilter, cap: int = COUNT_CAP) -> int:
        """Matching events, counted up to `cap` (a page shows 'cap+' beyond)."""
        where, params = flt.where(self.dialect)
        return int(self._all(f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM events{where} LIMIT ?) m",
                             [*params, cap])[0]["n"])

    def event(self, device_id: str, seq: int) -> dict[str, Any] | None:
        where, params = self.dialect.key_eq(device_id)
        rows = self._all(f"SELECT {self._event_cols} FROM events WHERE {where} AND seq = ?",
                         [*params, seq])
        return _event_dict(rows[0]) if rows else None

    def series(self, device_id: str, since: float | None = None,
               limit: int = 2000) -> list[dict[str, Any]]:
        """The newest `limit` events of one device, oldest first (live chart backfill)."""
        where, params = self.dialect.key_eq(device_id)
        rows = self._all(
            f"SELECT * FROM (SELECT {self._event_cols} FROM events WHERE {where} "
            "AND received_at >= ? ORDER BY seq DESC LIMIT ?) s ORDER BY seq",
            [*params, since if since is not None else 0.0, limit])
        return [_event_dict(r) for r in rows]

    def max_event_id(self) -> int:
        return int(self._all(f"SELECT COALESCE(MAX({self.dialect.cursor}), 0) AS n "
                             "FROM events")[0]["n"])

    def events_after(self, cursor: int, limit: int = 5000) -> list[dict[str, Any]]:
        """Events inserted after `cursor` (the live stream's), in insertion order. The fleet
        schema gives ids in commit order (one inserting transaction at a time), so a reader
        never passes a row that commits later with a smaller id."""
        c = self.dialect.cursor
        rows = self._all(f"SELECT {self._event_cols} FROM events WHERE {c} > ? "
                         f"ORDER BY {c} LIMIT ?", [cursor, limit])
        return [_event_dict(r) for r in rows]

    def devices_version(self) -> tuple[Any, ...]:
        """Cheap fingerprint that changes when a device is added or what events do not carry
        changes (threshold, battery, model): last seen and state come with every event, and
        a fingerprint of them would reload every overview on every event of a large fleet."""
        row = self._all("SELECT COUNT(*) AS a, COALESCE(SUM(threshold), 0) AS b, "
                        "COALESCE(SUM(battery), 0) AS c, COUNT(DISTINCT model_id) AS d, "
                        "MIN(model_id) AS e, MAX(model_id) AS f FROM devices")[0]
        return tuple(row[k] for k in "abcdef")

    # ---- runs ----------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        if self.dialect.fleet:
            return []  # runs stay on the machine that made them (`--runs DIR` shows them)
        rows = self._all("SELECT * FROM runs ORDER BY started_at DESC, run_id")
        return [_run_dict(r) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        if self.dialect.fleet:
            return None
        rows = self._all("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run_dict(rows[0]) if rows else None

    def pending_commands(self, device_id: str | None = None) -> list[dict[str, Any]]:
        cols = f"id, {self.dialect.key()} AS device_id, kind, payload_json, created_at, sent_at"
        if device_id is None:
            rows = self._all(f"SELECT {cols} FROM commands WHERE sent_at IS NULL ORDER BY id")
        else:
            where, params = self.dialect.key_eq(device_id)
            rows = self._all(f"SELECT {cols} FROM commands WHERE sent_at IS NULL AND {where} "
                             "ORDER BY id", params)
        return [_row(r, _COMMAND_TYPES) for r in rows]

    # ---- the two writes ------------------------------------------------------------------
    def ack_event(self, device_id: str, seq: int, note: str) -> bool:
        return self.source.ack_event(device_id, seq, note)

    def queue_command(self, device_id: str, kind: str, payload: dict[str, Any]) -> int:
        return self.source.queue_command(device_id, kind, payload)

    def close(self) -> None:
        self.source.close()


def _run_dict(row: Any) -> dict[str, Any]:
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
