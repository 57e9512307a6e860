"""The gateway's MQTT outbox (contract C9, MQTT part): at least once from SQLite to the fleet.

Every stored event waits in the store's `outbox` table. A publisher thread (its own SQLite
connection) sends waiting rows with QoS 1 on a persistent session (client id
`imuad-gw-<gateway>`, MQTT 5, clean_start=False, session expiry) and marks them published only
on the broker's PUBACK. A row leaves the outbox when `imuad fleet ingest` confirms it
(`imuad/<gw>/ingested`, sent after the PostgreSQL commit). What the broker acknowledged but may
have lost (a broker killed before it saved its queue) is sent again:
  - on every (re)connect: rows acknowledged in the last `republish_window` seconds;
  - rows still unconfirmed while the ingest has confirmed rows acknowledged `confirm_timeout` s
    after them (it moved past them: they went missing; confirm_timeout must exceed the lag
    between the ingest processes' queues, shared subscriptions keep no order across them);
  - when no confirmation came for confirm_timeout s (then 2x, 4x, ... up to an hour): every
    row unconfirmed confirm_timeout after its PUBACK.
A gateway restart sends again everything not yet acknowledged. Duplicates are expected: the
ingest is idempotent on (gateway, device, seq). The store stays the source of truth: a broker
outage never blocks acknowledgements to the device.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..contracts import mqtt as c9
from ..errors import ImuadError

log = logging.getLogger("imuad.gateway.mqtt")

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps our session (subscriptions, queue) a week


def topic_for(gateway_id: str, device_id: str) -> str:
    return c9.events_topic(gateway_id, device_id)


def make_client(client_id: str, host: str, port: int, url: str, *, keepalive: int = 30,
                connect_timeout: float = 10.0, session_expiry: int = SESSION_EXPIRY_S,
                receive_maximum: int | None = None, manual_ack: bool = False,
                required: bool = True) -> Any:
    """A connected MQTT 5 client with a persistent session (loop not started). required=False:
    an unreachable broker is only a warning; the client's loop keeps trying to connect."""
    try:
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
    except ModuleNotFoundError as exc:
        raise ImuadError("MQTT needs paho-mqtt: pip install 'imuad[gateway]'") from exc
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    # 0 = no client-side in-flight limit: callers bound what they have in flight themselves,
    # and paho's queued -> in-flight hand-over could stall after reconnects under load
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    client.connect_timeout = connect_timeout
    try:
        client.connect(host, port, keepalive=keepalive, clean_start=False, properties=props)
    except (OSError, ValueError) as exc:
        if required:
            raise ImuadError(f"cannot reach MQTT broker {url}: {exc}") from None
        log.warning("MQTT broker %s unreachable (%s); events wait in the outbox", url, exc)
        client.connect_async(host, port, keepalive=keepalive, clean_start=False,
                             properties=props)
    return client


class MqttOutbox:
    """Publishes the store's outbox; `notify` (the Gateway's forward hook) wakes it up."""

    def __init__(self, url: str, db: str | Path, gateway_id: str, *,
                 republish_window: float = 300.0, confirm_timeout: float = 30.0,
                 max_inflight: int = 2000, require_broker: bool = True) -> None:
        """require_broker=False (a gateway): start even when the broker is unreachable now;
        events wait in the outbox until it is back."""
        self.url = url
        self.db_path = db
        self.gateway_id = c9.check_gateway_id(gateway_id)
        self.republish_window = republish_window
        self.confirm_timeout = confirm_timeout
        self.max_inflight = max_inflight
        host, port = c9.parse_broker_url(url, "--mqtt")
        self.client = make_client(c9.gateway_client_id(gateway_id), host, port, url,
                                  required=require_broker)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.published = 0  # PUBACKs received
        self.confirmed = 0  # rows confirmed by the ingest
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._reconnected = False
        self._acked_mids: list[int] = []
        self._confirmations: list[bytes] = []
        self._commands: list[bytes] = []
        self._ack_inflight: dict[int, int] = {}  # mid -> local command id (its ack)
        self.commands_received = 0
        self.statuses_published = 0
        self._status_sent: dict[str, tuple] = {}  # device -> STATUS_TRIGGER values published
        self._inflight: dict[int, int] = {}  # mid -> outbox id
        self._horizon = 0.0  # newest PUBACK time among confirmed rows
        self._error: BaseException | None = None
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="imuad-outbox", daemon=True)
        self._thread.start()

    # -- paho callbacks (network thread): only hand over, the outbox thread owns SQLite --------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any,
                    props: Any = None) -> None:
        if rc.is_failure:
            log.warning("MQTT connect refused: %s", rc)
            return
        client.subscribe([(c9.ingested_topic(self.gateway_id), 1),
                          (c9.commands_topic(self.gateway_id), 1)])
        with self._lock:
            self._reconnected = True
        self._connected.set()
        self._wake.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any,
                       props: Any = None) -> None:
        self._connected.clear()
        log.info("MQTT disconnected (%s); reconnecting", rc)

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any = None) -> None:
        with self._lock:
            self._acked_mids.append(mid)
        self._wake.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic == c9.ingested_topic(self.gateway_id):
            with self._lock:
                self._confirmations.append(msg.payload)
            self._wake.set()
        elif msg.topic == c9.commands_topic(self.gateway_id):
            with self._lock:
                self._commands.append(msg.payload)
            self._wake.set()

    # -- the outbox thread ---------------------------------------------------------------------
    def notify(self, device_id: str | None = None, row: dict[str, Any] | None = None) -> None:
        self._wake.set()

    def _run(self) -> None:
        from .store import Store
        try:
            store = Store(self.db_path)
        except BaseException as exc:  # reported by close()
            self._error = exc
            return
        cursor = 0  # outbox ids up to here were handed to paho on this connection
        next_sweep = next_acks = next_status = 0.0
        last_conf, idle = time.monotonic(), self.confirm_timeout
        try:
            while True:  # survives SQLite errors (a store locked past its busy timeout)
                try:
                    while True:
                        stopping = self._stop.is_set()
                        self._wake.wait(0.2)
                        self._wake.clear()
                        with self._lock:
                            mids, self._acked_mids = self._acked_mids, []
                            confs, self._confirmations = self._confirmations, []
                            cmds, self._commands = self._commands, []
                            reconnected, self._reconnected = self._reconnected, False
                        ids = [self._inflight.pop(m) for m in mids if m in self._inflight]
                        acks = [self._ack_inflight.pop(m) for m in mids if m in self._ack_inflight]
                        if acks:
                            store.mark_fleet_acks_published(acks)
                        if ids:
                            store.outbox_mark_published(ids)
                            self.published += len(ids)
                        for payload in confs:
                            try:
                                keys = c9.decode_ingested(payload)
                            except (ValueError, KeyError, TypeError) as exc:
                                log.warning("bad confirmation %r: %s", payload[:80], exc)
                                continue
                            newest = store.outbox_confirm(keys)
                            self.confirmed += len(keys)
                            if newest is not None:
                                self._horizon = max(self._horizon, newest)
                        if confs:
                            last_conf, idle = time.monotonic(), self.confirm_timeout
                        self._take_commands(store, cmds)
                        now = time.time()
                        if reconnected:
                            log.debug("%s: (re)connected, cursor %s -> 0", self.gateway_id,
                                      cursor)
                            store.outbox_requeue(published_after=now - self.republish_window)
                            # paho resends its own; the rest go again from SQLite
                            self._inflight.clear()
                            self._ack_inflight.clear()
                            self._status_sent.clear()  # every device's status again
                            cursor = 0
                        elif now >= next_sweep:
                            # Lost on the way (a killed ingest whose session the broker
                            # did not resend, a killed broker): rows PUBACKed
                            # confirm_timeout before the newest confirmed one (a backlog in
                            # the broker does not trigger it). When no confirmation came for
                            # `idle` s: everything unconfirmed, `idle` doubling up to an hour
                            # (an ingest that is down is not flooded with copies).
                            before = min(self._horizon, now) - self.confirm_timeout
                            mono = time.monotonic()
                            if mono - last_conf > idle:
                                before = now - self.confirm_timeout
                                last_conf, idle = mono, min(2 * idle, 3600.0)
                            if store.outbox_requeue(published_before=before):
                                cursor = 0
                            next_sweep = now + min(5.0, self.confirm_timeout / 2)
                        if stopping:
                            return
                        if self._connected.is_set() and now >= next_acks:
                            self._publish_command_acks(store)
                            next_acks = now + 0.5
                        if self._connected.is_set() and now >= next_status:
                            self._publish_statuses(store)
                            next_status = now + 1.0
                        if self._connected.is_set() and len(self._inflight) < self.max_inflight:
                            room = self.max_inflight - len(self._inflight)
                            rows = store.outbox_pending(cursor, room)
                            for r in rows:
                                info = self.client.publish(
                                    topic_for(self.gateway_id, r["device_id"]),
                                    c9.encode_event(self.gateway_id, r), qos=1)
                                if info.rc != 0:  # disconnected: from SQLite after reconnect
                                    break
                                self._inflight[info.mid] = r["outbox_id"]
                                cursor = r["outbox_id"]
                            if len(rows) and len(self._inflight) < self.max_inflight:
                                self._wake.set()  # more may be waiting
                except sqlite3.Error as exc:
                    log.warning("%s outbox: %s; retrying", self.gateway_id, exc)
                    time.sleep(1.0)
                    cursor = 0
        finally:
            store.close()

    def _take_commands(self, store: Any, payloads: list[bytes]) -> None:
        """Fleet commands into the store's queue: the gateway core sends them to the device
        like the dashboard's (any kind passes through; the core judges it). An `ack` is the
        fleet dashboard's acknowledgement of an event: applied to this store at once."""
        for payload in payloads:
            try:
                cmd = c9.decode_command(payload)
            except ImuadError as exc:
                log.warning("bad command message: %s", exc)
                continue
            if cmd["kind"] == c9.ACK_KIND:  # for this store, not for the device
                try:
                    seq, note, at = c9.decode_ack(cmd.get("payload"))
                except ImuadError as exc:
                    log.warning("bad ack command %s: %s", cmd["id"], exc)
                    continue
                taken = store.apply_fleet_ack(cmd["id"], cmd["device_id"], seq, note, at)
            else:
                taken = store.queue_fleet_command(cmd["id"], cmd["device_id"], cmd["kind"],
                                                  cmd.get("payload"))
            if taken:
                self.commands_received += 1

    def _publish_statuses(self, store: Any) -> None:
        """Device rows whose name, model, firmware, threshold, battery or source changed (all
        of them after a connect): the fleet's dashboard shows what this gateway knows. QoS 1
        and retained; a status lost with a broker restart goes again on the reconnect."""
        for row in store.devices():
            if row["source"] in ("sim", "hil", "replay"):
                continue  # runs stay on this machine
            trigger = tuple(row.get(f) for f in c9.STATUS_TRIGGER)
            if self._status_sent.get(row["device_id"]) == trigger:
                continue
            info = self.client.publish(c9.status_topic(self.gateway_id, row["device_id"]),
                                       c9.encode_status(self.gateway_id, row, time.time()),
                                       qos=1, retain=True)
            if info.rc != 0:
                break
            self._status_sent[row["device_id"]] = trigger
            self.statuses_published += 1

    def _publish_command_acks(self, store: Any) -> None:
        """Commands the gateway core handed to their device: ack them to the fleet."""
        waiting = set(self._ack_inflight.values())
        for c in store.fleet_commands_to_ack():
            if c["id"] in waiting:
                continue
            info = self.client.publish(
                c9.command_ack_topic(self.gateway_id),
                json.dumps({"id": c["fleet_id"], "status": "sent", "sent_at": c["sent_at"],
                            "gateway_id": self.gateway_id}), qos=1)
            if info.rc != 0:
                break
            self._ack_inflight[info.mid] = c["id"]

    def pending(self) -> dict[str, int]:
        from .store import Store
        with Store(self.db_path) as s:
            return s.outbox_counts()

    def wait_published(self, timeout: float) -> bool:
        """Until every stored event has its PUBACK (tests, a clean shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending()["unpublished"] == 0 and not self._inflight:
                return True
            self._wake.set()
            time.sleep(0.05)
        return False

    def close(self, timeout: float = 5.0) -> None:
        self.wait_published(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout + 5)
        self.client.loop_stop()
        self.client.disconnect()
        if self._error is not None:
            raise ImuadError(f"MQTT outbox: {self._error}")


def publish_command(client: Any, gateway_id: str, command: dict[str, Any]) -> Any:
    return client.publish(c9.commands_topic(gateway_id), c9.encode_command(command), qos=1)
