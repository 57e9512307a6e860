"""Issue class A: request bodies and live streams cannot exhaust the dashboard's memory.

Bodies are refused from Content-Length before any byte is read, and by a streaming cap
when the header is absent or lies; SSE streams are capped per server and per client.
"""
from __future__ import annotations

import asyncio
import itertools
import math
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from imuad.dashboard.app import Settings, create_app

from dashboard_c9 import TOKEN, FakeGateway
from dashboard_probe import DashboardProcess, asgi_request, raw_post, route_inputs

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHUNK = 64 * 1024
MAX_BODY = 8192  # the dashboard's cap (no request it serves needs more)


def chunks(total: int, size: int = CHUNK, fill: bytes = b"a") -> Iterator[bytes]:
    block = fill * size
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield block if n == size else block[:n]
        sent += n


def post_routes(app) -> list[str]:
    return sorted({r.path for r in route_inputs(app) if r.method == "POST"})


@pytest.mark.parametrize("mode", ["declared", "absent", "lying"])
@pytest.mark.parametrize("with_token", [True, False])
def test_post_bodies_are_capped_before_reading(populated: FakeGateway, mode: str,
                                               with_token: bool) -> None:
    app = create_app(Settings(store=populated.path, token=TOKEN))
    total = 16 * 2**20
    assert post_routes(app) == ["/api/commands/calibrate", "/api/commands/threshold",
                                "/api/events/ack", "/login", "/logout"]
    for path in post_routes(app):
        headers = {"content-type": "application/json" if path.startswith("/api/")
                   else "application/x-www-form-urlencoded", **(AUTH if with_token else {})}
        if mode == "declared":
            headers["content-length"] = str(total)
        elif mode == "lying":
            headers["content-length"] = "10"
        status, consumed = asyncio.run(asgi_request(app, "POST", path, headers, chunks(total)))
        # without the token a write endpoint may refuse before reading at all (401)
        assert status == 413 or (status == 401 and not with_token), (path, mode, status)
        limit = 0 if mode == "declared" else MAX_BODY + CHUNK
        assert consumed <= limit, f"{path} ({mode}): read {consumed} bytes before refusing"


def test_bad_content_length_is_a_400(populated: FakeGateway) -> None:
    app = create_app(Settings(store=populated.path, token=TOKEN))
    for value in ("-5", "12abc", "1e9", "99999999999999999999999999"):
        status, consumed = asyncio.run(asgi_request(
            app, "POST", "/login", {"content-length": value}, chunks(100)))
        assert status in (400, 413) and consumed == 0, (value, status)


def _open_streams(base: str, n: int, local: str) -> tuple[list[httpx.Response], list[int]]:
    client = httpx.Client(transport=httpx.HTTPTransport(local_address=local),
                          timeout=10, limits=httpx.Limits(max_connections=None))
    opened, codes = [], []
    for _ in range(n):
        r = client.send(client.build_request("GET", base + "/api/stream", headers=AUTH),
                        stream=True)
        codes.append(r.status_code)
        if r.status_code == 200:
            opened.append(r)
        else:
            assert "stream" in r.read().decode().lower()
            assert r.headers.get("retry-after")
            r.close()
    return opened, codes


def test_live_streams_are_capped_per_client_and_per_server(populated: FakeGateway) -> None:

    from dashboard_probe import live_server

    cfg = Settings(store=populated.path, token=TOKEN, poll_s=0.05)
    per_client = getattr(cfg, "max_streams_per_client", 8)
    total = getattr(cfg, "max_streams", 64)
    app = create_app(cfg)
    held: list[httpx.Response] = []
    with live_server(app) as base:
        opened, codes = _open_streams(base, per_client + 2, "127.0.0.1")
        held += opened
        assert codes == [200] * per_client + [503, 503], codes
        # other addresses: the server-wide cap (some of it kept for token holders)
        got = []
        for i in itertools.count(2):
            opened, codes = _open_streams(base, per_client, f"127.0.0.{i}")
            held += opened
            got += codes
            if 503 in codes or i > 2 + total:
                break
        assert 503 in got and len(held) <= total, (len(held), total)
        for r in held:
            r.close()
        held.clear()
        deadline = time.time() + 10  # slots come back when the streams end
        while True:
            opened, codes = _open_streams(base, 1, "127.0.0.1")
            held += opened
            if codes == [200] or time.time() > deadline:
                break
            time.sleep(0.2)
        assert codes == [200]
        for r in held:
            r.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardProcess]:
    gw = FakeGateway(tmp_path_factory.mktemp("rss") / "store.db")
    gw.upsert_device("pump-1", name="Pump 1", threshold=100)
    gw.insert_events([dict(device_id="pump-1", seq=1, kind=1, score=150)])
    proc = DashboardProcess(gw.path, TOKEN)
    yield proc
    proc.close()
    gw.close()


POST_PATHS = ["/login", "/logout", "/api/events/ack", "/api/commands/threshold",
              "/api/commands/calibrate"]


@settings(max_examples=14, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(POST_PATHS),
       size=st.one_of(st.integers(0, 2 * MAX_BODY), st.integers(MAX_BODY, 48 * 2**20)),
       mode=st.sampled_from(["declared", "absent", "lying-short", "lying-long"]),
       fill=st.sampled_from([b"a", b"{", b"\x00", b"token=", os.urandom(1)]),
       auth=st.booleans())
def test_server_rss_stays_flat_under_random_bodies(server: DashboardProcess, path: str,
                                                   size: int, mode: str, fill: bytes,
                                                   auth: bool) -> None:
    """Random sizes and bodies against every POST endpoint of a real uvicorn process."""
    baseline = getattr(server, "baseline", None)
    if baseline is None:
        raw_post(server.port, "/login", {"Content-Length": "3"}, iter([b"a=b"]))
        baseline = server.baseline = server.rss
    head = {"Content-Type": "application/json" if "/api/" in path
            else "application/x-www-form-urlencoded", **(AUTH if auth else {})}
    body = chunks(size, fill=fill)
    if mode == "declared":
        head["Content-Length"] = str(size)
    elif mode == "absent":
        head["Transfer-Encoding"] = "chunked"
        body = (f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in itertools.chain(body, [b""]))
    elif mode == "lying-short":  # the rest arrives as a garbage "next request"
        head["Content-Length"] = str(max(0, size // 2))
    else:  # announces more than the cap and sends less: refused from the header alone
        head["Content-Length"] = str(max(size, MAX_BODY) + 10)
    status = raw_post(server.port, path, head, body, timeout=15)
    assert status is None or status < 500, status
    if size > MAX_BODY and mode in ("declared", "absent") or mode == "lying-long":
        assert status in (None, 413) or (status == 401 and not auth), status
    growth = server.rss - baseline
    event(f"status {status}")
    event(f"RSS growth <= {math.ceil(max(growth, 0))} MiB")
    assert growth <= 10, f"RSS grew {growth:.1f} MiB ({path}, {size} bytes, {mode})"


def test_stream_slots_keep_a_quarter_for_token_holders() -> None:
    from imuad.dashboard.limits import StreamSlots
    slots = StreamSlots(total=8, per_client=2)
    anon = [slots.acquire(f"10.0.0.{i}", False) for i in range(8)]
    assert [callable(a) for a in anon] == [True] * 6 + [False] * 2  # public-read viewers
    ops = [slots.acquire(f"10.0.1.{i}", True) for i in range(3)]
    assert [callable(a) for a in ops] == [True, True, False]
    assert "on this dashboard" in slots.acquire("10.0.2.0", True)
    for release in anon[:6] + ops[:2]:
        release()
        release()  # idempotent: a stream that ends twice frees one slot
    assert slots.open == 0 and slots.by_client == {}
    mine = [slots.acquire("10.0.3.3", True) for _ in range(3)]
    assert "your address" in mine[2] and callable(mine[0]) and callable(mine[1])
