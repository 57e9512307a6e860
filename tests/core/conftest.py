"""Core fixtures: the host firmware build (built once per session)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def host_build() -> Path:
    from imuad.build import ensure_built
    return ensure_built("host")
