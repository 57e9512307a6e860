"""The gateway store: SQLite in WAL mode with exactly the contract C9 schema.

Read by the dashboard, written by the gateway (BLE events) and by sim/HIL/replay
runs (`source='sim'|'hil'|'replay'`, `device_id='<kind>:<run_id>'`). Every query is
parameterised. One `Store` per thread (sqlite3 connections are not shared).

Stable API: Store(path), insert_event, insert_events, upsert_device, add_run,
queue_command, pending_commands, mark_sent, events, ack_event, devices, device,
runs, max_seq, contiguous_seq, close.

Opening is one mechanism for every command: `inspect_file` refuses what is not an SQLite
file before SQLite sees it (SQLite would turn an empty file into a new database),
`connect_readonly` opens read-only (URI `mode=ro`), and `verify` checks integrity
(`quick_check`) and the C9 tables and columns up front. Each failure is a `StoreError`
(an ImuadError) naming the file and what is wrong. `Store(path, readonly=True)` and the
dashboard's reader use all three; a writing `Store` inspects and verifies an existing file.
"""
from __future__ import annotations

import functools
import json
import sqlite3
import stat
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ImuadError

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, name TEXT, model_id TEXT,
  fw_version TEXT, last_seen REAL, state INTEGER, threshold INTEGER, uptime_ms INTEGER,
  battery REAL, source TEXT);
CREATE TABLE IF NOT EXISTS events (device_id TEXT NOT NULL, seq INTEGER NOT NULL,
  kind INTEGER NOT NULL, state INTEGER NOT NULL, score INTEGER NOT NULL, uptime_ms INTEGER,
  model_id TEXT, flags INTEGER DEFAULT 0, received_at REAL NOT NULL, acked INTEGER DEFAULT 0,
  ack_note TEXT, ack_at REAL, PRIMARY KEY (device_id, seq));
CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at, seq);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, kind TEXT, target TEXT, model TEXT,
  recording TEXT, started_at REAL, report_json TEXT);
CREATE TABLE IF NOT EXISTS commands (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT,
  kind TEXT, payload_json TEXT, created_at REAL, sent_at REAL);
"""

# Versioned migrations: MIGRATIONS[v] takes a store from version v-1 to v (SCHEMA is v1 and
# stays the C9 table set every reader verifies; later versions only add gateway-private state).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # v2, the MQTT outbox (C9 MQTT): every event stored from now on waits here until the fleet
    # ingest confirms it; published_at is the broker's PUBACK time (NULL: still to publish).
    # The trigger fires only for rows really inserted (INSERT OR IGNORE skips duplicates).
    # AUTOINCREMENT: ids never come back once confirmed rows are deleted (the publisher's
    # cursor relies on new rows having higher ids).
    2: ("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "device_id TEXT NOT NULL, "
        "seq INTEGER NOT NULL, published_at REAL, UNIQUE (device_id, seq))",
        "CREATE INDEX IF NOT EXISTS outbox_published_at ON outbox (published_at)",
        "CREATE TRIGGER IF NOT EXISTS events_outbox AFTER INSERT ON events BEGIN "
        "INSERT OR IGNORE INTO outbox (device_id, seq) VALUES (new.device_id, new.seq); END"),
    # v3, fleet commands (C9 MQTT imuad/<gw>/commands): the fleet's command id (a redelivered
    # command is queued once) and when its ack went back to the broker.
    3: ("ALTER TABLE commands ADD COLUMN fleet_id INTEGER",
        "ALTER TABLE commands ADD COLUMN ack_published_at REAL",
        "CREATE UNIQUE INDEX IF NOT EXISTS commands_fleet_id ON commands (fleet_id)"),
}

SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(ImuadError):
    """A store file that cannot be used; the message names the file."""

    def __init__(self, path: str | Path, what: str) -> None:
        super().__init__(f"store {path}: {what}")


@functools.lru_cache(maxsize=1)
def schema_columns() -> dict[str, dict[str, str]]:
    """{table: {column: declared type}} of SCHEMA, the one C9 definition."""
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    out = {t: {r[1]: r[2] for r in db.execute(f"PRAGMA table_info({t})")}
           for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                                  "name NOT LIKE 'sqlite_%' ORDER BY name")}
    db.close()
    return out


def inspect_file(path: str | Path, *, allow_empty: bool = False) -> None:
    """Refuse a path that cannot hold a store, without opening it with SQLite."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise StoreError(path, "no such file (`imuad gateway run --db` creates the store)") \
            from None
    except OSError as exc:
        raise StoreError(path, f"cannot access ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(path, "is a directory, not a store file")
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(path, "is not a regular file")
    if st.st_size == 0:
        if allow_empty:
            return
        raise StoreError(path, "empty file, not a gateway store (`imuad gateway run --db` "
                               "creates one)")
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise StoreError(path, f"cannot read ({exc.strerror})") from None
    if not head.startswith(SQLITE_MAGIC):
        raise StoreError(path, f"not an SQLite database (it starts with {head[:16]!r})")
    if len(head) < 100:
        raise StoreError(path, f"truncated SQLite database ({len(head)} bytes)")


def connect_readonly(path: str | Path, *, snapshot: bool = False,
                     timeout: float = 5.0) -> sqlite3.Connection:
    """A read-only connection (SQLite refuses every write on it).

    snapshot=True is for one-shot reads: when no -wal/-journal file is beside the store
    (the gateway is not running), it is opened `immutable`, so reading creates no
    -wal/-shm files either. A live reader (the dashboard) must not use it: it would not
    see the gateway's later commits.
    """
    path = Path(path).resolve()
    uri = f"file:{quote(str(path))}?mode=ro"
    if snapshot and not any(Path(f"{path}{s}").exists() for s in ("-wal", "-shm", "-journal")):
        uri += "&immutable=1"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(path, f"cannot open read-only ({exc})") from None
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return db


def verify(db: sqlite3.Connection, path: str | Path, *, require_tables: bool = True) -> None:
    """Integrity and C9 schema of an open store, before any command relies on it."""
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(path, f"schema version {version} is newer than this imuad "
                                   f"({SCHEMA_VERSION}); upgrade imuad")
        problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            first = problems[0].replace("*** in database main ***", "").strip().splitlines()
            raise StoreError(path, f"damaged database ({first[0] if first else 'quick_check'})"
                                   f"; restore a backup or move it away to start a new store")
        have = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")}
                for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(path, f"unreadable SQLite database ({exc})") from None
    missing = [t for t in schema_columns() if t not in have]
    if missing and require_tables:
        raise StoreError(path, f"missing table(s) {', '.join(missing)} (not a C9 gateway store)")
    for table, columns in schema_columns().items():
        lacking = [c for c in columns if table in have and c not in have[table]]
        if lacking:
            raise StoreError(path, f"table {table} lacks column(s) {', '.join(lacking)} "
                                   f"(not a C9 gateway store)")


DEVICE_FIELDS = ("name", "model_id", "fw_version", "last_seen", "state", "threshold",
                 "uptime_ms", "battery", "source")
EVENT_FIELDS = ("device_id", "seq", "kind", "state", "score", "uptime_ms", "model_id", "flags",
                "received_at", "acked", "ack_note", "ack_at")


class Store:
    """SQLite store of devices, events, runs and queued commands (C9)."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", timeout: float = 10.0,
                 readonly: bool = False):
        """readonly=True: an existing, verified store, opened so that nothing (not even a
        -wal file) is written; for commands that only read (`imuad gateway events`)."""
        # FULL: a commit is on disk before insert_event(s) returns, so the gateway may ACK.
        if synchronous not in ("OFF", "NORMAL", "FULL"):
            raise ImuadError(f"store: synchronous must be OFF, NORMAL or FULL, not {synchronous!r}")
        self.path = Path(path)
        if readonly:
            inspect_file(self.path)
            self.db = connect_readonly(self.path, snapshot=True, timeout=timeout)
            try:
                verify(self.db, self.path)
            except StoreError:
                self.db.close()
                raise
            return
        if str(path) != ":memory:":
            if self.path.exists() or self.path.is_symlink():
                inspect_file(self.path, allow_empty=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
        db = None
        try:
            db = self.db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=%d" % int(timeout * 1000))
            verify(db, self.path, require_tables=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            self._migrate()
        except (StoreError, sqlite3.Error) as exc:
            if db is not None:
                db.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(path, f"not a usable SQLite store ({exc})") from exc

    # -- schema -------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ImuadError(f"{self.path}: store schema version {version} is newer than this "
                             f"imuad ({SCHEMA_VERSION}); upgrade imuad")
        with self._tx():
            for stmt in SCHEMA.strip().split(";"):
                if stmt.strip():
                    self.db.execute(stmt)
            for v in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS[v]:
                    self.db.execute(stmt)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _tx(self):
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events -------------------------------------------------------------------------
    def insert_event(self, device_id: str, seq: int, kind: int, state: int, score: int,
                     uptime_ms: int | None = None, model_id: str | None = None, flags: int = 0,
                     received_at: float | None = None) -> bool:
        """Store one event (committed on return). False if (device_id, seq) was already there."""
        return self.insert_events(device_id, [dict(seq=seq, kind=kind, state=state, score=score,
                                                   uptime_ms=uptime_ms, model_id=model_id,
                                                   flags=flags, received_at=received_at)]) == 1

    def insert_events(self, device_id: str, events: Iterable[dict[str, Any]]) -> int:
        """Store many events in one transaction; returns how many were new. Duplicates
        (same device_id and seq) are ignored, never overwritten."""
        now = time.time()
        rows = [(device_id, int(e["seq"]), int(e["kind"]), int(e["state"]), int(e["score"]),
                 e.get("uptime_ms"), e.get("model_id"), int(e.get("flags") or 0),
                 e.get("received_at") or now) for e in events]
        if not rows:
            return 0
        with self._tx():
            # rowcount sums sqlite3_changes(), which leaves out the outbox trigger's inserts
            return self.db.executemany(
                "INSERT OR IGNORE INTO events (device_id, seq, kind, state, score, uptime_ms, "
                "model_id, flags, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows).rowcount

    def events(self, device_id: str | None = None, since: float | None = None,
               kinds: Sequence[int] | None = None, limit: int | None = 100) -> list[dict[str, Any]]:
        """Events newest first (by received_at, then seq), optionally filtered."""
        where, args = [], []
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        if since is not None:
            where.append("received_at >= ?")
            args.append(float(since))
        if kinds:
            where.append("kind IN (%s)" % ",".join("?" * len(kinds)))
            args.extend(int(k) for k in kinds)
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY received_at DESC, seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [dict(r) for r in self.db.execute(sql, args)]

    def ack_event(self, device_id: str, seq: int, note: str | None = None,
                  at: float | None = None) -> bool:
        """Operator acknowledgement of an event (dashboard). False if there is no such event."""
        with self._tx():
            cur = self.db.execute(
                "UPDATE events SET acked = 1, ack_note = ?, ack_at = ? WHERE device_id = ? AND seq = ?",
                (note, at or time.time(), device_id, int(seq)))
            return cur.rowcount == 1

    def max_seq(self, device_id: str) -> int | None:
        row = self.db.execute("SELECT MAX(seq) FROM events WHERE device_id = ?", (device_id,))
        return row.fetchone()[0]

    def contiguous_seq(self, device_id: str, after: int) -> int:
        """Largest s >= after such that every seq in (after, s] is stored."""
        rows = self.db.execute("SELECT seq FROM events WHERE device_id = ? AND seq > ? ORDER BY seq",
                               (device_id, int(after)))
        s = after
        for (seq,) in rows:
            if seq != s + 1:
                break
            s = seq
        return s

    def count_events(self, device_id: str | None = None) -> int:
        if device_id is None:
            return self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM events WHERE device_id = ?",
                               (device_id,)).fetchone()[0]

    # -- devices ------------------------------------------------------------------------
    def upsert_device(self, device_id: str, **fields: Any) -> None:
        """Create or update a device; only the given fields change."""
        unknown = set(fields) - set(DEVICE_FIELDS)
        if unknown:
            raise ImuadError(f"store: unknown device field(s) {sorted(unknown)}; "
                             f"known: {', '.join(DEVICE_FIELDS)}")
        cols = list(fields)
        with self._tx():
            self.db.execute("INSERT OR IGNORE INTO devices (device_id) VALUES (?)", (device_id,))
            if cols:
                # column names come from DEVICE_FIELDS only, values are parameters
                self.db.execute("UPDATE devices SET " + ", ".join(f"{c} = ?" for c in cols) +
                                " WHERE device_id = ?", [fields[c] for c in cols] + [device_id])

    def devices(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM devices ORDER BY device_id")]

    def device(self, device_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return dict(row) if row else None

    # -- runs ---------------------------------------------------------------------------
    def add_run(self, run_id: str, kind: str, target: str | None = None, model: str | None = None,
                recording: str | None = None, started_at: float | None = None,
                report: dict[str, Any] | str | None = None) -> None:
        """Record (or replace) a sim/HIL/replay run and its report."""
        report_json = report if isinstance(report, str) or report is None else json.dumps(report)
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO runs (run_id, kind, target, model, recording, started_at, "
                "report_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind, target, model, recording, started_at or time.time(), report_json))

    def runs(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if kind is None:
            cur = self.db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        else:
            cur = self.db.execute("SELECT * FROM runs WHERE kind = ? ORDER BY started_at DESC "
                                  "LIMIT ?", (kind, limit))
        return [dict(r) for r in cur]

    # -- commands (dashboard -> gateway -> device) ---------------------------------------
    def queue_command(self, device_id: str, kind: str, payload: dict[str, Any] | None = None) -> int:
        """Queue a command (e.g. kind='config', payload {threshold_on, threshold_off, k, n})."""
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO commands (device_id, kind, payload_json, created_at, sent_at) "
                "VALUES (?, ?, ?, ?, NULL)", (device_id, kind, json.dumps(payload or {}), time.time()))
            return int(cur.lastrowid)

    def pending_commands(self, device_id: str | None = None) -> list[dict[str, Any]]:
        """Commands not sent yet, oldest first; payload_json is decoded into `payload`."""
        if device_id is None:
            cur = self.db.execute("SELECT * FROM commands WHERE sent_at IS NULL ORDER BY id")
        else:
            cur = self.db.execute("SELECT * FROM commands WHERE sent_at IS NULL AND device_id = ? "
                                  "ORDER BY id", (device_id,))
        out = []
        for r in cur:
            d = dict(r)
            d["payload"] = json.loads(d["payload_json"] or "{}")
            out.append(d)
        return out

    def mark_sent(self, command_id: int, sent_at: float | None = None) -> None:
        with self._tx():
            self.db.execute("UPDATE commands SET sent_at = ? WHERE id = ?",
                            (sent_at or time.time(), int(command_id)))


    # -- MQTT outbox (C9 MQTT; used by imuad.gateway.mqtt) ------------------------------------
    def outbox_pending(self, after_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        """Events still to publish (outbox id > after_id), oldest first, with `outbox_id`."""
        cur = self.db.execute(
            "SELECT o.id AS outbox_id, e.* FROM outbox o JOIN events e "
            "ON e.device_id = o.device_id AND e.seq = o.seq "
            "WHERE o.published_at IS NULL AND o.id > ? ORDER BY o.id LIMIT ?",
            (int(after_id), int(limit)))
        return [dict(r) for r in cur]

    def outbox_mark_published(self, ids: Iterable[int], at: float | None = None) -> None:
        """The broker acknowledged (PUBACK) these outbox rows."""
        at = at or time.time()
        with self._tx():
            self.db.executemany("UPDATE outbox SET published_at = ? WHERE id = ?",
                                [(at, int(i)) for i in ids])

    def outbox_confirm(self, keys: Iterable[tuple[str, int]]) -> float | None:
        """The fleet ingest committed these (device_id, seq): drop them from the outbox.
        Returns the newest PUBACK time among them (None if none was waiting)."""
        keys = [(d, int(s)) for d, s in keys]
        with self._tx():
            newest = None
            for d, s in keys:
                row = self.db.execute("DELETE FROM outbox WHERE device_id = ? AND seq = ? "
                                      "RETURNING published_at", (d, s)).fetchone()
                if row is not None and row[0] is not None:
                    newest = row[0] if newest is None else max(newest, row[0])
            return newest

    def outbox_requeue(self, *, published_after: float | None = None,
                       published_before: float | None = None) -> int:
        """Publish again rows acknowledged by the broker after/before a time; returns how many."""
        where, args = ["published_at IS NOT NULL"], []
        if published_after is not None:
            where.append("published_at > ?")
            args.append(published_after)
        if published_before is not None:
            where.append("published_at < ?")
            args.append(published_before)
        with self._tx():
            return self.db.execute("UPDATE outbox SET published_at = NULL WHERE " +
                                   " AND ".join(where), args).rowcount

    def outbox_counts(self) -> dict[str, int]:
        """{'unpublished': n, 'unconfirmed': n} (unconfirmed: published, not yet ingested)."""
        row = self.db.execute("SELECT COUNT(*) - COUNT(published_at), COUNT(published_at) "
                              "FROM outbox").fetchone()
        return {"unpublished": row[0], "unconfirmed": row[1]}


    # -- fleet commands (C9 MQTT; used by imuad.gateway.mqtt) ---------------------------------
    def queue_fleet_command(self, fleet_id: int, device_id: str, kind: str,
                            payload: Any) -> bool:
        """Queue a command that came from the fleet; False if it was queued before."""
        with self._tx():
            return self.db.execute(
                "INSERT OR IGNORE INTO commands (device_id, kind, payload_json, created_at, "
                "sent_at, fleet_id) VALUES (?, ?, ?, ?, NULL, ?)",
                (device_id, kind, json.dumps(payload if payload is not None else {}),
                 time.time(), int(fleet_id))).rowcount == 1

    def apply_fleet_ack(self, fleet_id: int, device_id: str, seq: int, note: str,
                        at: float) -> bool:
        """An acknowledgement made on the fleet's dashboard (C9 command `ack`): the event here
        gets it too, and the command is recorded as done (sent now, so the core never sends it
        to the device; its ack goes back to the fleet). False if it was applied before."""
        now = time.time()
        with self._tx():
            if self.db.execute(
                    "INSERT OR IGNORE INTO commands (device_id, kind, payload_json, created_at, "
                    "sent_at, fleet_id) VALUES (?, 'ack', ?, ?, ?, ?)",
                    (device_id, json.dumps({"seq": seq, "note": note, "ack_at": at}), now, now,
                     int(fleet_id))).rowcount != 1:
                return False
            self.db.execute("UPDATE events SET acked = 1, ack_note = ?, ack_at = ? "
                            "WHERE device_id = ? AND seq = ?", (note, at, device_id, int(seq)))
            return True

    def fleet_commands_to_ack(self) -> list[dict[str, Any]]:
        """Fleet commands handed to their device whose ack has not reached the broker."""
        return [dict(r) for r in self.db.execute(
            "SELECT id, fleet_id, device_id, kind, sent_at FROM commands WHERE fleet_id IS NOT "
            "NULL AND sent_at IS NOT NULL AND ack_published_at IS NULL ORDER BY id")]

    def mark_fleet_acks_published(self, ids: Iterable[int]) -> None:
        with self._tx():
            self.db.executemany("UPDATE commands SET ack_published_at = ? WHERE id = ?",
                                [(time.time(), int(i)) for i in ids])


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
