"""The same tests run on every firmware target: `pytest tests/targets --target host --target qemu`.

Default targets: $IMUAD_TARGETS (comma separated) or 'host'. Sim/device engineers add their
targets to imuad.targets (get_target) and pass --target; nothing here changes.
"""
from __future__ import annotations

import os

import pytest


def _target_names(config: pytest.Config) -> list[str]:
    names = config.getoption("--target", default=None)
    if not names:
        names = [n for n in os.environ.get("IMUAD_TARGETS", "host").split(",") if n]
    out = []
    for n in names:
        out += [x for x in n.split(",") if x]
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target_name" in metafunc.fixturenames:
        metafunc.parametrize("target_name", _target_names(metafunc.config), scope="session")


@pytest.fixture(scope="session")
def target(target_name: str):
    """A started-on-demand firmware target; skips when it cannot run on this machine."""
    from imuad.errors import ImuadError
    from imuad.targets import get_target
    try:
        t = get_target(target_name)
    except ImuadError as exc:
        pytest.skip(str(exc))
    ok, why = t.available()
    if not ok:
        pytest.skip(f"target {target_name} unavailable: {why}")
    return t
