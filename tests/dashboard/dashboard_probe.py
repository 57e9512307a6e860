"""Test-side helpers: the app's inputs enumerated from its routes, raw ASGI and HTTP probes.

Enumerating from `app.routes` means a new endpoint is fuzzed without touching the tests:
its query parameters come from FastAPI's dependency tree (a pydantic query model is
expanded into its fields), its JSON/form body from the `body_model` that the dashboard's
body dependency carries.
"""
from __future__ import annotations

import re

import asyncio
import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel

from imuad.net import free_port
from imuad.procs import rss_mib

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RouteInputs:
    method: str
    path: str
    path_params: list[str] = field(default_factory=list)
    query: list[str] = field(default_factory=list)
    body_model: type[BaseModel] | None = None


def _dependants(dep: Any) -> Iterator[Any]:
    yield dep
    for sub in dep.dependencies:
        yield from _dependants(sub)


def route_inputs(app: Any) -> list[RouteInputs]:
    out = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(route.methods - {"HEAD"}):
            # '{device_id:path}' -> '{device_id}': tests fill parameters in by name
            ri = RouteInputs(method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
            for dep in _dependants(route.dependant):
                ri.path_params += [p.alias for p in dep.path_params]
                for p in dep.query_params:
                    ann = p.field_info.annotation
                    if isinstance(ann, type) and issubclass(ann, BaseModel):
                        ri.query += [f.alias or n for n, f in ann.model_fields.items()]
                    else:
                        ri.query.append(p.alias)
                model = getattr(dep.call, "body_model", None)
                if model is not None:
                    ri.body_model = model
            ri.path_params = sorted(set(ri.path_params))
            ri.query = sorted(set(ri.query))
            out.append(ri)
    return out


async def asgi_request(app: Any, method: str, path: str, headers: dict[str, str],
                       chunks: Iterator[bytes], client: tuple[str, int] = ("127.0.0.1", 5000),
                       ) -> tuple[int, int]:
    """One request straight into the ASGI app; returns (status, request bytes the app read)."""
    consumed = 0
    status = 0
    done = asyncio.Event()

    pending = next(chunks, b"")
    finished = False

    async def receive() -> dict[str, Any]:
        nonlocal consumed, pending, finished
        if finished:
            await done.wait()
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(chunks, None)
        finished = pending is None
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": not finished}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "client": client,
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, receive, send)
    return status, consumed






class DashboardProcess:
    """`imuad dashboard` in a subprocess (its RSS is then the server's alone)."""

    def __init__(self, store: Path, token: str, *extra: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=str(REPO / "host"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imuad.cli", "dashboard", "--store", str(store),
             "--port", str(self.port), "--token", token, *extra],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.close()
                    raise RuntimeError("dashboard did not start: " +
                                       self.proc.stderr.read().decode()[-2000:])
                time.sleep(0.1)

    @property
    def rss(self) -> float:
        return rss_mib(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def raw_post(port: int, path: str, head: dict[str, str], body: Iterator[bytes],
             timeout: float = 10.0) -> int | None:
    """POST over a plain socket, streaming `body`; stops sending when the server answers or
    closes. Returns the status code, or None if the connection was reset before one came."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
                 *(f"{k}: {v}" for k, v in head.items())]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        closed = False
        try:
            for chunk in body:
                view = memoryview(chunk)
                while view and not (got or closed):
                    readable, writable, _ = select.select([s], [s], [], timeout)
                    if readable:
                        data = s.recv(65536)
                        got += data
                        closed = not data
                    elif writable:
                        view = view[s.send(view):]
                    else:
                        raise TimeoutError("server neither reads nor answers")
                if got or closed:
                    break
            while not closed and b"\r\n" not in got:
                data = s.recv(65536)
                got += data
                closed = not data
        except (BrokenPipeError, ConnectionResetError):
            pass
    if not got.startswith(b"HTTP/1.1 "):
        return None
    return int(got[9:12])


@contextlib.contextmanager
def live_server(app: Any, timeout: float = 15.0) -> Iterator[str]:
    """The app on a real uvicorn server in a thread (what SSE and browsers need); yields its URL."""
    import threading

    import uvicorn
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                        timeout_graceful_shutdown=1))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
