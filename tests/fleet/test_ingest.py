"""`imuad fleet ingest` on real Mosquitto and PostgreSQL: schema, idempotency, sharing, errors."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fleetkit import (ingest_argv, pg_count, pg_rows, simgw_argv, stored_keys,  # noqa: E402
                      wait_for, wait_line)
from services import free_port  # noqa: E402

from imuad.contracts import mqtt as c9  # noqa: E402
from imuad.errors import ImuadError  # noqa: E402
from imuad.fleet import schema  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def test_migrations_are_versioned_and_applied_once(pg_url):
    results: list[list[int]] = []

    def run() -> None:
        conn = schema.connect(pg_url)
        results.append(schema.migrate(conn))
        conn.close()

    threads = [threading.Thread(target=run) for _ in range(3)]  # ingests starting together
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [[], [], list(range(1, schema.SCHEMA_VERSION + 1))]
    conn = schema.connect(pg_url)
    assert schema.version(conn) == schema.SCHEMA_VERSION
    applied = conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
    assert applied == schema.SCHEMA_VERSION
    conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    conn.commit()
    with pytest.raises(ImuadError, match="newer than this imuad"):
        schema.migrate(conn)
    conn.close()


def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Raw QoS 1 publishes, as a gateway that republishes (or misbehaves) would send them."""
    import paho.mqtt.client as mqtt
    cl = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub",
                     protocol=mqtt.MQTTv5)
    cl.connect("127.0.0.1", port)
    cl.loop_start()
    infos = [cl.publish(t, p, qos=1) for t, p in messages]
    for i in infos:
        i.wait_for_publish(10)
    cl.loop_stop()
    cl.disconnect()


def _event(gw: str, dev: str, seq: int) -> tuple[str, bytes]:
    row = dict(device_id=dev, seq=seq, kind=1, state=1, score=seq, uptime_ms=seq,
               model_id="ab", flags=0, received_at=1000.0 + seq)
    return c9.events_topic(gw, dev), c9.encode_event(gw, row)


def test_redelivery_never_duplicates_and_malformed_is_dropped(broker, pg_url, procs):
    ing = procs.start(*ingest_argv(broker.url, pg_url, "one", "--batch", "50", "--exit-idle", "3"))
    wait_line(ing, "INGEST READY", 30)
    msgs = [_event("gw1", "dev1", s) for s in range(1, 101)]
    msgs += [_event("gw2", "dev1", s) for s in range(1, 51)]  # same device id, other gateway
    msgs += msgs[:60]  # redelivered
    msgs += [("imuad/gw1/dev1/events", b"not json"),
             ("imuad/gw1/dev1/events", json.dumps({"gateway_id": "gw1", "device_id": "dev1",
                                                   "seq": "7"}).encode()),
             ("imuad/gw1/dev1/events", json.dumps({"gateway_id": 1, "device_id": "dev1"}).encode()),
             ("imuad/gw1/dev1/status", json.dumps({"gateway_id": "gw1", "device_id": "dev1",
                                                   "threshold": "high"}).encode())]
    _publish(broker.port, msgs)
    wait_for(lambda: pg_count(pg_url) >= 150, 30, "150 rows", [ing])
    _publish(broker.port, msgs[:30])  # and again, in a later batch
    assert ing.wait(30) == 0  # --exit-idle: everything received was processed
    out = Path(ing.log_path).read_text()
    stats = json.loads(out.split("INGEST DONE ")[1].splitlines()[0])
    rows = pg_rows(pg_url)
    assert len(rows) == len(set(rows)) == 150
    assert set(rows) == {("gw1", "dev1", s) for s in range(1, 101)} | \
        {("gw2", "dev1", s) for s in range(1, 51)}
    assert stats["inserted"] == 150 and stats["malformed"] == 4
    assert stats["duplicates"] == 90
    assert "event field seq" in out  # the bad field is named in the log
    assert "status field threshold" in out


def _status(gw: str, dev: str, threshold: int, at: float | None) -> tuple[str, bytes]:
    row = dict(device_id=dev, name=f"{dev}-{threshold}", threshold=threshold, last_seen=at)
    return c9.status_topic(gw, dev), c9.encode_status(gw, row, at)


def test_a_late_status_does_not_undo_a_newer_one(broker, pg_url, procs):
    """A status redelivered late (e.g. an ingest killed before its PUBACK, the message then sent
    to another) carries its gateway's older status_at: neither in the same batch nor in a later
    one does it replace the newer threshold. A status without status_at (an older gateway) is
    taken as sent."""
    import psycopg
    ing = procs.start(*ingest_argv(broker.url, pg_url, "one", "--exit-idle", "3"))
    wait_line(ing, "INGEST READY", 30)

    def device(dev: str) -> tuple:
        with psycopg.connect(pg_url) as c:
            return c.execute("SELECT threshold, name, status_at FROM devices WHERE gateway_id = 'gw1' "
                             "AND device_id = %s", (dev,)).fetchone()

    _publish(broker.port, [_status("gw1", "a", 120, 2000.0), _status("gw1", "a", 100, 1000.0)])
    wait_for(lambda: device("a") is not None, 30, "device a", [ing])
    _publish(broker.port, [_status("gw1", "a", 90, 1500.0)])  # later batch, still older
    _publish(broker.port, [_status("gw1", "b", 50, 10.0)])
    wait_for(lambda: device("b") is not None, 30, "device b", [ing])
    assert device("a") == (120, "a-120", 2000.0)
    _publish(broker.port, [_status("gw1", "a", 130, 2500.0), _status("gw1", "b", 70, None)])
    wait_for(lambda: device("a")[0] == 130, 30, "the newer status of a", [ing])
    assert ing.wait(30) == 0
    assert device("a") == (130, "a-130", 2500.0)
    assert device("b") == (70, "b-70", 10.0)


def test_ingest_confirms_and_gateway_outbox_empties(broker, pg_url, procs, tmp_path):
    ing = procs.start(*ingest_argv(broker.url, pg_url, "one"))
    wait_line(ing, "INGEST READY", 30)
    gw = procs.start(*simgw_argv(broker.url, tmp_path / "gw", ["hall-1", "hall-2"], 3, 100))
    assert gw.wait(60) == 0, Path(gw.log_path).read_text()
    assert "SIMGW DONE unpublished=0 unconfirmed=0" in Path(gw.log_path).read_text()
    rows = pg_rows(pg_url)
    assert len(rows) == 600 and set(rows) == stored_keys(tmp_path / "gw")
    import psycopg
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 6
        assert [r[0] for r in c.execute("SELECT gateway_id FROM gateways ORDER BY 1")] == \
            ["hall-1", "hall-2"]


def test_two_ingests_share_the_stream(broker, pg_url, procs, tmp_path):
    a = procs.start(*ingest_argv(broker.url, pg_url, "a", "--batch", "100"))
    b = procs.start(*ingest_argv(broker.url, pg_url, "b", "--batch", "100"))
    wait_line(a, "INGEST READY", 30)
    wait_line(b, "INGEST READY", 30)
    gws = [f"g{i}" for i in range(4)]
    gw = procs.start(*simgw_argv(broker.url, tmp_path / "gw", gws, 5, 100))
    assert gw.wait(90) == 0, Path(gw.log_path).read_text()
    for p in (a, b):
        p.send_signal(15)
        assert p.wait(30) == 0
    stats = [json.loads(Path(p.log_path).read_text().split("INGEST DONE ")[1].splitlines()[0])
             for p in (a, b)]
    rows = pg_rows(pg_url)
    assert len(rows) == len(set(rows)) == 2000
    assert set(rows) == stored_keys(tmp_path / "gw")
    assert all(s["inserted"] > 0 for s in stats)  # both did part of the work
    assert sum(s["inserted"] for s in stats) == 2000


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imuad.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_unreachable_services_are_one_line_errors(broker, pg_url, pg_cluster):
    dead_pg = f"postgresql://imuad:secret@127.0.0.1:{free_port()}/x"
    r = _cli(*ingest_argv(broker.url, dead_pg, "one"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "cannot reach PostgreSQL postgresql://imuad:***@127.0.0.1" in r.stderr
    assert "secret" not in r.stderr
    r = _cli(*ingest_argv(f"mqtt://127.0.0.1:{free_port()}", pg_url, "one"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "cannot reach MQTT broker mqtt://127.0.0.1" in r.stderr
    r = _cli(*ingest_argv("http://x", pg_url, "one"))
    assert "--broker 'http://x': expected mqtt://HOST[:PORT]" in r.stderr
    r = _cli("fleet", "migrate", "--db", "sqlite:///x.db")
    assert r.returncode != 0 and "--db 'sqlite:///x.db': expected postgresql://" in r.stderr
    fresh = pg_cluster.new_database()
    v = schema.SCHEMA_VERSION
    r = _cli("fleet", "migrate", "--db", fresh)
    applied = ", ".join(map(str, range(1, v + 1)))
    assert r.returncode == 0 and f"schema version {v} (applied {applied})" in r.stdout
    r = _cli("fleet", "migrate", "--db", fresh)
    assert r.returncode == 0 and f"schema version {v} (up to date)" in r.stdout


def test_commands_reach_the_right_gateway_and_are_acked(broker, pg_url, procs, tmp_path):
    """dashboard/CLI -> PostgreSQL -> ingest -> broker -> the right gateway's store queue; once
    the gateway core has written it to the device (mark_sent), the ack goes back to PostgreSQL.
    Any kind passes through with its JSON payload."""
    import psycopg

    from imuad.gateway.mqtt import MqttOutbox
    from imuad.gateway.store import Store
    ing = procs.start(*ingest_argv(broker.url, pg_url, "one"))
    wait_line(ing, "INGEST READY", 30)
    stores = {gw: Store(tmp_path / f"{gw}.db") for gw in ("hall-1", "hall-2")}
    outboxes = {gw: MqttOutbox(broker.url, tmp_path / f"{gw}.db", gw) for gw in stores}
    try:
        r = _cli("fleet", "command", "--db", pg_url, "--gateway", "hall-2", "--device", "dev9",
                 "--kind", "calibrate", "--payload", '{"windows": 300}')
        assert r.returncode == 0, r.stderr
        r = _cli("fleet", "command", "--db", pg_url, "--gateway", "hall-2", "--device", "dev9",
                 "--kind", "config", "--payload",
                 '{"threshold_on": 900, "threshold_off": 700}')
        assert r.returncode == 0, r.stderr
        wait_for(lambda: len(stores["hall-2"].pending_commands()) == 2, 30, "2 commands", [ing])
        got = stores["hall-2"].pending_commands()
        assert [(c["device_id"], c["kind"], c["payload"]) for c in got] == [
            ("dev9", "calibrate", {"windows": 300}),
            ("dev9", "config", {"threshold_on": 900, "threshold_off": 700})]
        assert stores["hall-1"].pending_commands() == []  # only the addressed gateway
        with psycopg.connect(pg_url) as c:
            assert c.execute("SELECT COUNT(*) FROM commands WHERE sent_at IS NOT NULL "
                             "AND acked_at IS NULL").fetchone()[0] == 2
        for cmd in got:  # what Gateway._send_commands does after the BLE write
            stores["hall-2"].mark_sent(cmd["id"])

        def acked() -> int:
            with psycopg.connect(pg_url) as c:
                return c.execute("SELECT COUNT(*) FROM commands WHERE acked_at IS NOT NULL "
                                 "AND status = 'sent'").fetchone()[0]
        wait_for(lambda: acked() == 2, 30, "2 acks in PostgreSQL", [ing])
        assert outboxes["hall-2"].commands_received == 2
    finally:
        for ob in outboxes.values():
            ob.close(1)
        for s in stores.values():
            s.close()
