"""The one `target` fixture: every firmware target passes the same tests (test_replay.py).

    pytest tests/firmware                                   # host, qemu, qemu-nn, idflinux, micropython
    pytest tests/firmware --target qemu-nn                  # one of them (repeatable; or IMUAD_TARGETS=a,b)
    pytest tests/firmware --target esp32 --port /dev/ttyUSB0   # a flashed board

Each target is built once per session through the build table (imuad.build) and runs its test
firmware (the compiled-in models plus the core's fixture models). Emulated targets replay
shorter streams (`Fw.windows`): the same checks, less QEMU time.
"""
from __future__ import annotations

import os

import pytest

from fw_support import DEFAULT_TARGETS, DEVICE_INFO_TARGET, WINDOWS, Fw

def _names(config: pytest.Config) -> list[str]:
    names = config.getoption("--target", default=None) or [os.environ.get("IMUAD_TARGETS", "")]
    out: list[str] = []
    for n in names:
        out += [x for x in n.split(",") if x and x not in out]
    if not out:
        out = list(DEFAULT_TARGETS) + (["esp32"] if config.getoption("--port", default=None) else [])
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target_name" in metafunc.fixturenames:
        metafunc.parametrize("target_name", _names(metafunc.config), scope="session")


@pytest.fixture(scope="session")
def fw(target_name: str, request: pytest.FixtureRequest) -> Fw:
    """The firmware target under test, built once per session (skips when it cannot run here)."""
    from imuad.errors import ImuadError
    from imuad.targets import get_target
    try:
        if target_name == "esp32":
            port = request.config.getoption("--port", default=None) or os.environ.get("IMUAD_ESP32_PORT")
            if not port:
                pytest.skip("esp32: no board given (--port /dev/ttyUSB0 or IMUAD_ESP32_PORT)")
            target = get_target("esp32", port=port)
        elif target_name == "idflinux":
            target = get_target("idflinux")  # the linux image is a test build: fixtures compiled in
        else:
            target = get_target(target_name, test_models=True)
    except ImuadError as exc:
        pytest.skip(str(exc))
    ok, why = target.available()
    if not ok:
        pytest.skip(f"target {target_name} unavailable: {why}")
    if target_name != "esp32":
        try:
            target.executable()  # build once here, not inside the first test's timing
        except ImuadError as exc:
            pytest.fail(f"target {target_name}: build failed: {exc}")
    return Fw(target_name, target, WINDOWS.get(target_name, 300), target_name != "esp32",
              DEVICE_INFO_TARGET.get(target_name, target_name))
