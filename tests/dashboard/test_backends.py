"""The same dashboard behaviour over both stores: a gateway's SQLite file and the fleet's
PostgreSQL (a real server, the fleet schema as `imuad fleet migrate` makes it).

Each test runs once per back end; `gw.key(dev)` is the dashboard's name of a device (the
fleet's is `<gateway>/<device>`). PostgreSQL-only behaviour (NOTIFY, commit-ordered ids,
schema checks) follows at the end.
"""
from __future__ import annotations

import csv
import io
import json
import threading
import time
from typing import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from imuad.dashboard.app import Settings, create_app
from imuad.errors import ImuadError

from dashboard_c9 import TOKEN, FakeFleet, FakeGateway, populate
from dashboard_probe import live_server

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[FakeGateway | FakeFleet]:
    gw = FakeGateway(tmp_path / "store.db") if request.param == "sqlite" \
        else FakeFleet(request.getfixturevalue("pg_url"))
    populate(gw)
    yield gw
    gw.close()


def client(gw: FakeGateway | FakeFleet, **kw) -> TestClient:
    return TestClient(create_app(Settings(store=gw.path, token=TOKEN, poll_s=0.02, **kw)),
                      follow_redirects=False)


def test_devices_with_their_alerts_scores_and_drift(store) -> None:
    k = store.key
    store.insert_events([dict(device_id="fan-2", seq=2, kind=4, score=90)])  # drift
    with client(store) as c:
        assert c.get("/api/devices").status_code == 401
        devs = {d["device_id"]: d for d in c.get("/api/devices", params={"spark": 3},
                                                   headers=AUTH).json()["devices"]}
    assert list(devs) == [k("fan-2"), k("pump-1")]
    pump, fan = devs[k("pump-1")], devs[k("fan-2")]
    assert (pump["name"], pump["threshold"], pump["open_alerts"], pump["last_score"]) == \
        ("Pump 1", 120, 1, 30)
    assert pump["spark"] == [49, 150, 30] and not pump["drifting"]
    assert fan["drifting"] and fan["open_alerts"] == 1


def test_event_filters_counts_and_csv(store) -> None:
    k = store.key
    with client(store) as c:
        def ev(**params) -> dict:
            r = c.get("/api/events", params=params, headers=AUTH)
            assert r.status_code == 200, r.text
            return r.json()
        assert ev(device=k("pump-1"))["total"] == 12
        onsets = ev(kind="onset")
        assert sorted((e["device_id"], e["seq"]) for e in onsets["events"]) == \
            sorted([(k("pump-1"), 10), (k("fan-2"), 1)] + ([("sim:r1", 3)] if store.has_runs
                                                           else [(k("sim:r1"), 3)]))
        newest = ev(device=k("pump-1"), limit=2)["events"]
        assert [e["seq"] for e in newest] == [11, 10]  # newest first
        assert ev(device="no-such/device")["total"] == 0
        r = c.get("/api/events.csv", params={"device": k("pump-1")}, headers=AUTH)
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [int(x["seq"]) for x in rows] == list(range(12))  # oldest first
        assert {x["device_id"] for x in rows} == {k("pump-1")}
        page = c.get("/alerts", params={"device": k("pump-1")}, headers=AUTH)
        assert page.status_code == 200 and "2 events" in page.text  # onset + clear


def test_acknowledge_needs_the_token_and_is_stored(store) -> None:
    k = store.key
    body = {"device_id": k("pump-1"), "seq": 10, "note": "bearing greased"}
    with client(store) as c:
        assert c.post("/api/events/ack", json=body).status_code == 401
        assert store.ack_of("pump-1", 10) == (0, None)
        r = c.post("/api/events/ack", json=body, headers=AUTH)
        assert r.status_code == 200 and r.json()["event"]["acked"] is True
        assert c.post("/api/events/ack", json={**body, "seq": 999}, headers=AUTH).status_code == 404
        devs = {d["device_id"]: d for d in c.get("/api/devices", headers=AUTH).json()["devices"]}
    assert store.ack_of("pump-1", 10) == (1, "bearing greased")
    assert devs[k("pump-1")]["open_alerts"] == 0


def test_commands_need_the_token_and_are_queued(store) -> None:
    k = store.key
    with client(store) as c:
        thr = {"device_id": k("pump-1"), "threshold_on": 140, "threshold_off": 90}
        assert c.post("/api/commands/threshold", json=thr).status_code == 401
        assert store.command_payload("pump-1", "config") is None
        r = c.post("/api/commands/threshold", json=thr, headers=AUTH)
        assert r.status_code == 200, r.text
        assert [p["device_id"] for p in r.json()["pending"]] == [k("pump-1")]
        r = c.post("/api/commands/calibrate", json={"device_id": k("pump-1"), "windows": 600},
                   headers=AUTH)
        assert r.status_code == 200, r.text
        unknown = {**thr, "device_id": k("ghost")}
        assert c.post("/api/commands/threshold", json=unknown, headers=AUTH).status_code == 404
    assert store.command_payload("pump-1", "config")["threshold_on"] == 140
    assert store.command_payload("pump-1", "calibrate")["windows"] == 600


def test_device_page_series_and_stream_backfill(store) -> None:
    k = store.key
    with client(store) as c:
        page = c.get(f"/devices/{quote(k('pump-1'), safe='')}", headers=AUTH)
        assert page.status_code == 200 and "Pump 1" in page.text
        assert c.get(f"/devices/{quote(k('ghost'), safe='')}", headers=AUTH).status_code == 404
        r = c.get(f"/api/devices/{quote(k('pump-1'), safe='')}/series", params={"limit": 5},
                  headers=AUTH)
        assert [e["seq"] for e in r.json()["events"]] == [7, 8, 9, 10, 11]
        r = c.get("/api/stream", params={"device": k("pump-1"), "last_id": 0, "max_events": 12},
                  headers=AUTH)
        seqs = [json.loads(line[6:])["seq"] for line in r.text.splitlines()
                if line.startswith("data: ")]
        assert seqs == list(range(12))


def test_new_events_reach_an_open_stream(store) -> None:
    """On PostgreSQL the fallback poll is 30 s here: only NOTIFY can deliver within the wait."""
    app = create_app(Settings(store=store.path, token=TOKEN,
                              poll_s=0.05 if store.has_runs else 30.0))
    with live_server(app) as base:
        import httpx
        with httpx.stream("GET", f"{base}/api/stream", params={"device": store.key("idle")},
                          headers=AUTH, timeout=10) as r:
            lines = r.iter_lines()
            assert next(lines) == "retry: 2000"
            t0 = time.monotonic()
            store.insert_events([dict(device_id="idle", seq=s, kind=3, score=s) for s in range(5)])
            got = []
            for line in lines:
                if line.startswith("data: "):
                    got.append(json.loads(line[6:]))
                if len(got) == 5:
                    break
            waited = time.monotonic() - t0
    assert [e["seq"] for e in got] == [0, 1, 2, 3, 4]
    assert {e["device_id"] for e in got} == {store.key("idle")}
    assert waited < 10


# ---- PostgreSQL only ------------------------------------------------------------------------
def test_fleet_ids_follow_commit_order(pg_url) -> None:
    """An inserting transaction that draws ids first but commits last must not let a reader's
    cursor pass its rows: the second inserter waits for the first to commit."""
    import psycopg

    from imuad.dashboard.queries import StoreReader
    fleet = FakeFleet(pg_url)
    reader = StoreReader(pg_url)
    row = ("hall-a", "d1", 0, 3, 0, 1, time.time(), time.time())
    insert = ("INSERT INTO events (gateway_id, device_id, seq, kind, state, score, received_at, "
              "ingested_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    a = psycopg.connect(pg_url)
    a.execute(insert, row)  # open transaction: holds the insert turn
    done = threading.Event()

    def second() -> None:
        with psycopg.connect(pg_url, autocommit=True) as b:
            b.execute(insert, ("hall-a", "d2", *row[2:]))
        done.set()

    t = threading.Thread(target=second)
    t.start()
    try:
        assert not done.wait(1.0)  # waits for the first transaction
        assert reader.events_after(0) == []
        a.commit()
        assert done.wait(10)
    finally:
        a.close()
        t.join(10)
    evs = reader.events_after(0)
    assert [e["device_id"] for e in evs] == ["hall-a/d1", "hall-a/d2"]
    assert evs[0]["id"] < evs[1]["id"]
    reader.close()
    fleet.close()


def test_fleet_store_is_checked_up_front(pg_url, pg_cluster) -> None:
    import psycopg
    with pytest.raises(ImuadError, match="no fleet schema.*imuad fleet migrate"):
        create_app(Settings(store=pg_url, token=TOKEN))
    FakeFleet(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(ImuadError, match="newer than this imuad"):
        create_app(Settings(store=pg_url, token=TOKEN))
    bad = f"postgresql://imuad:secret@127.0.0.1:{pg_cluster.port}/no_such_db"
    with pytest.raises(ImuadError) as info:
        create_app(Settings(store=bad, token=TOKEN))
    assert "secret" not in str(info.value) and "no_such_db" in str(info.value)


def test_cli_serves_the_fleet_store(pg_url, capsys: pytest.CaptureFixture[str]) -> None:
    from imuad.cli import main
    assert main(["dashboard", "--store", pg_url.replace("postgresql://imuad@",
                                                         "postgresql://imuad:pw@"),
                 "--token", TOKEN, "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "no fleet schema" in err and ":pw@" not in err


def test_a_v1_fleet_store_is_migrated_with_its_events(pg_url) -> None:
    """A store an older ingest made (schema v1, no event ids): the dashboard asks for the
    migration; after it, old events have ids in their order and new ones follow."""
    import psycopg

    from imuad.dashboard.queries import StoreReader
    from imuad.fleet import schema
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                  "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        for stmt in schema.MIGRATIONS[1]:
            c.execute(stmt)
        c.execute("INSERT INTO schema_version (version) VALUES (1)")
        c.execute("INSERT INTO events (gateway_id, device_id, seq, kind, state, score, "
                  "received_at, ingested_at) SELECT 'old', 'd', s, 3, 0, s, s, s "
                  "FROM generate_series(1, 3) s")
    with pytest.raises(ImuadError, match="version 1.*imuad fleet migrate"):
        StoreReader(pg_url)
    fleet = FakeFleet(pg_url)  # migrates, as `imuad fleet migrate` does
    fleet.insert_events([dict(device_id="new", seq=1, kind=1, score=9)])
    reader = StoreReader(pg_url)
    evs = reader.events_after(0)
    assert [(e["device_id"], e["seq"]) for e in evs] == \
        [("old/d", 1), ("old/d", 2), ("old/d", 3), ("hall-a/new", 1)]
    reader.close()
    fleet.close()


def test_postgresql_down_is_a_503_and_the_dashboard_recovers(pg_cluster) -> None:
    """PostgreSQL crashes and comes back: pages answer 503 naming the store (password hidden)
    meanwhile, and afterwards pages and the live stream work again without a restart."""
    from services import Postgres
    pg = Postgres()  # its own cluster: this test stops it
    try:
        url = pg.new_database()
        fleet = FakeFleet(url)
        populate(fleet)
        fleet.close()
        app = create_app(Settings(store=url.replace("imuad@", "imuad:pw@"), token=TOKEN))
        with live_server(app) as base:
            import httpx
            http = httpx.Client(base_url=base, headers=AUTH, timeout=30)
            assert http.get("/api/devices").status_code == 200
            pg.halt()
            r = http.get("/api/devices")
            assert r.status_code == 503 and r.headers["retry-after"] == "10"
            assert "unreadable" in r.json()["detail"] and ":pw@" not in r.json()["detail"]
            page = http.get("/alerts")
            assert page.status_code == 503 and "Traceback" not in page.text
            pg.start()
            deadline = time.monotonic() + 30
            while http.get("/api/devices").status_code != 200:
                assert time.monotonic() < deadline, "no recovery after PostgreSQL restarted"
                time.sleep(0.5)
            assert len(http.get("/api/devices").json()["devices"]) == 2
            with httpx.stream("GET", f"{base}/api/stream", headers=AUTH, timeout=30) as r:
                lines = r.iter_lines()
                assert next(lines) == "retry: 2000"
                fleet = FakeFleet(url)
                fleet.insert_events([dict(device_id="pump-1", seq=99, kind=1, score=200)])
                fleet.close()
                for line in lines:
                    if line.startswith("data: ") and '"seq":99' in line:
                        break
            http.close()
    finally:
        pg.stop()


def test_export_walks_every_event_once_across_batches_and_ties(store) -> None:
    """The CSV export's keyset batches: events sharing received_at and seq (several devices at
    the same instant) are neither skipped nor repeated at a batch boundary."""
    from imuad.dashboard.queries import EventFilter, StoreReader
    t = 1_700_000_000.0
    store.insert_events([dict(device_id=f"m{d}", seq=s, kind=3, score=s, received_at=t + s // 3)
                         for d in range(4) for s in range(10)])
    reader = StoreReader(store.path)
    want = reader.events(EventFilter(since=t, until=t + 10), limit=1000, newest_first=False)
    for batch in (1, 3, 7, 40):
        got = list(reader.iter_events(EventFilter(since=t, until=t + 10), batch=batch))
        assert [(e["device_id"], e["seq"]) for e in got] == \
            [(e["device_id"], e["seq"]) for e in want], batch
    assert len(want) == 40
    reader.close()
