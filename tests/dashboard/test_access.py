"""Issue G (dashboard part): no existence oracle before authentication, no internals on
/healthz without the token, and token guessing limited per client address and overall."""
from __future__ import annotations

import asyncio
import time

import httpx
from fastapi.testclient import TestClient

from imuad.dashboard.app import Settings, create_app

from dashboard_c9 import TOKEN, FakeGateway
from dashboard_probe import route_inputs

AUTH = {"Authorization": f"Bearer {TOKEN}"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
KNOWN = {"device_id": "pump-1", "run_id": "r1"}


def test_pages_do_not_reveal_which_items_exist_without_token(populated: FakeGateway) -> None:
    app = create_app(Settings(store=populated.path, token=TOKEN))
    routes = [r for r in route_inputs(app) if r.method == "GET" and r.path_params]
    assert {"/devices/{device_id}", "/runs/{run_id}"} <= {r.path for r in routes}
    with TestClient(app, follow_redirects=False) as c:
        for r in routes:
            known, unknown = r.path, r.path
            for p in r.path_params:
                known = known.replace("{%s}" % p, KNOWN[p])
                unknown = unknown.replace("{%s}" % p, "ghost-" + p)
            a, b = c.get(known), c.get(unknown)
            assert a.status_code == b.status_code, (known, a.status_code, b.status_code)
            assert a.status_code in (303, 401), (known, a.status_code)
            assert a.headers.get("location", "").split("?")[0] == \
                b.headers.get("location", "").split("?")[0]
            assert len(a.content) == len(b.content) or a.status_code == 303


def test_healthz_shows_internals_only_with_the_token(populated: FakeGateway) -> None:
    with TestClient(create_app(Settings(store=populated.path, token=TOKEN))) as c:
        assert c.get("/healthz").json() == {"ok": True}
        detail = c.get("/healthz", headers=AUTH).json()
        assert detail["ok"] is True and "live_clients" in detail and "cursor" in detail


async def _parallel(app, client: str, n: int, method: str, url: str, **kw) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, client=(client, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://dash") as c:
        return await asyncio.gather(*[c.request(method, url, **kw) for _ in range(n)])


def _login(app, client: str, token: str) -> httpx.Response:
    return asyncio.run(_parallel(app, client, 1, "POST", "/login",
                                 content=f"token={token}&next=/", headers=FORM))[0]


def test_parallel_login_guesses_are_limited_per_address(populated: FakeGateway) -> None:
    app = create_app(Settings(store=populated.path, token=TOKEN))
    t0 = time.monotonic()
    rs = asyncio.run(_parallel(app, "203.0.113.7", 100, "POST", "/login",
                               content="token=wrong-guess-000&next=/", headers=FORM))
    evaluated = [r for r in rs if r.status_code == 303]
    limited = [r for r in rs if r.status_code == 429]
    assert len(evaluated) <= 5, f"{len(evaluated)} of 100 parallel guesses were checked"
    assert len(evaluated) + len(limited) == 100
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert "too many" in limited[0].text.lower()
    assert time.monotonic() - t0 < 5
    # the attacker's address does not lock out the operator elsewhere
    ok = _login(app, "198.51.100.2", TOKEN)
    assert ok.status_code == 303 and ok.headers["location"] == "/" and "set-cookie" in ok.headers
    # nor its own address for long: after Retry-After it may try again
    assert _login(app, "203.0.113.7", TOKEN).status_code == 429
    limiter = app.state.guess_limiter
    wait = int(limited[-1].headers["retry-after"])
    limiter.clock = lambda: time.monotonic() + wait + 1
    assert _login(app, "203.0.113.7", TOKEN).headers["location"] == "/"


def test_parallel_bearer_guesses_are_limited_too(populated: FakeGateway) -> None:
    app = create_app(Settings(store=populated.path, token=TOKEN))
    rs = asyncio.run(_parallel(app, "203.0.113.9", 60, "GET", "/api/devices",
                               headers={"Authorization": "Bearer wrong-guess-000"}))
    codes = [r.status_code for r in rs]
    assert codes.count(401) <= 5 and codes.count(429) == 60 - codes.count(401), codes
    ok = asyncio.run(_parallel(app, "198.51.100.3", 1, "GET", "/api/devices", headers=AUTH))
    assert ok[0].status_code == 200


def test_distributed_guessing_hits_a_global_limit_that_spares_known_operators(
        populated: FakeGateway) -> None:
    app = create_app(Settings(store=populated.path, token=TOKEN))
    assert _login(app, "192.0.2.10", TOKEN).status_code == 303  # the operator, earlier

    async def botnet() -> list[list[httpx.Response]]:
        return await asyncio.gather(*[
            _parallel(app, f"10.{i // 250}.{i % 250}.1", 1, "POST", "/login",
                      content="token=wrong-guess-000&next=/", headers=FORM) for i in range(300)])
    rs = [r for group in asyncio.run(botnet()) for r in group]
    evaluated = sum(r.status_code == 303 for r in rs)
    assert evaluated < 150 and sum(r.status_code == 429 for r in rs) == 300 - evaluated
    assert _login(app, "192.0.2.10", TOKEN).headers.get("location") == "/"
    # a new address waits for the global budget to refill, not forever
    assert _login(app, "198.51.100.77", TOKEN).status_code == 429
    app.state.guess_limiter.clock = lambda: time.monotonic() + 3600
    assert _login(app, "198.51.100.77", TOKEN).headers.get("location") == "/"


def test_guess_limiter_keys_and_memory_are_bounded() -> None:
    from imuad.dashboard.limits import GuessLimiter, client_key
    # one IPv6 subscriber hands out a /64 at will: it is one client
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") != client_key("2001:db8:0:1::1")
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1" and client_key(None) == "?"
    lim = GuessLimiter(max_clients=100, clock=lambda: 0.0)
    for i in range(1000):
        lim.reserve(f"10.0.{i // 250}.{i % 250}")
        lim.settle(f"10.0.{i // 250}.{i % 250}", ok=i % 3 == 0)
    assert len(lim._clients) <= 100 and len(lim._trusted) <= 100
