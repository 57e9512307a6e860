"""Device-area fixtures: the same HIL tests run on every selected firmware target.

    pytest tests/device                                 # host, idflinux, qemu (qemu skips if absent)
    pytest tests/device --target idflinux
    pytest tests/device --target esp32 --port /dev/ttyUSB0   # a flashed board (skipped without --port)

Targets: --target (repeatable) or $IMUAD_DEVICE_TARGETS (comma separated), default host,idflinux,qemu.
The ESP-IDF linux app is built once per run (incremental in build/idf-linux).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from imuad.paths import REPO_ROOT

DEFAULT_TARGETS = "host,idflinux,qemu"
FIXTURE_MODEL = REPO_ROOT / "tests" / "core" / "fixtures" / "models" / "fixture_cnn"


def _names(config: pytest.Config) -> list[str]:
    names = config.getoption("--target", default=None) or \
        [os.environ.get("IMUAD_DEVICE_TARGETS", DEFAULT_TARGETS)]
    out: list[str] = []
    for n in names:
        out += [x for x in n.split(",") if x and x not in out]
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device_target" in metafunc.fixturenames:
        metafunc.parametrize("device_target", _names(metafunc.config), scope="session")


@pytest.fixture(scope="session")
def idf_linux_elf() -> Path:
    """device/ built for ESP-IDF's linux target (once per run)."""
    from imuad.errors import ImuadError
    from imuad.targets.idflinux import build_app, idf_missing
    miss = idf_missing()
    if miss:
        pytest.skip(f"ESP-IDF linux build unavailable: {miss}")
    try:
        return build_app()
    except ImuadError as exc:
        pytest.fail(str(exc))


@dataclass
class Device:
    name: str
    open: Callable[[], object]          # -> imuad.targets.base.Transport
    model_dir: Path
    max_inflight: int
    hello_timeout: float


@pytest.fixture(scope="session")
def device(device_target: str, request: pytest.FixtureRequest) -> Device:
    from imuad.errors import ImuadError
    from imuad.targets import get_target
    opts: dict = {}
    model = Path(os.environ.get("IMUAD_HIL_MODEL", FIXTURE_MODEL))
    if device_target == "esp32":
        port = request.config.getoption("--port", default=None) or os.environ.get("IMUAD_ESP32_PORT")
        if not port:
            pytest.skip("esp32: no board given (--port /dev/ttyUSB0 or IMUAD_ESP32_PORT)")
        opts["port"] = port
        if "IMUAD_HIL_MODEL" not in os.environ:
            cards = sorted((REPO_ROOT / "models").glob("*/model_card.json"))
            if not cards:
                pytest.skip("esp32: no committed model (models/*/model_card.json)")
            model = cards[0].parent
    if device_target == "idflinux":
        opts["elf"] = request.getfixturevalue("idf_linux_elf")
    try:
        target = get_target(device_target, **opts)
    except ImuadError as exc:
        pytest.skip(str(exc))
    ok, why = target.available()
    if not ok:
        pytest.skip(f"target {device_target} unavailable: {why}")
    build = getattr(target, "executable", None)
    if build is not None and device_target != "esp32":
        try:
            build()  # build (or check) once here, not inside the first test's timing
        except Exception as exc:  # noqa: BLE001 - a broken build is a failure of this target
            pytest.fail(f"target {device_target}: build failed: {exc}")
    return Device(device_target, target.open, model, getattr(target, "max_inflight_chunks", 8),
                  float(getattr(target, "hello_timeout", 10.0)))


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
