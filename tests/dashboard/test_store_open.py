"""Issue class F: a store that is not a readable C9 database is refused up front with an
ImuadError naming the file (exit 2, no traceback); read commands never modify it."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from imuad.cli import main

from dashboard_c9 import TOKEN, FakeGateway, populate

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAGE = 4096


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A populated store of a dozen pages, closed cleanly (no -wal/-shm beside it)."""
    gw = populate(FakeGateway(tmp_path_factory.mktemp("good") / "store.db"))
    gw.insert_events([dict(device_id=f"dev-{i % 7}", seq=i, kind=3, score=i, model_id="ab" * 4)
                      for i in range(600)])
    gw.close()
    data = gw.path.read_bytes()
    assert len(data) >= 8 * PAGE
    return data


def damage(kind: str, good: bytes, path: Path) -> None:
    rng = random.Random(kind)
    if kind == "directory":
        path.mkdir()
        return
    data = {
        "empty": b"",
        "text": b"device,seq,score\npump-1,1,150\n" * 100,
        "random": rng.randbytes(5 * PAGE),
        "header-only": good[:100],
        "truncated": good[:len(good) // 3],
        # header and schema page intact, every table/index page overwritten
        "corrupted-pages": good[:PAGE] + rng.randbytes(len(good) - PAGE),
    }[kind]
    path.write_bytes(data)


KINDS = ["empty", "text", "random", "header-only", "truncated", "corrupted-pages", "directory"]
WHAT = {"empty": "empty", "text": "not an SQLite database", "random": "not an SQLite database",
        "directory": "directory"}


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.iterdir())}


def _serve_once(app) -> list[int]:
    """Stands in for uvicorn.run: start the app (lifespan) and read a few pages."""
    with TestClient(app, raise_server_exceptions=False) as c:
        return [c.get(url, headers=AUTH).status_code
                for url in ("/healthz", "/api/devices", "/api/events?kind=any", "/alerts",
                            "/api/events.csv", "/runs", "/devices/dev-1")]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, list[list[int]]]:
    import uvicorn
    served: list[list[int]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(_serve_once(app)))
    rc = main(argv)
    return rc, capsys.readouterr().err, served


@pytest.mark.parametrize("kind", KINDS)
def test_dashboard_refuses_an_unreadable_store(tmp_path: Path, good: bytes, kind: str,
                                               capsys, monkeypatch) -> None:
    path = tmp_path / "store.db"
    damage(kind, good, path)
    before = snapshot(tmp_path)
    rc, err, served = run_cli(["dashboard", "--store", str(path), "--token", TOKEN],
                              capsys, monkeypatch)
    assert rc == 2 and not served, (rc, served, err)
    assert err.startswith("imuad: error: ") and str(path) in err and "Traceback" not in err, err
    assert WHAT.get(kind, "") in err, err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", KINDS)
def test_gateway_events_refuses_an_unreadable_store_and_changes_nothing(
        tmp_path: Path, good: bytes, kind: str, capsys, monkeypatch) -> None:
    path = tmp_path / "store.db"
    damage(kind, good, path)
    before = snapshot(tmp_path)
    rc, err, _ = run_cli(["gateway", "events", "--db", str(path)], capsys, monkeypatch)
    assert rc == 2, err
    assert err.startswith("imuad: error: ") and str(path) in err and "Traceback" not in err, err
    assert WHAT.get(kind, "") in err, err
    assert snapshot(tmp_path) == before


def test_gateway_events_reads_a_good_store_without_writing(tmp_path: Path, good: bytes,
                                                           capsys, monkeypatch) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(good)
    before = snapshot(tmp_path)
    rc, _, _ = run_cli(["gateway", "events", "--db", str(path), "--limit", "3"], capsys,
                       monkeypatch)
    assert rc == 0
    assert snapshot(tmp_path) == before  # no -wal/-shm left behind, file untouched


def test_dashboard_serves_a_good_store(tmp_path: Path, good: bytes, capsys,
                                       monkeypatch) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(good)
    rc, err, served = run_cli(["dashboard", "--store", str(path), "--token", TOKEN], capsys,
                              monkeypatch)
    assert rc == 0 and served == [[200] * 7], (err, served)


# ---- random corruptions x every command that opens a store -----------------------------
OPS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("overwrite"), st.floats(0, 1), st.integers(1, 2 * PAGE), st.integers()),
    st.tuples(st.just("zero-page"), st.integers(0, 40)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 7)),
    st.tuples(st.just("append"), st.integers(1, 3 * PAGE), st.integers()),
)


def apply(ops: list[tuple], data: bytes) -> bytes:
    buf = bytearray(data)
    for op in ops:
        if op[0] == "truncate":
            del buf[int(op[1] * len(buf)):]
        elif op[0] == "overwrite" and buf:
            at = int(op[1] * (len(buf) - 1))
            buf[at:at + op[2]] = random.Random(op[3]).randbytes(len(buf[at:at + op[2]]))
        elif op[0] == "zero-page":
            at = op[1] * PAGE
            buf[at:at + PAGE] = bytes(len(buf[at:at + PAGE]))
        elif op[0] == "flip" and buf:
            buf[int(op[1] * (len(buf) - 1))] ^= 1 << op[2]
        elif op[0] == "append":
            buf += random.Random(op[2]).randbytes(op[1])
    return bytes(buf)


@settings(max_examples=45, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=3),
       command=st.sampled_from(["dashboard", "events", "config"]))
def test_random_corruption_never_gives_a_traceback(tmp_path_factory, good: bytes, capsys,
                                                   monkeypatch, ops, command) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "store.db"
    path.write_bytes(apply(ops, good))
    before = snapshot(folder)
    argv = {"dashboard": ["dashboard", "--store", str(path), "--token", TOKEN],
            "events": ["gateway", "events", "--db", str(path), "--limit", "1000"],
            "config": ["gateway", "config", "--db", str(path), "--device", "dev-1",
                       "--threshold-on", "10", "--threshold-off", "5", "-k", "1", "-n", "2"]}
    rc, err, served = run_cli(argv[command], capsys, monkeypatch)
    event(f"{command} exit {rc}")
    event(f"{command}: {err.split(': ')[3][:30] if rc else 'ok'}")
    assert "Traceback" not in err
    assert rc in (0, 2), (rc, err)
    if rc == 2:
        assert err.startswith("imuad: error: ") and str(path) in err, err
    if command == "events":
        assert snapshot(folder) == before
    if command == "dashboard":
        assert path.read_bytes() == apply(ops, good)  # only -shm/-wal of a live reader appear
        for statuses in served:  # corruption found late: a clear 503, never a 500
            assert set(statuses) <= {200, 404, 503}, statuses
