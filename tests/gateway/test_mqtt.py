"""MQTT forwarding against a real Mosquitto broker started on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "host"))
from imuad.gateway.mqtt import MqttForwarder, topic_for  # noqa: E402


@pytest.mark.timeout(60)
def test_events_reach_the_broker(broker):
    import paho.mqtt.client as mqtt
    got, ready = [], threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe("imuad/+/events", qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    sub.connect("127.0.0.1", broker)
    sub.loop_start()
    try:
        assert ready.wait(10)
        fwd = MqttForwarder(f"127.0.0.1:{broker}")
        for seq in range(1, 51):
            fwd.forward("F0:00:00:00:00:01", {"seq": seq, "kind": 1, "state": 1, "score": seq})
        fwd.close()
        deadline = time.monotonic() + 10
        while len(got) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert [g[1]["seq"] for g in got] == list(range(1, 51))
    assert {g[0] for g in got} == {topic_for("F0:00:00:00:00:01")} == {"imuad/F0:00:00:00:00:01/events"}
    assert got[0][1]["device_id"] == "F0:00:00:00:00:01"


def test_unreachable_broker_is_a_clear_error():
    from imuad.errors import ImuadError
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ImuadError, match="MQTT broker"):
        MqttForwarder(f"127.0.0.1:{port}")
