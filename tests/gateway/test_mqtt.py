"""The gateway's MQTT outbox against a real Mosquitto broker started on 127.0.0.1 (contract C9
MQTT): topics, payload, PUBACK bookkeeping, clear errors. Fleet behaviour (confirmations,
restarts, PostgreSQL) is in tests/fleet."""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "host"))
from imuad.contracts import mqtt as c9  # noqa: E402
from imuad.gateway.mqtt import MqttOutbox, topic_for  # noqa: E402
from imuad.gateway.store import Store  # noqa: E402


@pytest.mark.timeout(60)
def test_events_reach_the_broker(broker, tmp_path):
    import paho.mqtt.client as mqtt
    got, ready = [], threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe("imuad/+/+/events", qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    sub.connect("127.0.0.1", broker)
    sub.loop_start()
    db = tmp_path / "g.db"
    try:
        assert ready.wait(10)
        with Store(db) as s:
            s.insert_events("F0:00:00:00:00:01", [dict(seq=seq, kind=1, state=1, score=seq)
                                                  for seq in range(1, 51)])
        fwd = MqttOutbox(f"mqtt://127.0.0.1:{broker}", db, "hall-1")
        fwd.notify()
        assert fwd.wait_published(20)
        assert fwd.published == 50
        fwd.close()
        deadline = time.monotonic() + 10
        while len(got) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert sorted(g[1]["seq"] for g in got) == list(range(1, 51))
    assert {g[0] for g in got} == {topic_for("hall-1", "F0:00:00:00:00:01")} \
        == {"imuad/hall-1/F0:00:00:00:00:01/events"}
    assert got[0][1]["device_id"] == "F0:00:00:00:00:01"
    assert got[0][1]["gateway_id"] == "hall-1"
    assert set(got[0][1]) == set(c9.EVENT_FIELDS) | {"gateway_id"}
    with Store(db) as s:  # acknowledged by the broker, waiting for the fleet ingest's confirmation
        assert s.outbox_counts() == {"unpublished": 0, "unconfirmed": 50}


def test_unreachable_broker_is_a_clear_error(tmp_path):
    from imuad.errors import ImuadError
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ImuadError, match="MQTT broker"):
        MqttOutbox(f"mqtt://127.0.0.1:{port}", tmp_path / "g.db", "hall-1")


@pytest.mark.parametrize("bad", ["", "a/b", "+", "-lead", "x" * 64, "a b"])
def test_gateway_id_is_validated(bad):
    from imuad.errors import ImuadError
    with pytest.raises(ImuadError, match="--gateway-id"):
        c9.check_gateway_id(bad)


def test_broker_url_is_validated():
    from imuad.errors import ImuadError
    assert c9.parse_broker_url("mqtt://h:1884") == ("h", 1884)
    assert c9.parse_broker_url("h") == ("h", 1883)
    for bad in ("http://h", "mqtt://", "mqtt://h:x"):
        with pytest.raises(ImuadError, match="--broker"):
            c9.parse_broker_url(bad)


def test_gateway_run_refuses_a_bad_gateway_id_before_any_work(tmp_path, capsys):
    from imuad.cli import main
    db = tmp_path / "g.db"
    rc = main(["gateway", "run", "--db", str(db), "--mqtt", "mqtt://127.0.0.1:1",
               "--gateway-id", "hall/1"])
    assert rc != 0
    assert "--gateway-id 'hall/1'" in capsys.readouterr().err
    assert not db.exists()
