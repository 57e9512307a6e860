"""The plant's screen end to end, on real Mosquitto and PostgreSQL: gateways (their store and
MQTT outbox) -> `imuad fleet ingest` -> PostgreSQL -> `imuad dashboard --store postgresql://`
(live stream, device rows, pages), and commands back: dashboard -> PostgreSQL -> ingest ->
the right gateway -> acknowledged in PostgreSQL, with the dashboard's token rules."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "dashboard"))
from fleetkit import ingest_argv, wait_for, wait_line  # noqa: E402

from imuad.contracts import mqtt as c9  # noqa: E402

pytestmark = pytest.mark.timeout(180)
TOKEN = "fleet-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_gateways_to_the_plant_screen_and_commands_back(broker, pg_url, procs, tmp_path):
    import httpx
    import psycopg
    from dashboard_probe import live_server

    from imuad.dashboard.app import Settings, create_app
    from imuad.gateway.mqtt import MqttOutbox
    from imuad.gateway.store import Store

    ing = procs.start(*ingest_argv(broker.url, pg_url, "one"))
    wait_line(ing, "INGEST READY", 30)
    stores = {gw: Store(tmp_path / f"{gw}.db") for gw in ("hall-1", "hall-2")}
    for gw, st_ in stores.items():
        st_.upsert_device("press", name=f"Press of {gw}", model_id="9f3a61c2", fw_version="1.2.0",
                          last_seen=time.time(), state=0, threshold=120, uptime_ms=1000,
                          battery=0.8, source="ble")
        st_.insert_events("press", [dict(seq=1, kind=3, state=0, score=40, flags=0,
                                         received_at=time.time())])
    outboxes = {gw: MqttOutbox(broker.url, tmp_path / f"{gw}.db", gw) for gw in stores}
    try:
        def pg(sql: str, *args):
            with psycopg.connect(pg_url) as c:
                return c.execute(sql, args).fetchall()
        wait_for(lambda: pg("SELECT COUNT(*) FROM devices WHERE name IS NOT NULL")[0][0] == 2,
                 30, "both device statuses in PostgreSQL", [ing])
        wait_for(lambda: pg("SELECT COUNT(*) FROM events")[0][0] == 2, 30, "2 events", [ing])

        app = create_app(Settings(store=pg_url, token=TOKEN))
        with live_server(app) as base, httpx.Client(base_url=base, headers=AUTH,
                                                    timeout=10) as http:
            devs = {d["device_id"]: d for d in http.get("/api/devices").json()["devices"]}
            assert sorted(devs) == ["hall-1/press", "hall-2/press"]
            assert devs["hall-2/press"]["name"] == "Press of hall-2"
            assert devs["hall-2/press"]["threshold"] == 120
            assert http.get("/devices/hall-2%2Fpress").status_code == 200

            # a new event at a gateway reaches an open stream of the dashboard
            with http.stream("GET", "/api/stream", params={"device": "hall-2/press"}) as r:
                lines = r.iter_lines()
                assert next(lines) == "retry: 2000"
                t0 = time.time()
                stores["hall-2"].insert_events("press", [dict(seq=2, kind=1, state=1, score=150,
                                                              flags=0, received_at=t0)])
                outboxes["hall-2"].notify()
                for line in lines:
                    if line.startswith("data: "):
                        ev = json.loads(line[6:])
                        break
            assert (ev["device_id"], ev["seq"], ev["kind"]) == ("hall-2/press", 2, 1)

            # a threshold change on the device's gateway: the token is required
            body = {"device_id": "hall-2/press", "threshold_on": 160, "threshold_off": 110}
            assert httpx.post(f"{base}/api/commands/threshold", json=body).status_code == 401
            assert pg("SELECT COUNT(*) FROM commands")[0][0] == 0
            r = http.post("/api/commands/threshold", json=body)
            assert r.status_code == 200, r.text
            wait_for(lambda: len(stores["hall-2"].pending_commands()) == 1, 30,
                     "the command at hall-2", [ing])
            cmd = stores["hall-2"].pending_commands()[0]
            assert (cmd["device_id"], cmd["kind"], cmd["payload"]["threshold_on"]) == \
                ("press", "config", 160)
            assert stores["hall-1"].pending_commands() == []
            stores["hall-2"].mark_sent(cmd["id"])  # the gateway core wrote it to the device
            wait_for(lambda: pg("SELECT status FROM commands WHERE acked_at IS NOT NULL")
                     == [("sent",)], 30, "the command's ack in PostgreSQL", [ing])
            assert http.post("/api/commands/threshold", json=body).json()["pending"][0]["id"] \
                != r.json()["id"]  # the first one is no longer pending

            # an acknowledgement on the plant's screen reaches the event's gateway (C9 command
            # `ack`): its own store (and dashboard) shows it, the device never gets it
            ack = {"device_id": "hall-2/press", "seq": 2, "note": "bearing checked"}
            assert httpx.post(f"{base}/api/events/ack", json=ack).status_code == 401
            assert http.post("/api/events/ack", json=ack).status_code == 200

            def local_ack(gw: str) -> tuple:
                return tuple(stores[gw].db.execute(
                    "SELECT acked, ack_note, ack_at FROM events WHERE device_id = 'press' AND seq = 2"
                ).fetchone() or ())
            wait_for(lambda: local_ack("hall-2")[:2] == (1, "bearing checked"), 30,
                     "the acknowledgement in hall-2's store", [ing])
            assert local_ack("hall-2")[2] == pg("SELECT ack_at FROM events WHERE gateway_id = "
                                                "'hall-2' AND seq = 2")[0][0]
            assert [c["kind"] for c in stores["hall-2"].pending_commands()] == ["config"]  # none for the device
            wait_for(lambda: pg("SELECT kind, status FROM commands WHERE kind = 'ack' AND "
                                "acked_at IS NOT NULL") == [("ack", "sent")], 30,
                     "the ack command's ack in PostgreSQL", [ing])
            assert local_ack("hall-1") == ()  # hall-1 has no seq 2; nothing else changed
            assert stores["hall-1"].db.execute("SELECT COUNT(*) FROM events WHERE acked = 1"
                                               ).fetchone()[0] == 0

            # the gateway learns the new threshold: its status updates the plant's screen
            stores["hall-2"].upsert_device("press", threshold=160)
            wait_for(lambda: http.get("/api/devices").json()["devices"][1]["threshold"] == 160,
                     30, "the new threshold on the dashboard", [ing])
    finally:
        for ob in outboxes.values():
            ob.close(1)
        for s in stores.values():
            s.close()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.dictionaries(st.sampled_from([*c9.STATUS_FIELDS, "gateway_id", "status_at", "x"]),
                                 st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=8),
                                           st.booleans()), max_size=12)
                 .map(lambda d: json.dumps(d).encode())))
def test_any_status_payload_decodes_or_names_the_field(payload: bytes) -> None:
    try:
        body = c9.decode_status(payload)
    except c9.MqttContractError as exc:
        assert "status" in str(exc) or "gateway_id" in str(exc)
        return
    assert c9.check_gateway_id(body["gateway_id"]) and body["device_id"]
    again = c9.decode_status(c9.encode_status(body["gateway_id"], body, body.get("status_at")))
    assert {f: again[f] for f in c9.STATUS_FIELDS} == {f: body.get(f) for f in c9.STATUS_FIELDS}
    assert again.get("status_at") == body.get("status_at")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text(max_size=4),
                 st.dictionaries(st.sampled_from(["seq", "note", "ack_at", "x"]),
                                 st.one_of(st.none(), st.integers(-5, 2**33), st.floats(),
                                           st.text(max_size=600), st.booleans()), max_size=4)))
def test_any_ack_payload_decodes_or_names_the_field(payload) -> None:
    try:
        seq, note, at = c9.decode_ack(payload)
    except c9.MqttContractError as exc:
        assert "ack payload" in str(exc)
        return
    assert 0 <= seq < 2**32 and len(note) <= c9.ACK_NOTE_MAX
    assert c9.decode_ack(c9.ack_payload(seq, note, at)) == (seq, note, at)


def test_a_redelivered_fleet_ack_is_applied_once(tmp_path):
    """The gateway's side of C9 `ack`: the event gets the fleet's note and time, the command is
    recorded as sent (never pending for the device); the same fleet command again changes
    nothing, even after a local acknowledgement with another note."""
    from imuad.gateway.store import Store
    with Store(tmp_path / "gw.db") as s:
        s.insert_events("press", [dict(seq=5, kind=1, state=1, score=150, flags=0, received_at=1.0)])
        assert s.apply_fleet_ack(41, "press", 5, "bearing checked", 1234.5)
        row = s.db.execute("SELECT acked, ack_note, ack_at FROM events WHERE seq = 5").fetchone()
        assert tuple(row) == (1, "bearing checked", 1234.5)
        assert s.pending_commands() == []
        assert [(c["fleet_id"], c["kind"]) for c in s.fleet_commands_to_ack()] == [(41, "ack")]
        s.ack_event("press", 5, "local note", 2000.0)
        assert not s.apply_fleet_ack(41, "press", 5, "bearing checked", 1234.5)
        assert s.db.execute("SELECT ack_note FROM events WHERE seq = 5").fetchone()[0] == "local note"
