"""Fixtures of the BLE end-to-end tests: imuad-ble-host (build-table target nimble-linux) built
once per run, a virtual radio per test, and process cleanup whatever the outcome."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from ble_harness import PASSKEY, REPO, Gateway, Proc, free_ports, gateway_argv  # noqa: E402,F401


@pytest.fixture(scope="session")
def build_tree() -> Path:
    """The nimble-linux build (incremental; about 30 s from scratch on 2 cores)."""
    from imuad.build import ensure_built
    return ensure_built("nimble-linux")


@pytest.fixture(scope="session")
def ble_host_bin(build_tree: Path) -> Path:
    from imuad.build import artefact
    return artefact("nimble-linux")


class Rig:
    """One virtual radio (two controllers) plus the processes started on it."""

    def __init__(self, tmp: Path, exe: Path) -> None:
        self.tmp, self.exe = tmp, exe
        self.fw_port, self.gw_port = free_ports(2)
        self.procs: list[Proc] = []
        self.radio = self._add(Proc("vlink", [sys.executable, "-m", "imuad.gateway.vlink",
                                              "--port", str(self.fw_port),
                                              "--port", str(self.gw_port)],
                                    tmp, stdin=True))
        self.radio.wait_line(r"^VLINK READY", 20)
        self.db = tmp / "gateway.db"
        self.keystore = tmp / "keys.json"
        self._n = 0

    def _add(self, p: Proc) -> Proc:
        self.procs.append(p)
        return p

    def firmware(self, *args: str, passkey: int = PASSKEY, stdin: bool = False) -> Proc:
        fw = self._add(Proc("firmware", [str(self.exe), "--hci-port", str(self.fw_port),
                                         "--passkey", str(passkey), *args], self.tmp,
                            stdin=stdin))
        fw.wait_line(r"^ADVERTISING", 20)
        return fw

    def gateway(self, passkey: int | None = PASSKEY, *extra: str) -> Gateway:
        self._n += 1
        return self._add(Gateway(f"gateway{self._n}", gateway_argv(
            self.gw_port, self.db, self.keystore, passkey, list(extra)), self.tmp))

    def drop_links(self) -> None:
        self.radio.send("drop")

    def close(self) -> None:
        for p in reversed(self.procs):
            p.kill()


@pytest.fixture
def rig(tmp_path: Path, ble_host_bin: Path):
    r = Rig(tmp_path, ble_host_bin)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def broker():
    """A Mosquitto broker on a free 127.0.0.1 port (killed at teardown)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("mosquitto is required (apt: mosquitto)")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = subprocess.Popen([exe, "-p", str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline and p.poll() is None, "mosquitto did not start"
                time.sleep(0.05)
        yield port
    finally:
        p.terminate()
        p.wait(10)


