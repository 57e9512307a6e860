"""The two stores the dashboard reads: a gateway's SQLite file and the fleet's PostgreSQL.

One SQL layer (`queries`) serves both; what differs is kept here, small and explicit:
- `Dialect`: the few SQL fragments that differ (placeholders, the event cursor column, the
  device key). A fleet device is known by `<gateway>/<device>` (gateway ids never hold '/',
  C9 MQTT), matched on the two key columns so PostgreSQL uses its primary key;
- connections: per-thread read-only SQLite connections, or a psycopg connection pool;
- change notification: SQLite has none (the gateway is another process), so the live stream
  polls; PostgreSQL pushes `NOTIFY imuad_events` after every insert (fleet schema v2 trigger);
- the dashboard's two writes: acknowledge an event, queue a command for a device. On the
  fleet a command goes into PostgreSQL's `commands`; the ingest relays it over MQTT to the
  device's gateway (C9 MQTT), so the dashboard's token rules cover fleet commands too.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import ImuadError
from ..gateway.store import Store, connect_readonly, inspect_file, verify

KEY_SEP = "/"


def split_key(key: str) -> tuple[str, str] | None:
    """A fleet device key `<gateway>/<device>` as (gateway_id, device_id); None if it is not one."""
    gateway, sep, device = key.partition(KEY_SEP)
    return (gateway, device) if sep else None


@dataclass(frozen=True)
class Dialect:
    name: str
    fleet: bool  # keyed by (gateway_id, device_id); no runs table

    def sql(self, text: str) -> str:
        """Queries are written with '?' placeholders; psycopg wants '%s'."""
        return text.replace("?", "%s") if self.fleet else text

    @property
    def cursor(self) -> str:
        """The event column that orders inserts (the live stream's cursor)."""
        return "id" if self.fleet else "rowid"

    def key(self, alias: str = "") -> str:
        """SQL of the dashboard's device key."""
        a = f"{alias}." if alias else ""
        return f"({a}gateway_id || '{KEY_SEP}' || {a}device_id)" if self.fleet else f"{a}device_id"

    def key_eq(self, key: str, alias: str = "") -> tuple[str, list[Any]]:
        """WHERE fragment matching one device key, on the indexed key columns."""
        a = f"{alias}." if alias else ""
        if not self.fleet:
            return f"{a}device_id = ?", [key]
        parts = split_key(key)
        if parts is None:
            return "1 = 0", []  # not a fleet key: no such device
        return f"{a}gateway_id = ? AND {a}device_id = ?", list(parts)

    def same_device(self, a: str, b: str) -> str:
        if self.fleet:
            return f"{a}.gateway_id = {b}.gateway_id AND {a}.device_id = {b}.device_id"
        return f"{a}.device_id = {b}.device_id"


SQLITE = Dialect("sqlite", fleet=False)
POSTGRESQL = Dialect("postgresql", fleet=True)


def is_url(store: str | Path) -> bool:
    return str(store).startswith(("postgresql://", "postgres://"))


def open_source(store: str | Path) -> "SqliteSource | PostgresSource":
    """The store behind `--store`: a PostgreSQL URL or a gateway SQLite file."""
    return PostgresSource(str(store)) if is_url(store) else SqliteSource(Path(store))


class SqliteSource:
    """A gateway store (C9), read through per-thread read-only connections."""

    dialect = SQLITE
    poll_s: float | None = None  # the live stream's own poll interval applies

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        inspect_file(self.path)
        probe = connect_readonly(self.path, snapshot=True)  # a refusal leaves no -wal/-shm
        try:
            verify(probe, self.path)
        finally:
            probe.close()
        self._local = threading.local()
        self.errors: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect_readonly(self.path)
        return conn

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Any]:
        """One read transaction: a consistent view, and the WAL is released at once."""
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def each(self, conn: Any, sql: str, params: list[list[Any]]) -> list[list[Any]]:
        """One query run once per parameter list, in this snapshot: every result's rows."""
        return [conn.execute(sql, p).fetchall() for p in params]

    async def wait_change(self, timeout: float) -> None:
        await asyncio.sleep(timeout)

    # the dashboard's writes go through the gateway's Store, the schema's owner
    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.path)
        return store

    def ack_event(self, key: str, seq: int, note: str) -> bool:
        return bool(self._store().ack_event(key, seq, note))

    def queue_command(self, key: str, kind: str, payload: dict[str, Any]) -> int:
        return int(self._store().queue_command(key, kind, payload))

    def close(self) -> None:
        for name in ("conn", "store"):
            obj = getattr(self._local, name, None)
            if obj is not None:
                obj.close()
                setattr(self._local, name, None)


class PostgresSource:
    """The fleet store (C9 fleet store), through a small connection pool."""

    dialect = POSTGRESQL
    poll_s = 1.0  # NOTIFY wakes the live stream at once; this is only the fallback

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ModuleNotFoundError as exc:
            raise ImuadError("--store postgresql://... needs the fleet extra: "
                             "pip install 'imuad[fleet]'") from exc
        from ..fleet import schema
        self.url = url
        self.label = schema.redact(url)
        conn = schema.connect(url, what="--store")
        try:
            have = schema.version(conn)
        finally:
            conn.close()
        if have == 0:
            raise ImuadError(f"--store {self.label}: no fleet schema in this database "
                             "(`imuad fleet migrate --db URL` or a running ingest creates it)")
        if have > schema.SCHEMA_VERSION:
            raise ImuadError(f"--store {self.label}: fleet schema version {have} is newer than "
                             f"this imuad ({schema.SCHEMA_VERSION}); upgrade imuad")
        if have < schema.SCHEMA_VERSION:
            raise ImuadError(f"--store {self.label}: fleet schema version {have}, this imuad "
                             f"reads {schema.SCHEMA_VERSION}: run `imuad fleet migrate --db URL`")
        # check: a connection broken by a database restart is replaced before a page uses it;
        # timeout: a page waits at most 3 s for a connection while the database is down (503).
        # The pool's own log would repeat every reconnect attempt; the live poller logs an
        # outage once, and every page answers 503 naming the store.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        self.pool = ConnectionPool(url, min_size=1, max_size=8, open=True, timeout=3,
                                   check=ConnectionPool.check_connection,
                                   # prepare_threshold None: no prepared statements, so
                                   # every query is planned for its values (a generic plan of
                                   # `kind IN (...)` cannot use the partial alert index and
                                   # scans millions of rows)
                                   kwargs={"autocommit": True, "row_factory": dict_row,
                                           "connect_timeout": 10, "prepare_threshold": None},
                                   name="imuad-dashboard")
        self.errors = (psycopg.Error,)
        self._listen: Any = None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Any]:
        with self.pool.connection() as conn:
            # REPEATABLE READ READ ONLY: the queries of one page see one state of the store
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield conn

    def each(self, conn: Any, sql: str, params: list[list[Any]]) -> list[list[Any]]:
        """One query run once per parameter list, in this snapshot: every result's rows.
        Pipelined (psycopg pipeline mode): the queries go out without waiting for each answer,
        so 1,000 devices' sparklines cost about one round trip, not 1,000."""
        with conn.pipeline():
            cursors = [conn.cursor().execute(sql, p) for p in params]
        return [c.fetchall() for c in cursors]

    def _wait_notify(self, timeout: float) -> None:
        import psycopg

        from ..fleet import schema
        if self._listen is None or self._listen.closed:
            self._listen = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            self._listen.execute(f"LISTEN {schema.NOTIFY_CHANNEL}")
        try:
            for _ in self._listen.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:
            self._listen.close()
            time.sleep(min(timeout, 1.0))
            raise

    async def wait_change(self, timeout: float) -> None:
        await asyncio.to_thread(self._wait_notify, timeout)

    def ack_event(self, key: str, seq: int, note: str) -> bool:
        parts = split_key(key)
        if parts is None:
            return False
        from ..contracts import mqtt as c9
        from ..fleet import queue_command
        at = time.time()
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.execute("UPDATE events SET acked = 1, ack_note = %s, ack_at = %s "
                               "WHERE gateway_id = %s AND device_id = %s AND seq = %s",
                               (note, at, *parts, int(seq)))
            if cur.rowcount != 1:
                return False
            # and to the event's gateway (C9 command `ack`): its own dashboard shows it too
            queue_command(conn, *parts, c9.ACK_KIND, c9.ack_payload(seq, note, at))
            return True

    def queue_command(self, key: str, kind: str, payload: dict[str, Any]) -> int:
        from ..fleet import queue_command
        parts = split_key(key)
        if parts is None:
            raise ImuadError(f"{key!r} is not a fleet device (<gateway>/<device>)")
        with self.pool.connection() as conn:
            return queue_command(conn, *parts, kind, payload)

    def close(self) -> None:
        if self._listen is not None:
            self._listen.close()
        self.pool.close()
