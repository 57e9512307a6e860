"""Real Mosquitto and PostgreSQL for the fleet tests (no mocks). Absent servers skip the tests
with the reason, except under CI=true, where they fail: CI must install them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from services import Broker, Missing  # noqa: E402

pytest.importorskip("psycopg", reason="the fleet extra: pip install -e '.[fleet]'")


def _unavailable(exc: Exception) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI needs the fleet's servers: {exc}")
    pytest.skip(str(exc))


# pg_cluster and pg_url (one PostgreSQL cluster per session) are in tests/conftest.py: the
# dashboard's tests use them too.


@pytest.fixture
def broker(tmp_path: Path):
    try:
        b = Broker(tmp_path / "mosquitto")
    except Missing as exc:
        _unavailable(exc)
    try:
        yield b
    finally:
        b.stop()


class Procs:
    """`python -m imuad.cli ...` subprocesses, killed at teardown whatever the outcome."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.all: list[subprocess.Popen] = []
        self.n = 0

    def start(self, *args: str) -> subprocess.Popen:
        self.n += 1
        log = open(self.tmp / f"proc{self.n}-{args[1]}.log", "wb")
        p = subprocess.Popen([sys.executable, "-m", "imuad.cli", *args], stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        p.log_path = log.name  # type: ignore[attr-defined]
        self.all.append(p)
        return p

    def close(self) -> None:
        for p in self.all:
            if p.poll() is None:
                p.kill()
                p.wait(10)


@pytest.fixture
def procs(tmp_path: Path):
    ps = Procs(tmp_path)
    try:
        yield ps
    finally:
        ps.close()
