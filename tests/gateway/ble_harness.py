"""Processes of the BLE end-to-end tests: the virtual radio, the NimBLE host firmware and
the gateway, each a subprocess whose stdout lines are collected by a reader thread.
Every process is killed at teardown, whatever happened."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from imuad.net import free_ports  # noqa: F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parents[2]
PASSKEY = 246810  # what the test firmware displays




def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "host") + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Proc:
    """A subprocess with its stdout lines kept (and stderr in a file for diagnostics)."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, stdin: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self.stderr_path = log_dir / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  env=env or python_env(), text=True, bufsize=1,
                                  start_new_session=True)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        log = open(self.stderr_path.with_suffix(".stdout"), "w")
        for line in self.p.stdout:
            log.write(line)
            log.flush()
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        log.close()
        with self._cv:
            self._cv.notify_all()

    def send(self, line: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait_line(self, pattern: str | Callable[[str], bool], timeout: float,
                  start: int = 0) -> str:
        """First line (from index `start`) matching a regex or predicate."""
        match = (lambda s: re.search(pattern, s) is not None) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        i = start
        with self._cv:
            while True:
                while i < len(self.lines):
                    if match(self.lines[i]):
                        return self.lines[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and i >= len(self.lines)):
                    break
                self._cv.wait(min(left, 0.2))
        raise AssertionError(f"{self.name}: no line matching {pattern!r} within {timeout} s "
                             f"(exit={self.p.poll()}); last lines: {self.lines[-15:]}; "
                             f"stderr: {self.stderr_tail()}")

    def count(self, pattern: str) -> int:
        with self._cv:
            return sum(1 for s in self.lines if re.search(pattern, s))

    def stderr_tail(self, n: int = 1500) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_exit(self, timeout: float) -> int:
        rc = self.p.wait(timeout)
        self._t.join(2)
        return rc

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(10)
        self._t.join(2)
        self._stderr.close()


class Gateway(Proc):
    """`imuad gateway run --json-events` over the Bumble backend."""

    def events(self, kind: str | None = None) -> list[dict]:
        out = []
        with self._cv:
            lines = list(self.lines)
        for s in lines:
            try:
                d = json.loads(s)
            except ValueError:
                continue
            if kind is None or d.get("event") == kind:
                out.append(d)
        return out

    def wait_event(self, kind: str, timeout: float, pred: Callable[[dict], bool] = lambda d: True,
                   start: int = 0) -> dict:
        """First JSON event of this kind (from stdout line `start`) satisfying pred."""
        def match(line: str) -> bool:
            try:
                d = json.loads(line)
            except ValueError:
                return False
            return d.get("event") == kind and pred(d)
        return json.loads(self.wait_line(match, timeout, start=start))

    def acked(self) -> int:
        return max((d["seq"] for d in self.events("acked")), default=0)


def gateway_argv(hci_port: int, db: Path, keystore: Path, passkey: int | None,
                 extra: list[str] | None = None) -> list[str]:
    argv = [sys.executable, "-m", "imuad.cli", "gateway", "run", "--backend", "bumble",
            "--transport", f"tcp-client:127.0.0.1:{hci_port}", "--keystore", str(keystore),
            "--db", str(db), "--json-events"]
    if passkey is not None:
        argv += ["--passkey", str(passkey)]
    return argv + (extra or [])


def scripted_event(i: int) -> dict:
    """Event number i (0-based) of imuad-ble-host --events scripted:N (seq = i + 1)."""
    kind = 1 + i % 2
    return dict(seq=i + 1, kind=kind, state=int(kind == 1), score=(i * 37) % 1000,
                uptime_ms=10 * i)
