"""Throw-away Mosquitto and PostgreSQL instances (real servers, free ports, temp folders).

Used by tests/fleet and benchmarks/fleet_ingest.py. PostgreSQL's initdb refuses to run as
root: as root the cluster belongs to a system user `imuadpg` (created here if missing) and
runs through runuser. `Missing` is raised when the Debian packages are absent (scripts/
apt-packages.txt: mosquitto, postgresql).
"""
from __future__ import annotations

import getpass
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_USER = "imuadpg"


class Missing(RuntimeError):
    pass


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not open port {port}")
            time.sleep(0.05)


class Broker:
    """Mosquitto with persistence (sessions and queues survive a restart) on a fixed port."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise Missing("mosquitto not installed (apt: mosquitto)")
        self.exe = exe
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = folder / "mosquitto.conf"
        # max_queued_messages 0: never drop what waits for an offline ingest (C9 MQTT broker
        # settings); autosave_interval 1: what a kill -9 can lose is what the outbox resends.
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\nautosave_interval 1\n"
            f"max_queued_messages 0\nmax_inflight_messages 0\n"
            f"user {getpass.getuser()}\nlog_dest file {folder}/mosquitto.log\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_port(self.port, self.proc, "mosquitto")

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, kill: bool = True) -> None:
        if kill:
            self.kill9()
        else:
            self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if not found:
        raise Missing("PostgreSQL server not installed (apt: postgresql)")
    return Path(found[-1]).parent


class Postgres:
    """A PostgreSQL cluster in a temp folder on a free 127.0.0.1 port, trust auth, user imuad."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.prefix: list[str] = []
        self.folder = Path(tempfile.mkdtemp(prefix="imuad-pg-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(PG_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", PG_USER], check=True)
                pw = pwd.getpwnam(PG_USER)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", PG_USER, "--"]
        self.port = free_port()
        self.data = self.folder / "data"
        self._run("initdb", "-D", str(self.data), "-U", "imuad", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        self.start()
        self.url = f"postgresql://imuad@127.0.0.1:{self.port}/postgres"
        self._n = 0

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                        f"-c max_connections=50", "start")

    def halt(self) -> None:
        """Down at once (like a crash: no checkpoint), the data kept for start()."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _run(self, tool: str, *args: str) -> None:
        r = subprocess.run([*self.prefix, str(self.bin / tool), *args], capture_output=True,
                           text=True, cwd=self.folder)
        if r.returncode != 0:
            raise RuntimeError(f"{tool} failed: {r.stderr.strip() or r.stdout.strip()}")

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg
        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql://imuad@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self.halt()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
