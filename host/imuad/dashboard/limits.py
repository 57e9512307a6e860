"""Bounds on what one client can make the dashboard hold or do.

- `BodyLimit`: request bodies are refused from their Content-Length before a byte is read,
  and counted while streamed when the header is absent (chunked) or wrong, so no request
  makes the server buffer more than `max_bytes` (the JSON and login bodies are tiny).
- `StreamSlots`: live (SSE) streams per server and per client address; a quarter of the
  server's slots is kept for token holders, so anonymous `--public-read` viewers cannot
  take the operators' live view away.
- `GuessLimiter`: failed token checks (login form and Bearer header), see its docstring.
"""
from __future__ import annotations

import ipaddress
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

MAX_BODY = 8192          # bytes: the largest body any dashboard request needs is ~1 KiB
MAX_STREAMS = 64         # concurrent SSE streams per server
MAX_STREAMS_PER_CLIENT = 8  # per address: browsers open <= 6 connections per host anyway


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large (limit {limit} bytes)")


class BodyLimit:
    """Pure ASGI middleware (no buffering of its own; streams stay streams)."""

    def __init__(self, app: Any, max_bytes: int = MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lengths = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
        if lengths:
            text = lengths[0].strip()
            if len(lengths) > 1 or not text.isdigit() or len(text) > 18:
                await _reply(send, 400, "bad Content-Length header")
                return
            if int(text) > self.max_bytes:
                await _reply(send, 413, str(BodyTooLarge(self.max_bytes).detail))
                return
        seen = 0
        started = False

        async def capped_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if seen > self.max_bytes:  # else the server would drain the rest of the body
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except BodyTooLarge as exc:  # read outside a handler that would turn it into a 413
            if started:
                raise
            await _reply(send, 413, str(exc.detail))


async def _reply(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def client_key(host: str | None) -> str:
    """The unit a limit applies to: an IPv4 address, or an IPv6 /64 (one subscriber's LAN,
    which hands out addresses at will)."""
    if not host:
        return "?"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class StreamSlots:
    """Counts open SSE streams; `acquire` returns a release function or a refusal text."""

    def __init__(self, total: int = MAX_STREAMS, per_client: int = MAX_STREAMS_PER_CLIENT) -> None:
        self.total = total
        self.per_client = per_client
        self.anonymous = max(1, total - max(1, total // 4))  # the rest is for token holders
        self.open = 0
        self.by_client: dict[str, int] = {}

    def acquire(self, client: str, authenticated: bool) -> Callable[[], None] | str:
        if self.by_client.get(client, 0) >= self.per_client:
            return (f"too many live streams from your address (limit {self.per_client}); "
                    f"close other dashboard tabs")
        if self.open >= (self.total if authenticated else self.anonymous):
            return f"too many live streams on this dashboard (limit {self.total}); retry later"
        self.open += 1
        self.by_client[client] = self.by_client.get(client, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.open -= 1
            left = self.by_client[client] - 1
            if left:
                self.by_client[client] = left
            else:
                del self.by_client[client]
        return release


@dataclass
class _Bucket:
    tokens: float
    at: float


class GuessLimiter:
    """Token-guess limiter: per client address and global, counting failures only.

    Policy (numbers are the defaults):
    - every token check (login form, Bearer header) first reserves one attempt; a correct
      token gives it back, a wrong one keeps it spent. Reserving is atomic, so 1000 parallel
      requests get no more checks than sequential ones; a refused request is answered 429
      with Retry-After and its token is not looked at.
    - per address (IPv4, IPv6 /64): 5 attempts at once, then one more every 12 s
      (<= 300 guesses an hour). It is the attacker's own budget: another address is never
      slowed by it, and its own lockout ends 12 s after its guessing stops.
    - global: 30 at once, then one every 2 s (<= 1800 guesses an hour from any number of
      addresses). An address that gave the right token in the last 7 days (the session
      lifetime) is exempt from the global budget, so a distributed attack cannot lock out
      the operators' machines; a never-seen address waits for the global budget to refill,
      i.e. only while such an attack is going on.
    Memory is bounded: at most `max_clients` addresses are remembered (least recently
    active first out; a forgotten address only regains its own small budget).
    """

    def __init__(self, per_client: tuple[int, float] = (5, 12.0),
                 overall: tuple[int, float] = (30, 2.0), trust_s: float = 7 * 24 * 3600,
                 max_clients: int = 10000, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client = per_client
        self.overall = overall
        self.trust_s = trust_s
        self.max_clients = max_clients
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, _Bucket] = OrderedDict()
        self._global = _Bucket(float(overall[0]), clock())
        self._trusted: OrderedDict[str, float] = OrderedDict()

    @staticmethod
    def _refill(b: _Bucket, burst: int, every_s: float, now: float) -> None:
        b.tokens = min(float(burst), b.tokens + max(0.0, now - b.at) / every_s)
        b.at = now

    def reserve(self, client: str) -> float:
        """0 if `client` may have its token checked now, else the seconds to wait."""
        with self._lock:
            now = self.clock()
            b = self._clients.get(client)
            if b is None:
                b = self._clients[client] = _Bucket(float(self.per_client[0]), now)
                while len(self._clients) > self.max_clients:
                    self._clients.popitem(last=False)
            self._clients.move_to_end(client)
            self._refill(b, *self.per_client, now)
            trusted = now - self._trusted.get(client, -math.inf) < self.trust_s
            self._refill(self._global, *self.overall, now)
            if b.tokens < 1:
                return (1 - b.tokens) * self.per_client[1]
            if not trusted and self._global.tokens < 1:
                return (1 - self._global.tokens) * self.overall[1]
            b.tokens -= 1
            if not trusted:
                self._global.tokens -= 1
            return 0.0

    def settle(self, client: str, ok: bool) -> None:
        """After a reserved check: a correct token returns the attempt and trusts `client`."""
        if not ok:
            return
        with self._lock:
            now = self.clock()
            b = self._clients.get(client)
            if b is not None:
                b.tokens = min(float(self.per_client[0]), b.tokens + 1)
            if now - self._trusted.get(client, -math.inf) >= self.trust_s:  # it paid globally
                self._global.tokens = min(float(self.overall[0]), self._global.tokens + 1)
            self._trusted[client] = now
            self._trusted.move_to_end(client)
            while len(self._trusted) > self.max_clients:
                self._trusted.popitem(last=False)
