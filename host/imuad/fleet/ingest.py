"""`imuad fleet ingest`: every gateway's events from MQTT into PostgreSQL, exactly once.

MQTT 5 shared subscription `$share/imuad-ingest/imuad/+/+/events` (several ingest processes
split the stream), persistent session (client id `imuad-ingest-<name>`, clean_start=False) and
manual acknowledgement: a message is PUBACKed only after the batch holding it is committed, so
a killed ingest loses nothing (the broker sends its unacknowledged messages again when it comes
back). Redelivery never duplicates: rows are COPYed into a temporary table and inserted with
ON CONFLICT (gateway_id, device_id, seq) DO NOTHING. After each commit the ingest confirms the
batch to each gateway (`imuad/<gw>/ingested`), which then drops those rows from its outbox.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..contracts import mqtt as c9
from ..errors import ImuadError
from . import schema

log = logging.getLogger("imuad.fleet.ingest")

COLUMNS = ("gateway_id", "device_id", "seq", "kind", "state", "score", "uptime_ms", "model_id",
           "flags", "received_at", "ingested_at")
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)
# the batch's staging table: the event columns the ingest writes (not the table's id)
BATCH_TABLE = (f"CREATE TEMP TABLE IF NOT EXISTS ingest_batch ON COMMIT DELETE ROWS AS "
               f"SELECT {', '.join(COLUMNS)} FROM events WITH NO DATA")


@dataclass
class IngestStats:
    received: int = 0     # messages taken from the broker (redeliveries included)
    inserted: int = 0     # new rows in PostgreSQL
    duplicates: int = 0   # rows already there (redelivery, a gateway republishing)
    malformed: int = 0    # dropped (acknowledged) because they break contract C9
    batches: int = 0
    db_retries: int = 0
    statuses: int = 0     # device rows taken from gateways (C9 MQTT status)


class Ingest:
    def __init__(self, broker: str, db: str, name: str, *, batch: int = 2000,
                 flush_s: float = 0.2, share: str = c9.SHARE_GROUP,
                 prefix: str = c9.PREFIX) -> None:
        self.db_url = db
        self.batch = batch
        self.flush_s = flush_s
        self.stats = IngestStats()
        self.conn = schema.connect(db)
        schema.migrate(self.conn)
        self.conn.execute(BATCH_TABLE)
        self.conn.commit()
        self._lock = threading.Lock()
        self._buf: list[Any] = []
        self._acks: list[Any] = []  # command acks from gateways (C9 MQTT commands/ack)
        self._statuses: list[Any] = []  # device rows from gateways (C9 MQTT status)
        self._next_relay = 0.0
        self._full = threading.Event()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self.last_message = time.monotonic()
        from ..gateway.mqtt import make_client
        host, port = c9.parse_broker_url(broker)
        self.subscription = c9.events_subscription(prefix, share)
        self.ack_subscription = f"$share/{share}/{prefix}/+/commands/ack"
        self.status_subscription = c9.status_subscription(prefix, share)
        self.client = make_client(f"imuad-ingest-{c9.check_gateway_id(name, '--name')}",
                                  host, port, broker, manual_ack=True,
                                  receive_maximum=min(65535, max(1000, 2 * batch)))
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.loop_start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any,
                    props: Any = None) -> None:
        if not rc.is_failure:
            client.subscribe([(self.subscription, 1), (self.ack_subscription, 1),
                              (self.status_subscription, 1)])

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self.last_message = time.monotonic()  # any message: --exit-idle waits for statuses too
        if msg.topic.endswith("/status"):
            with self._lock:
                self._statuses.append(msg)
            return
        if msg.topic.endswith("/commands/ack"):
            with self._lock:
                self._acks.append(msg)
            return
        with self._lock:
            self._buf.append(msg)
            if len(self._buf) >= self.batch:
                self._full.set()

    def stop(self) -> None:
        self._stop.set()
        self._full.set()

    def run(self, *, exit_idle: float | None = None,
            report: Any = None) -> IngestStats:
        """Until stop() (or `exit_idle` seconds without a message): batch, commit, acknowledge."""
        self._subscribed.wait(10)
        next_report = time.monotonic() + 10
        while True:
            self._full.wait(self.flush_s)
            self._full.clear()
            with self._lock:
                msgs, self._buf = self._buf[:self.batch], self._buf[self.batch:]
                if len(self._buf) >= self.batch:
                    self._full.set()
            with self._lock:
                acks, self._acks = self._acks, []
                statuses, self._statuses = self._statuses, []
            if acks:
                self._record_acks(acks)
            if statuses:
                self._record_statuses(statuses)
            if time.monotonic() >= self._next_relay:
                self._relay_commands()
                self._next_relay = time.monotonic() + 0.5
            if msgs:
                self._process(msgs)
            if self._stop.is_set():  # what is still buffered is not acked: the broker resends it
                break
            if not msgs and exit_idle is not None and \
                    time.monotonic() - self.last_message > exit_idle:
                break
            if report is not None and time.monotonic() >= next_report:
                report(self.stats)
                next_report = time.monotonic() + 10
        self.client.loop_stop()
        self.client.disconnect()
        self.conn.close()
        return self.stats

    # -- one batch ---------------------------------------------------------------------------
    def _process(self, msgs: list[Any]) -> None:
        rows: dict[tuple[str, str, int], tuple] = {}
        now = time.time()
        valid = 0
        for m in msgs:
            try:
                e = c9.decode_event(m.payload)
                valid += 1
            except ImuadError as exc:
                self.stats.malformed += 1
                log.warning("dropped message on %s: %s", m.topic, exc)
                continue
            key = (e["gateway_id"], e["device_id"], e["seq"])
            rows[key] = (e["gateway_id"], e["device_id"], e["seq"], e["kind"], e["state"],
                         e["score"], e.get("uptime_ms"), e.get("model_id"),
                         int(e.get("flags") or 0), float(e["received_at"]), now)
        ordered = [rows[k] for k in sorted(rows)]  # one lock order for every ingest process
        inserted = self._commit(ordered) if ordered else 0
        self.stats.received += len(msgs)
        self.stats.inserted += inserted
        self.stats.duplicates += valid - inserted
        self.stats.batches += 1
        for m in msgs:  # only now, after the commit: the broker may forget them
            self.client.ack(m.mid, m.qos)
        by_gateway: dict[str, dict[str, list[int]]] = {}
        for gw, dev, seq in rows:
            by_gateway.setdefault(gw, {}).setdefault(dev, []).append(seq)
        for gw, by_device in by_gateway.items():
            self.client.publish(c9.ingested_topic(gw), c9.encode_ingested(by_device), qos=1)

    # -- commands: PostgreSQL -> broker -> gateway, and their acks back ------------------------
    def _relay_commands(self) -> None:
        """Send queued commands to their gateways; sent_at is set only after the broker's PUBACK
        (a redelivered command is queued once by the gateway: its fleet id is unique there).
        SKIP LOCKED: several ingest processes never send the same row at the same time."""
        import psycopg
        if not self.client.is_connected():
            return
        try:
            with self.conn.transaction():
                rows = self.conn.execute(
                    "SELECT id, gateway_id, device_id, kind, payload_json FROM commands "
                    "WHERE sent_at IS NULL ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED").fetchall()
                infos = []
                for cid, gw, dev, kind, payload_json in rows:
                    cmd = {"id": cid, "device_id": dev, "kind": kind,
                           "payload": json.loads(payload_json or "null")}
                    infos.append((cid, self.client.publish(c9.commands_topic(gw),
                                                           c9.encode_command(cmd), qos=1)))
                sent, deadline = [], time.monotonic() + 5
                for cid, info in infos:
                    try:
                        info.wait_for_publish(max(0.01, deadline - time.monotonic()))
                    except (RuntimeError, ValueError):
                        continue
                    if info.is_published():
                        sent.append(cid)
                if sent:
                    self.conn.execute("UPDATE commands SET sent_at = %s, status = 'relayed' "
                                      "WHERE id = ANY(%s)", (time.time(), sent))
        except psycopg.Error as exc:
            log.warning("command relay failed (%s); retrying", exc)
            self._reconnect()

    def _record_acks(self, msgs: list[Any]) -> None:
        import psycopg
        rows = []
        for m in msgs:
            try:
                body = json.loads(m.payload)
                rows.append((time.time(), str(body.get("status", "sent")),
                             json.dumps(body), int(body["id"])))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("dropped command ack on %s: %s", m.topic, exc)
        try:
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    cur.executemany("UPDATE commands SET acked_at = %s, status = %s, detail = %s "
                                    "WHERE id = %s AND acked_at IS NULL", rows)
        except psycopg.Error as exc:  # not acked: the broker sends them again
            log.warning("command acks not recorded (%s)", exc)
            self._reconnect()
            return
        for m in msgs:
            self.client.ack(m.mid, m.qos)

    def _record_statuses(self, msgs: list[Any]) -> None:
        """Device rows from the gateways: what only the gateway knows (name, firmware,
        threshold, battery, source) is taken when the status is the newest seen for that device
        (its `status_at`; one without it, from an older gateway, is taken as sent); what events
        also carry (last seen, state, uptime, model) only when its last_seen is not older than
        the row's."""
        import psycopg
        rows: dict[tuple[str, str], tuple] = {}
        for m in msgs:
            try:
                st = c9.decode_status(m.payload)
            except ImuadError as exc:
                self.stats.malformed += 1
                log.warning("dropped message on %s: %s", m.topic, exc)
                continue
            key = (st["gateway_id"], st["device_id"])
            at = st.get("status_at")
            held = rows.get(key)
            if held is not None and at is not None and held[-1] is not None and held[-1] > at:
                continue  # this batch already holds a newer status of the device
            rows[key] = tuple([st["gateway_id"]] + [st.get(f) for f in c9.STATUS_FIELDS] + [at])
        newer = "devices.last_seen IS NULL OR devices.last_seen <= EXCLUDED.last_seen"
        latest = ("devices.status_at IS NULL OR EXCLUDED.status_at IS NULL "
                  "OR devices.status_at <= EXCLUDED.status_at")
        cols = ("gateway_id", *c9.STATUS_FIELDS, "status_at")
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO devices ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
                    "ON CONFLICT (gateway_id, device_id) DO UPDATE SET "
                    + ", ".join(f"{c} = CASE WHEN {latest} THEN EXCLUDED.{c} ELSE devices.{c} END"
                                for c in ("name", "fw_version", "threshold", "battery", "source"))
                    + ", status_at = GREATEST(devices.status_at, EXCLUDED.status_at), "
                    + ", ".join(f"{c} = CASE WHEN {newer} THEN EXCLUDED.{c} ELSE devices.{c} END"
                                for c in ("model_id", "state", "uptime_ms", "last_seen")),
                    [rows[k] for k in sorted(rows)])  # one lock order for every ingest
        except psycopg.Error as exc:  # not acked: the broker sends them again
            log.warning("device statuses not recorded (%s)", exc)
            self._reconnect()
            return
        self.stats.statuses += len(rows)
        for m in msgs:
            self.client.ack(m.mid, m.qos)

    def _commit(self, rows: list[tuple]) -> int:
        import psycopg
        for attempt, pause in enumerate((*RETRY_S, None)):
            try:
                return self._insert(rows)
            except (psycopg.OperationalError, psycopg.errors.DeadlockDetected,
                    psycopg.errors.SerializationFailure) as exc:
                if pause is None:
                    raise ImuadError(f"PostgreSQL {schema.redact(self.db_url)}: {exc}") from None
                self.stats.db_retries += 1
                log.warning("batch failed (%s), retrying in %.1f s", exc, pause)
                time.sleep(pause)
                self._reconnect()
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass
        try:
            self.conn = schema.connect(self.db_url)
            self.conn.execute(BATCH_TABLE)
            self.conn.commit()
        except ImuadError as exc:
            log.warning("%s", exc)

    def _insert(self, rows: list[tuple]) -> int:
        if self.conn.closed:
            self._reconnect()
        conn = self.conn
        with conn.transaction():
            with conn.cursor() as cur:
                with cur.copy(f"COPY ingest_batch ({', '.join(COLUMNS)}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
                cur.execute(f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT "
                            f"{', '.join(COLUMNS)} FROM ingest_batch "
                            "ORDER BY gateway_id, device_id, seq ON CONFLICT DO NOTHING")
                inserted = cur.rowcount
                cur.execute(
                    "INSERT INTO devices (gateway_id, device_id, model_id, last_seen, state, "
                    "uptime_ms, source) SELECT DISTINCT ON (gateway_id, device_id) "
                    "gateway_id, device_id, model_id, received_at, state, uptime_ms, "
                    "'gateway' FROM ingest_batch ORDER BY gateway_id, device_id, "
                    "received_at DESC, seq DESC ON CONFLICT (gateway_id, device_id) DO UPDATE "
                    "SET model_id = EXCLUDED.model_id, last_seen = EXCLUDED.last_seen, "
                    "state = EXCLUDED.state, uptime_ms = EXCLUDED.uptime_ms "
                    "WHERE devices.last_seen IS NULL OR devices.last_seen <= EXCLUDED.last_seen")
                cur.execute(
                    "INSERT INTO gateways (gateway_id, first_seen, last_seen) "
                    "SELECT gateway_id, MIN(ingested_at), MAX(ingested_at) FROM ingest_batch "
                    "GROUP BY gateway_id ORDER BY gateway_id ON CONFLICT (gateway_id) "
                    "DO UPDATE SET last_seen = EXCLUDED.last_seen")
        return inserted


def stats_line(s: IngestStats) -> str:
    return json.dumps(vars(s))
