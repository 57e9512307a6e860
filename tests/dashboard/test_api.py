"""API behaviour of the dashboard: auth, validation, ack, CSV, runs, live stream."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imuad.dashboard.app import Settings, create_app
from imuad.errors import ImuadError

from dashboard_c9 import FakeGateway
from dashboard_c9 import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_for(gw: FakeGateway, public_read: bool = False, runs_dir: Path | None = None) -> TestClient:
    app = create_app(Settings(store=gw.path, token=TOKEN, public_read=public_read,
                              runs_dir=runs_dir, poll_s=0.02))
    return TestClient(app, follow_redirects=False)


def test_dashboard_does_not_import_tensorflow() -> None:
    import subprocess
    code = ("import sys, imuad.dashboard.app, imuad.dashboard.commands; "
            "sys.exit(1 if any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImuadError, match="no such file"):
        create_app(Settings(store=tmp_path / "nope.db", token=TOKEN))
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(ImuadError, match="empty file"):
        create_app(Settings(store=tmp_path / "empty.db", token=TOKEN))
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE notes (x TEXT)")
    other.close()
    with pytest.raises(ImuadError, match="missing table"):
        create_app(Settings(store=tmp_path / "other.db", token=TOKEN))


def test_reads_need_token_unless_public_read(populated: FakeGateway) -> None:
    with client_for(populated) as c:
        assert c.get("/api/devices").status_code == 401
        assert c.get("/api/events.csv").status_code == 401
        assert c.get("/api/stream").status_code == 401
        assert c.get("/api/devices", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = c.get("/api/devices", headers=AUTH)
        assert r.status_code == 200
        assert [d["device_id"] for d in r.json()["devices"]] == ["fan-2", "pump-1"]
    with client_for(populated, public_read=True) as c:
        r = c.get("/api/devices")
        assert r.status_code == 200
        pump = next(d for d in r.json()["devices"] if d["device_id"] == "pump-1")
        assert pump["open_alerts"] == 1 and pump["last_score"] == 30 and pump["threshold"] == 120
        assert c.get("/").status_code == 200
        assert "Pump 1" in c.get("/").text or "pump-1" in c.get("/").text


def test_ack_requires_token_and_is_stored(populated: FakeGateway) -> None:
    body = {"device_id": "pump-1", "seq": 10, "note": "bearing checked"}
    with client_for(populated, public_read=True) as c:
        assert c.post("/api/events/ack", json=body).status_code == 401
        assert c.post("/api/events/ack", json=body,
                      headers={"Authorization": "Bearer nope-nope-nope"}).status_code == 401
        ev = c.get("/api/events", params={"device": "pump-1", "kind": "onset"}).json()["events"][0]
        assert ev["acked"] is False
        r = c.post("/api/events/ack", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["event"]["acked"] is True
    row = populated.conn.execute(
        "SELECT acked, ack_note, ack_at FROM events WHERE device_id='pump-1' AND seq=10").fetchone()
    assert row[0] == 1 and row[1] == "bearing checked" and row[2] > 0
    with client_for(populated, public_read=True) as c:
        r = c.get("/api/events", params={"acked": "no", "kind": "onset"}).json()
        assert [(e["device_id"], e["seq"]) for e in r["events"]] == [("fan-2", 1), ("sim:r1", 3)]
        assert c.post("/api/events/ack", json={"device_id": "pump-1", "seq": 99},
                      headers=AUTH).status_code == 404


@pytest.mark.parametrize("body", [
    {"device_id": "pump-1", "seq": -1},
    {"device_id": "", "seq": 1},
    {"device_id": "pump-1", "seq": "x"},
    {"device_id": "pump-1", "seq": 1, "note": "n" * 501},
    {"device_id": "pump-1", "seq": 1, "extra": 1},
    {"seq": 1},
])
def test_ack_validation(populated: FakeGateway, body: dict) -> None:
    with client_for(populated) as c:
        r = c.post("/api/events/ack", json=body, headers=AUTH)
        assert r.status_code == 422, r.text


def test_sql_injection_is_inert(populated: FakeGateway) -> None:
    with client_for(populated) as c:
        evil = "pump-1' OR '1'='1"
        assert c.get("/api/events", params={"device": evil}, headers=AUTH).json()["total"] == 0
        r = c.post("/api/events/ack", json={"device_id": evil, "seq": 10, "note": "x"}, headers=AUTH)
        assert r.status_code == 404
    assert populated.conn.execute("SELECT COUNT(*) FROM events WHERE acked=1").fetchone()[0] == 0


def test_event_filters(populated: FakeGateway) -> None:
    with client_for(populated) as c:
        def ids(**params: str) -> list[tuple[str, int]]:
            r = c.get("/api/events", params=params, headers=AUTH)
            assert r.status_code == 200, r.text
            return [(e["device_id"], e["seq"]) for e in r.json()["events"]]
        assert ids(kind="alerts", device="pump-1") == [("pump-1", 11), ("pump-1", 10)]
        assert len(ids(kind="heartbeat")) == 10
        assert ids(kind="clear") == [("pump-1", 11)]
        t = populated.conn.execute("SELECT received_at FROM events WHERE seq=10 AND device_id='pump-1'").fetchone()[0]
        assert ids(kind="onset", since=str(t - 1), until=str(t + 1)) == [("pump-1", 10)]
        from datetime import datetime, timezone
        iso_since = datetime.fromtimestamp(t - 1, timezone.utc).replace(tzinfo=None).isoformat()
        assert ("pump-1", 10) in ids(kind="onset", since=iso_since)
        for bad in ({"kind": "nonsense"}, {"since": "yesterday"}, {"acked": "maybe"}, {"limit": "0"}):
            assert c.get("/api/events", params=bad, headers=AUTH).status_code == 422


def test_csv_export(populated: FakeGateway) -> None:
    populated.conn.execute("UPDATE events SET acked=1, ack_note='=HYPERLINK(\"x\")', ack_at=1 "
                           "WHERE device_id='fan-2'")
    populated.conn.commit()
    with client_for(populated) as c:
        r = c.get("/api/events.csv", params={"kind": "alerts"}, headers=AUTH)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["device_id"], x["seq"], x["kind_name"]) for x in rows] == [
        ("sim:r1", "3", "onset"), ("pump-1", "10", "onset"), ("fan-2", "1", "onset"),
        ("pump-1", "11", "clear")]
    fan = rows[2]
    assert fan["acked"] == "1" and fan["score"] == "101"
    assert fan["ack_note"].startswith("'=")  # no spreadsheet formula injection
    assert fan["received_at_utc"].endswith("Z")


def test_cookie_login_and_csrf(populated: FakeGateway) -> None:
    with client_for(populated) as c:
        r = c.post("/login", content="token=wrong&next=/", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 303 and "error=1" in r.headers["location"]
        r = c.post("/login", content=f"token={TOKEN}&next=//evil.example/",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        page = c.get("/alerts")
        assert page.status_code == 200
        csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        body = {"device_id": "pump-1", "seq": 10, "note": "via cookie"}
        assert c.post("/api/events/ack", json=body).status_code == 403          # cookie alone
        assert c.post("/api/events/ack", json=body, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
        r = c.post("/api/events/ack", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["event"]["ack_note"] == "via cookie"
        assert c.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_threshold_command_is_queued(populated: FakeGateway) -> None:
    with client_for(populated) as c:
        body = {"device_id": "pump-1", "threshold_on": 140, "threshold_off": 90}
        assert c.post("/api/commands/threshold", json=body).status_code == 401
        assert c.post("/api/commands/threshold", json={**body, "threshold_off": 200},
                      headers=AUTH).status_code == 422
        assert c.post("/api/commands/threshold", json={**body, "threshold_on": 2**31},
                      headers=AUTH).status_code == 422
        assert c.post("/api/commands/threshold", json={**body, "device_id": "ghost"},
                      headers=AUTH).status_code == 404
        r = c.post("/api/commands/threshold", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
    rows = populated.conn.execute("SELECT device_id, kind, payload_json, sent_at FROM commands").fetchall()
    assert len(rows) == 1
    dev, kind, payload, sent = rows[0]
    assert (dev, kind, sent) == ("pump-1", "config", None)
    assert json.loads(payload) == {"threshold_on": 140, "threshold_off": 90}


def test_calibrate_command_is_queued(populated: FakeGateway) -> None:
    body = {"device_id": "pump-1", "windows": 512, "allowed": 2, "k": 2, "n": 4,
            "drift_block": 300}
    with client_for(populated) as c:
        assert c.post("/api/commands/calibrate", json=body).status_code == 401
        assert c.post("/api/commands/calibrate", json=body,
                      headers={"Authorization": "Bearer wrong-token-xyz"}).status_code == 401
        r = c.post("/api/commands/calibrate", json={**body, "windows": 8}, headers=AUTH)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "windows"]
        assert c.post("/api/commands/calibrate", json={**body, "n": 0},
                      headers=AUTH).status_code == 422
        assert c.post("/api/commands/calibrate", json={**body, "device_id": "ghost"},
                      headers=AUTH).status_code == 404
        assert c.post("/api/commands/calibrate", content="windows=512",
                      headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
                      ).status_code == 415
        assert populated.conn.execute("SELECT COUNT(*) FROM commands").fetchone()[0] == 0
        r = c.post("/api/commands/calibrate", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        assert [p["kind"] for p in r.json()["pending"]] == ["calibrate"]
        r = c.post("/api/commands/calibrate", json={"device_id": "fan-2"}, headers=AUTH)
        assert r.status_code == 200, r.text
    rows = populated.conn.execute("SELECT device_id, kind, payload_json, sent_at FROM commands "
                                  "ORDER BY id").fetchall()
    assert [(d, k, s) for d, k, _, s in rows] == [("pump-1", "calibrate", None),
                                                  ("fan-2", "calibrate", None)]
    # the full request as the gateway sends it (omitted fields at the C5b defaults)
    assert json.loads(rows[0][2]) == {"windows": 512, "allowed": 2, "margin_permille": 100,
                                      "k": 2, "n": 4, "drift_block": 300, "refit": 0}
    assert json.loads(rows[1][2]) == {"windows": 1024, "allowed": 0, "margin_permille": 100,
                                      "k": 0, "n": 0, "drift_block": 0, "refit": 0}


def test_drift_and_calibrated_events_by_name(populated: FakeGateway) -> None:
    t = populated.conn.execute("SELECT MAX(received_at) FROM events").fetchone()[0]
    populated.insert_events([
        dict(device_id="pump-1", seq=12, kind=6, state=0, score=133, received_at=t + 1),
        dict(device_id="pump-1", seq=13, kind=4, state=0, score=171, received_at=t + 2),
        dict(device_id="fan-2", seq=2, kind=4, state=0, score=90, received_at=t + 3),
        dict(device_id="fan-2", seq=3, kind=5, state=0, score=20, received_at=t + 4)])
    with client_for(populated) as c:
        devs = {d["device_id"]: d for d in c.get("/api/devices", headers=AUTH).json()["devices"]}
        assert devs["pump-1"]["drifting"] is True and devs["fan-2"]["drifting"] is False
        names = [(e["seq"], e["kind_name"]) for e in c.get(
            "/api/events", params={"kind": "alerts", "device": "pump-1"}, headers=AUTH).json()["events"]]
        assert names == [(13, "drift"), (12, "calibrated"), (11, "clear"), (10, "onset")]
        r = c.get("/api/events", params={"kind": "drift_cleared,calibrated"}, headers=AUTH)
        assert [(e["device_id"], e["seq"]) for e in r.json()["events"]] == [("fan-2", 3), ("pump-1", 12)]
        rows = list(csv.DictReader(io.StringIO(c.get("/api/events.csv", params={"kind": "4,5,6"},
                                                     headers=AUTH).text)))
        assert [(x["seq"], x["kind"], x["kind_name"]) for x in rows] == [
            ("12", "6", "calibrated"), ("13", "4", "drift"), ("2", "4", "drift"),
            ("3", "5", "drift cleared")]
        page = c.get("/devices/pump-1", headers=AUTH).text
        assert 'id="device-drift" class="badge drift"' in page and 'not cleared" hidden' not in page
        assert 'class="badge calibrated">calibrated<' in page and 'id="calibrate-form"' in page
        fan = c.get("/devices/fan-2", headers=AUTH).text
        assert 'not cleared" hidden' in fan and 'class="badge drift-cleared">drift cleared<' in fan
        alerts = c.get("/alerts", headers=AUTH).text
        assert alerts.count('class="badge drift">drift<') == 2
        # a newer calibration restarts the drift watch: no longer drifting
        populated.insert_events([dict(device_id="pump-1", seq=14, kind=6, state=0, score=180,
                                      received_at=t + 5)])
        assert c.get("/api/devices/pump-1/series", headers=AUTH).json()["device"]["drifting"] is False


def test_runs_pages(populated: FakeGateway, tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    (runs_dir / "hil-7.json").write_text(json.dumps(
        {"run_id": "hil-7", "kind": "hil", "target": "esp32", "parity": {"exact": 9, "total": 10}}))
    with client_for(populated, public_read=True, runs_dir=runs_dir) as c:
        runs = c.get("/api/runs").json()["runs"]
        assert {r["run_id"] for r in runs} == {"r1", "hil-7"}
        page = c.get("/runs").text
        assert "instructions per inference" in page and "123\u202f456" in page
        detail = c.get("/runs/r1")
        assert detail.status_code == 200
        assert "parity.exact" in detail.text and "/devices/sim%3Ar1" in detail.text
        assert c.get("/runs/nope").status_code == 404
        live = c.get("/devices/sim:r1")
        assert live.status_code == 200 and "sim:r1" in live.text


def test_series_and_pages_render(populated: FakeGateway) -> None:
    with client_for(populated, public_read=True) as c:
        r = c.get("/api/devices/pump-1/series").json()
        assert [e["seq"] for e in r["events"]] == list(range(12))
        assert r["device"]["threshold"] == 120
        for url in ("/", "/devices/pump-1", "/alerts", "/alerts?kind=any&acked=no", "/runs", "/login"):
            assert c.get(url).status_code == 200, url
        assert c.get("/devices/ghost").status_code == 404
        h = c.get("/").headers
        assert "script-src 'self'" in h["content-security-policy"]
        assert c.get("/static/vendor/uplot/uPlot.iife.min.js").status_code == 200


def _sse_events(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        lines = dict(l.split(": ", 1) for l in block.splitlines() if ": " in l and not l.startswith(":"))
        if lines.get("event") == "event":
            out.append(json.loads(lines["data"]))
    return out


def test_live_stream_backfills_and_filters(populated: FakeGateway) -> None:
    with client_for(populated) as c:
        r = c.get("/api/stream", params={"device": "pump-1", "last_id": 0, "max_events": 12},
                  headers=AUTH)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        evs = _sse_events(r.text)
        assert [e["seq"] for e in evs] == list(range(12))
        assert {e["device_id"] for e in evs} == {"pump-1"}
        assert c.get("/api/stream", params={"last_id": "x"}, headers=AUTH).status_code == 422


def test_cli_reports_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imuad.cli import main
    assert main(["dashboard", "--store", str(tmp_path / "missing.db"), "--token", TOKEN]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["dashboard", "--store", str(tmp_path / "missing.db"), "--token", "short"]) == 2


def test_live_stream_unsubscribes_departed_clients(populated: FakeGateway) -> None:
    """A browser that leaves an idle stream must not stay subscribed (bounded server state)."""
    import time as _time

    import httpx

    from dashboard_probe import live_server
    from imuad.dashboard import live

    app = create_app(Settings(store=populated.path, token=TOKEN, poll_s=0.05))
    with live_server(app) as base:
        bc = app.state.broadcaster
        with httpx.stream("GET", f"{base}/api/stream?device=idle", headers=AUTH,
                          timeout=5) as r:
            assert r.status_code == 200
            lines = r.iter_lines()  # keep a reference: a collected iterator closes the socket
            assert next(lines) == "retry: 2000"
            assert len(bc.subscribers) == 1
            # live path: rows the gateway inserts now arrive, in order, batched or not
            populated.insert_events([dict(device_id="idle", seq=s, kind=3, score=s)
                                     for s in range(5)])
            got = []
            for line in lines:
                if line.startswith("data: "):
                    got.append(json.loads(line[6:])["seq"])
                if len(got) == 5:
                    break
            assert got == [0, 1, 2, 3, 4]
        deadline = _time.time() + live.DISCONNECT_CHECK_S + 3
        while bc.subscribers and _time.time() < deadline:
            _time.sleep(0.1)
        assert not bc.subscribers
