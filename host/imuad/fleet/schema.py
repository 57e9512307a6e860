"""The fleet store in PostgreSQL: the C9 tables keyed by gateway, versioned migrations.

MIGRATIONS[v] takes the database from version v-1 to v; `schema_version` records each applied
version. Concurrent `migrate` calls (several ingest processes starting at once) serialise on a
transaction-level advisory lock, so each version is applied exactly once.
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import ImuadError

SCHEMA_VERSION = 3
_LOCK_KEY = 0x696D7561  # "imua": the advisory lock of migrations
_INSERT_LOCK_KEY = 0x696D7565  # "imue": one transaction inserting events at a time (v2)
NOTIFY_CHANNEL = "imuad_events"

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE gateways (gateway_id TEXT PRIMARY KEY, first_seen DOUBLE PRECISION, "
        "last_seen DOUBLE PRECISION)",
        "CREATE TABLE devices (gateway_id TEXT NOT NULL, device_id TEXT NOT NULL, name TEXT, "
        "model_id TEXT, fw_version TEXT, last_seen DOUBLE PRECISION, state INTEGER, "
        "threshold INTEGER, uptime_ms BIGINT, battery DOUBLE PRECISION, source TEXT, "
        "PRIMARY KEY (gateway_id, device_id))",
        # The unique key makes redelivery harmless: INSERT ... ON CONFLICT DO NOTHING.
        "CREATE TABLE events (gateway_id TEXT NOT NULL, device_id TEXT NOT NULL, "
        "seq BIGINT NOT NULL, kind INTEGER NOT NULL, state INTEGER NOT NULL, "
        "score BIGINT NOT NULL, uptime_ms BIGINT, model_id TEXT, flags INTEGER DEFAULT 0, "
        "received_at DOUBLE PRECISION NOT NULL, ingested_at DOUBLE PRECISION NOT NULL, "
        "acked INTEGER DEFAULT 0, ack_note TEXT, ack_at DOUBLE PRECISION, "
        "PRIMARY KEY (gateway_id, device_id, seq))",
        "CREATE INDEX events_received_at ON events (received_at, seq)",
        "CREATE TABLE commands (id BIGSERIAL PRIMARY KEY, gateway_id TEXT NOT NULL, "
        "device_id TEXT NOT NULL, kind TEXT NOT NULL, payload_json TEXT, "
        "created_at DOUBLE PRECISION, sent_at DOUBLE PRECISION, acked_at DOUBLE PRECISION, "
        "status TEXT, detail TEXT)",
    ),
    # v2, the dashboard on PostgreSQL: an insertion id (the live stream's cursor) given in
    # commit order, NOTIFY on insert, and the indexes its pages need on a store of millions.
    2: (
        "ALTER TABLE events ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY",
        "CREATE UNIQUE INDEX events_id ON events (id)",
        # Ids are drawn at insert but become visible at commit: two inserting transactions
        # could commit out of id order and a reader tailing `id > cursor` would skip a row.
        # Inserting transactions therefore take turns (the lock is held to commit); they are
        # short batches, and the ingest does its COPY before it asks.
        "CREATE FUNCTION imuad_events_serialise() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_advisory_xact_lock({_INSERT_LOCK_KEY}); RETURN NULL; END $$",
        "CREATE TRIGGER events_serialise BEFORE INSERT ON events FOR EACH STATEMENT "
        "EXECUTE FUNCTION imuad_events_serialise()",
        # delivered at commit, once per transaction (PostgreSQL folds equal notifications)
        "CREATE FUNCTION imuad_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$",
        "CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT "
        "EXECUTE FUNCTION imuad_events_notify()",
        # the alert timeline (every kind but heartbeats), newest first
        "CREATE INDEX events_alerts ON events (received_at, seq) WHERE kind <> 3",
        # each device's newest drift-related event (is it drifting?) without walking its history
        "CREATE INDEX events_drift ON events (gateway_id, device_id, seq) WHERE kind IN (4, 5, 6)",
        # open alerts per device (the devices page counts them for every device)
        "CREATE INDEX events_open ON events (gateway_id, device_id) "
        "WHERE kind = 1 AND (acked = 0 OR acked IS NULL)",
        "CREATE INDEX commands_pending ON commands (gateway_id, device_id) WHERE sent_at IS NULL",
    ),
    # v3: the gateway's clock of the newest status taken per device (C9 MQTT status_at), so a
    # status redelivered late (an ingest killed before its PUBACK) cannot undo a newer one.
    3: (
        "ALTER TABLE devices ADD COLUMN status_at DOUBLE PRECISION",
    ),
}


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def connect(url: str, *, autocommit: bool = False, what: str = "--db") -> Any:
    """A psycopg connection, or one ImuadError naming the URL."""
    try:
        import psycopg
    except ModuleNotFoundError as exc:
        raise ImuadError("the fleet needs psycopg: pip install 'imuad[fleet]'") from exc
    if not url.startswith(("postgresql://", "postgres://")):
        raise ImuadError(f"{what} {redact(url)!r}: expected postgresql://USER@HOST[:PORT]/DB")
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImuadError(f"cannot reach PostgreSQL {redact(url)}: {first}") from None


def version(conn: Any) -> int:
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]


def migrate(conn: Any) -> list[int]:
    """Bring the database to SCHEMA_VERSION; returns the versions applied now."""
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                     "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        have = version(conn)
        if have > SCHEMA_VERSION:
            raise ImuadError(f"fleet database schema version {have} is newer than this imuad "
                             f"({SCHEMA_VERSION}); upgrade imuad")
        for v in range(have + 1, SCHEMA_VERSION + 1):
            for stmt in MIGRATIONS[v]:
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (v,))
            applied.append(v)
    return applied
