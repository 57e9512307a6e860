"""Fixtures of the device tooling tests (flash / monitor / hil command line, Unity app): the
ESP-IDF app for the linux target from the build table (the recording fixture is tests/conftest.py). The firmware
behaviour every target shares (HIL runs included) is tests/firmware."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def idf_linux_elf() -> Path:
    """device/ built for ESP-IDF's linux target (once per run)."""
    from imuad.build import artefact, missing_tools
    from imuad.errors import ImuadError
    miss = missing_tools("idflinux")
    if miss:
        pytest.skip(f"ESP-IDF linux build unavailable: {miss}")
    try:
        return artefact("idflinux")
    except ImuadError as exc:
        pytest.fail(str(exc))
