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
from imuad.gateway.store import Store  # noqa: E402


def contract_schema() -> dict[str, list[tuple]]:
    """Tables and columns of the ```sql block of contract C9 in docs/contracts.md."""
    text = (REPO / "docs" / "contracts.md").read_text()
    sql = text[text.index("## C9."):]
    sql = sql[sql.index("```sql") + 6:]
    sql = sql[:sql.index("```")]
    db = sqlite3.connect(":memory:")
    db.executescript(sql)
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
    s = Store(tmp_path / "g.db")
    assert _schema(s.db) == contract_schema()
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()
    Store(tmp_path / "g.db").close()  # reopening migrates nothing and keeps data


def test_timeline_query_uses_the_received_at_index(tmp_path):
    """The dashboard's alert timeline (newest first, any filter on time) must not sort the whole
    table: SQLite walks events_received_at instead."""
    sys.path.insert(0, str(REPO / "host"))
    from imuad.dashboard.queries import EventFilter, StoreReader
    Store(tmp_path / "g.db").close()
    reader = StoreReader(tmp_path / "g.db")
    conn = reader._conn()
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
