"""The gateway store: exactly the C9 schema, WAL, the functions the dashboard uses."""
from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "host"))
from imuad.errors import ImuadError  # noqa: E402
from imuad.gateway import store as store_module  # noqa: E402
from imuad.gateway.store import Store  # noqa: E402


def reference_schema() -> dict[str, list[tuple]]:
    """Tables, columns and indexes of `store.SCHEMA`, the one C9 DDL, plus its versioned
    migrations (v2: the MQTT outbox), on a blank database."""
    db = sqlite3.connect(":memory:")
    db.executescript(store_module.SCHEMA)
    for v in sorted(store_module.MIGRATIONS):
        for stmt in store_module.MIGRATIONS[v]:
            db.execute(stmt)
    return _schema(db)


def _schema(db) -> dict[str, list[tuple]]:
    out = {}
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                              "name NOT LIKE 'sqlite_%' ORDER BY name"):
        out[name] = [tuple(r) for r in db.execute(f"PRAGMA table_info({name})")]
    for (name, table) in db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type='index' AND "
                                    "name NOT LIKE 'sqlite_%' ORDER BY name"):
        out[f"index {name} on {table}"] = [tuple(r) for r in db.execute(f"PRAGMA index_info({name})")]
    return out


def test_schema_is_exactly_c9(tmp_path):
    """The live schema a Store creates (and keeps on reopening) is SCHEMA and its migrations,
    nothing more, and holds every column the dashboard reads."""
    s = Store(tmp_path / "g.db")
    live = _schema(s.db)
    assert live == reference_schema()
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.insert_event("d", 1, 1, 1, 5)
    s.close()
    with Store(tmp_path / "g.db") as again:  # reopening migrates nothing and keeps data
        assert _schema(again.db) == live and again.count_events() == 1
    from imuad.dashboard import queries
    columns = {t: {c[1] for c in cols} for t, cols in live.items() if not t.startswith("index")}
    assert set(queries.EVENT_COLUMNS) <= columns["events"]
    assert set(queries.DEVICE_COLUMNS) <= columns["devices"]
    assert set(queries.RUN_COLUMNS) <= columns["runs"]


def test_read_only_store_writes_nothing(tmp_path):
    with Store(tmp_path / "g.db") as s:
        s.insert_event("d", 1, 1, 1, 5)
    before = sorted(p.name for p in tmp_path.iterdir()), (tmp_path / "g.db").read_bytes()
    with Store(tmp_path / "g.db", readonly=True) as r:
        assert [e["seq"] for e in r.events("d")] == [1]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            r.db.execute("DELETE FROM events")
    assert (sorted(p.name for p in tmp_path.iterdir()), (tmp_path / "g.db").read_bytes()) == before


@pytest.mark.parametrize("content, what", [(b"", "empty file"), (b"hello" * 50, "not an SQLite"),
                                           (None, "is a directory")])
def test_unusable_store_files_are_named_errors(tmp_path, content, what):
    p = tmp_path / "g.db"
    if content is None:
        p.mkdir()
    else:
        p.write_bytes(content)
    with pytest.raises(ImuadError, match=what) as err:
        Store(p, readonly=True)
    assert str(p) in str(err.value)
    if content is not None and content:  # a writer must not take over a foreign file either
        with pytest.raises(ImuadError, match=what):
            Store(p)


def test_timeline_query_uses_the_received_at_index(tmp_path):
    """The dashboard's alert timeline (newest first, any filter on time) must not sort the whole
    table: SQLite walks events_received_at instead."""
    sys.path.insert(0, str(REPO / "host"))
    from imuad.dashboard.queries import EventFilter, StoreReader
    Store(tmp_path / "g.db").close()
    reader = StoreReader(tmp_path / "g.db")
    conn = reader.source._conn()
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    reader.events(EventFilter(), limit=10)
    conn.set_trace_callback(None)
    select = next(sql for sql in seen if "FROM events" in sql)
    plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + select))
    assert "events_received_at" in plan and "TEMP B-TREE" not in plan.upper(), plan


def test_events_devices_runs_commands(tmp_path):
    s = Store(tmp_path / "g.db")
    assert s.insert_event("dev", 1, 1, 1, 300, uptime_ms=10, model_id="d4c3b2a1", received_at=100.0)
    assert not s.insert_event("dev", 1, 2, 0, 5, received_at=101.0)  # duplicate seq ignored
    assert s.insert_events("dev", [dict(seq=q, kind=2, state=0, score=q, received_at=100.0 + q)
                                   for q in (2, 3, 5)]) == 3
    assert [e["seq"] for e in s.events("dev")] == [5, 3, 2, 1]
    assert [e["seq"] for e in s.events("dev", since=102.5)] == [5, 3]
    assert [e["seq"] for e in s.events("dev", kinds=[1])] == [1]
    assert [e["seq"] for e in s.events(limit=2)] == [5, 3]
    assert s.events("dev", kinds=[1])[0]["score"] == 300  # never overwritten
    assert s.contiguous_seq("dev", 0) == 3 and s.max_seq("dev") == 5

    assert s.ack_event("dev", 3, "bearing checked")
    assert not s.ack_event("dev", 99, "nothing")
    e3 = [e for e in s.events("dev") if e["seq"] == 3][0]
    assert e3["acked"] == 1 and e3["ack_note"] == "bearing checked" and e3["ack_at"] > 0

    s.upsert_device("dev", name="pump-3", state=1)
    s.upsert_device("dev", threshold=200)
    d = s.device("dev")
    assert (d["name"], d["state"], d["threshold"]) == ("pump-3", 1, 200)
    with pytest.raises(ImuadError, match="unknown device field"):
        s.upsert_device("dev", colour="red")

    s.add_run("r1", "sim", target="qemu", model="cnn", report={"f1": 0.9})
    assert s.runs()[0]["report_json"] == '{"f1": 0.9}'
    s.insert_event("sim:r1", 1, 1, 1, 10)
    s.upsert_device("sim:r1", source="sim")

    cid = s.queue_command("dev", "config", {"threshold_on": 1, "threshold_off": 1, "k": 1, "n": 1})
    assert [c["id"] for c in s.pending_commands("dev")] == [cid]
    assert s.pending_commands("other") == []
    s.mark_sent(cid)
    assert s.pending_commands() == []
    s.close()


def test_parameterised_sql_keeps_hostile_strings_as_data(tmp_path):
    s = Store(tmp_path / "g.db")
    evil = "x'); DROP TABLE events; --"
    s.insert_event(evil, 1, 1, 1, 1)
    s.upsert_device(evil, name=evil)
    s.queue_command(evil, evil, {"k": evil})
    assert s.events(evil)[0]["device_id"] == evil
    assert s.device(evil)["name"] == evil
    assert s.pending_commands(evil)[0]["payload"] == {"k": evil}
    src = (REPO / "host/imuad/gateway/store.py").read_text()
    assert not re.search(r"execute\([^)]*%\s*\(", src)  # no %-formatted values
    s.close()


def test_concurrent_reader_sees_committed_events(tmp_path):
    w, r = Store(tmp_path / "g.db"), Store(tmp_path / "g.db")
    w.insert_events("d", [dict(seq=i, kind=1, state=1, score=i) for i in range(1, 101)])
    assert r.count_events("d") == 100
    w.close()
    r.close()


def test_not_a_database(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ImuadError, match="junk.db"):
        Store(p)
