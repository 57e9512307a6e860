"""Fixtures shared by every area's tests."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import sys

# Test the checkout this file is in, even when another checkout is the pip-installed one;
# subprocesses (`python -m imuad.cli`, helper scripts) inherit it through PYTHONPATH.
_HOST = str(Path(__file__).resolve().parents[1] / "host")
sys.path.insert(0, _HOST)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_HOST, os.environ.get("PYTHONPATH")) if p)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from imuad.paths import REPO_ROOT, datasets_dir  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def smartmanuad() -> Path:
    """Folder of the shared SmartManuAD recordings; tests needing it skip when absent."""
    d = datasets_dir() / "smartmanuad"
    if not d.is_dir():
        pytest.skip(f"shared datasets not found at {d}")
    return d


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A small CNN on toy windows, quantized (tests/tiny_model.py); trained once per session."""
    pytest.importorskip("tensorflow")
    from imuad.deploy.quantize import quantize_run
    from tiny_model import TinyRun
    run = TinyRun(tmp_path_factory.mktemp("run"))
    run.quant = quantize_run(run, verbose=False)
    return run


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
    """tiny_run exported as the model folder `tiny` (imuad export's own code)."""
    from imuad.contracts.card import load_model_dir
    from imuad.deploy.export import export_run
    out, card = export_run(tiny_run.dir, "tiny", tmp_path_factory.mktemp("models") / "tiny")
    return SimpleNamespace(dir=out, card=card, run=tiny_run, model=load_model_dir(out))


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    d = REPO_ROOT / "artifacts"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3-axis int16 vibration with an anomalous stretch (seeded): NPZ per contract C1."""
    rng = np.random.default_rng(1234)
    n = 3000
    t = np.arange(n) / 100.0
    x = np.stack([800 * np.sin(2 * np.pi * 7 * t), 500 * np.sin(2 * np.pi * 13 * t + 1),
                  300 * np.cos(2 * np.pi * 3 * t)], axis=1)
    x += rng.normal(0, 120, size=x.shape)
    y = np.zeros(n, np.int8)
    y[1200:1800] = 1
    x[1200:1800] += rng.normal(0, 2500, size=(600, 3))
    path = tmp_path_factory.mktemp("rec") / "vib.npz"
    np.savez(path, X=np.clip(np.round(x), -32768, 32767).astype(np.int16), y=y, fs=100.0)
    return path


@pytest.fixture(scope="session")
def idf_linux_elf() -> Path:
    """device/ built for ESP-IDF's linux target through the build table (once per run)."""
    from imuad.build import artefact, missing_tools
    from imuad.errors import ImuadError
    miss = missing_tools("idflinux")
    if miss:
        pytest.skip(f"ESP-IDF linux build unavailable: {miss}")
    try:
        return artefact("idflinux")
    except ImuadError as exc:
        pytest.fail(str(exc))


def pytest_addoption(parser: pytest.Parser) -> None:
    # Firmware targets of tests/firmware: the same tests run on each one.
    try:
        parser.addoption("--target", action="append", default=None, metavar="NAME",
                         help="firmware target for tests/firmware (repeatable; default: IMUAD_TARGETS or every target)")
    except ValueError:  # already added by another plugin/conftest
        pass
    # Serial port of a real board for the esp32 target; esp32 tests skip without it.
    try:
        parser.addoption("--port", default=None, metavar="PORT",
                         help="serial port / pyserial URL of an ESP32 for --target esp32")
    except ValueError:
        pass


@pytest.fixture(scope="session")
def pg_cluster():
    """A throw-away PostgreSQL cluster (tests/fleet/services.py) for the fleet and the
    dashboard's fleet back end. Absent, the tests skip with the reason, except under CI=true,
    where they fail: CI must install it."""
    pytest.importorskip("psycopg", reason="the fleet extra: pip install -e '.[fleet]'")
    sys.path.insert(0, str(Path(__file__).parent / "fleet"))
    from services import Missing, Postgres
    try:
        pg = Postgres()
    except Missing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL: {exc}")
        pytest.skip(str(exc))
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A fresh, empty database of the session's cluster."""
    return pg_cluster.new_database()
