"""Memory bounds of the dashboard under abuse (not a test; prints figures).

`imuad dashboard` runs in a subprocess over a fresh store; its RSS (VmRSS) is sampled
every 20 ms while:
1. bodies of --body-mib MiB are POSTed to /login (no token) and /api/events/ack (with the
   token), once with an honest Content-Length and once chunked without one (bar: RSS
   growth <= 10 MiB);
2. --streams SSE connections are attempted (with the token, from 127.0.0.x addresses,
   never reading after the status line) while the gateway writes --events events (bar:
   streams capped, RSS bounded);
3. --guesses wrong-token logins are sent 100 at a time, from one address and then from
   200 loopback addresses: how many were checked (303) vs refused (429), checks/s.

    python benchmarks/dashboard_limits.py                      # this checkout's dashboard
    python benchmarks/dashboard_limits.py --host-dir OLD/host  # another checkout, to compare
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "host"))

from imuad.gateway.store import Store  # noqa: E402
from imuad.net import free_port  # noqa: E402
from imuad.procs import rss_mib  # noqa: E402

TOKEN = "bench-token-0123456789"
CHUNK = 256 * 1024






class Sampler(threading.Thread):
    """Max RSS of a process between start() and stop()."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.02)

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, rss_mib(self.pid))


def post(port: int, path: str, total: int, chunked: bool, auth: bool) -> tuple[str, float, int]:
    """Stream `total` bytes until the server answers or closes; (status, seconds, bytes sent)."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
            "Content-Type: " + ("application/json" if path.startswith("/api/")
                                else "application/x-www-form-urlencoded")]
    head += [f"Authorization: Bearer {TOKEN}"] if auth else []
    head += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {total}"]
    block = b"a" * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + block + b"\r\n" if chunked else block
    t0 = time.perf_counter()
    sent = 0
    status = "reset"
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < total:
                s.sendall(frame)
                sent += CHUNK
            if chunked:
                s.sendall(b"0\r\n\r\n")
            reply = s.recv(200)
            status = reply[9:12].decode() if reply.startswith(b"HTTP/1.1") else "closed"
        except (BrokenPipeError, ConnectionResetError):
            pass
    return status, time.perf_counter() - t0, min(sent, total)


def open_stream(port: int, local: str) -> tuple[socket.socket | None, str]:
    s = socket.socket()
    try:
        s.bind((local, 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall((f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer {TOKEN}\r\n\r\n").encode())
        status = s.recv(12)[9:12].decode() or "closed"
    except OSError as exc:
        s.close()
        return None, type(exc).__name__
    if status != "200":
        s.close()
        return None, status
    return s, status  # kept open, never read again


def login_guess(port: int, local: str) -> str:
    body = b"token=wrong-guess-0000&next=/"
    try:
        with socket.socket() as s:
            s.bind((local, 0))
            s.settimeout(30)
            s.connect(("127.0.0.1", port))
            s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
            return s.recv(12)[9:12].decode() or "closed"
    except OSError as exc:
        return type(exc).__name__


def guesses(port: int, n: int, addresses: int) -> str:
    from concurrent.futures import ThreadPoolExecutor
    t0 = time.perf_counter()
    with ThreadPoolExecutor(100) as pool:
        codes = list(pool.map(lambda i: login_guess(port, f"127.1.{i % addresses // 250}."
                                                         f"{1 + i % addresses % 250}"), range(n)))
    secs = time.perf_counter() - t0
    checked = codes.count("303")
    return (f"{n} wrong logins from {addresses} address(es) in {secs:.1f} s: {checked} checked "
            f"({checked / secs:.1f}/s), " + ", ".join(f"{codes.count(c)} x {c}"
                                                     for c in sorted(set(codes)) if c != "303"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--body-mib", type=int, default=400)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--events", type=int, default=40000)
    ap.add_argument("--guesses", type=int, default=1000)
    ap.add_argument("--host-dir", type=Path, default=REPO / "host",
                    help="the `host` folder whose imuad the server runs")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="imuad-limits-"))
    store = Store(tmp / "store.db", synchronous="NORMAL")
    store.upsert_device("pump-1", name="Pump 1", threshold=100, source="ble")
    store.insert_event("pump-1", 0, 1, 1, 150)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "imuad.cli", "dashboard", "--store", str(tmp / "store.db"),
         "--port", str(port), "--token", TOKEN],
        env=dict(os.environ, PYTHONPATH=str(args.host_dir)), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    held: list[socket.socket] = []
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("dashboard did not start")
                time.sleep(0.1)
        post(port, "/login", 10, False, False)  # warm up
        time.sleep(0.5)
        print(f"== dashboard limits ({args.host_dir}) ==")
        print(f"idle RSS {rss_mib(server.pid):.1f} MiB")
        total = args.body_mib * 2**20
        for path, auth in (("/login", False), ("/api/events/ack", True)):
            for chunked in (False, True):
                before = rss_mib(server.pid)
                sampler = Sampler(server.pid)
                sampler.start()
                status, secs, sent = post(port, path, total, chunked, auth)
                peak = sampler.stop()
                print(f"POST {path:<16} {args.body_mib} MiB "
                      f"{'chunked' if chunked else 'Content-Length'}: {status} after "
                      f"{sent / 2**20:.1f} MiB sent, {secs:.2f} s; RSS {before:.1f} -> peak "
                      f"{peak:.1f} MiB (+{peak - before:.1f})")

        before = rss_mib(server.pid)
        sampler = Sampler(server.pid)
        sampler.start()
        t0 = time.perf_counter()
        codes: dict[str, int] = {}
        for i in range(args.streams):
            s, code = open_stream(port, f"127.0.0.{2 + i % 200}")
            codes[code] = codes.get(code, 0) + 1
            if s is not None:
                held.append(s)
        attempt_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for start in range(1, args.events + 1, 1000):
            store.insert_events("pump-1", [dict(seq=q, kind=3, state=0, score=q % 200)
                                           for q in range(start, min(start + 1000,
                                                                     args.events + 1))])
            time.sleep(0.05)
        time.sleep(3)  # the poller fans the last rows out
        peak = sampler.stop()
        print(f"SSE: {args.streams} attempts in {attempt_s:.1f} s -> "
              + ", ".join(f"{n} x {c}" for c, n in sorted(codes.items()))
              + f"; {len(held)} open, non-reading")
        print(f"     then {args.events} events in {time.perf_counter() - t0:.1f} s; RSS "
              f"{before:.1f} -> peak {peak:.1f} MiB (+{peak - before:.1f}), "
              f"now {rss_mib(server.pid):.1f} MiB")
        for s in held:
            s.close()
        held.clear()
        print("login: " + guesses(port, args.guesses, 1))
        print("login: " + guesses(port, args.guesses, 200))
    finally:
        for s in held:
            s.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
