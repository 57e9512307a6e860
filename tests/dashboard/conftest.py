from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from dashboard_c9 import FakeGateway, populate


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[FakeGateway]:
    gw = FakeGateway(tmp_path / "store.db")
    yield gw
    gw.close()


@pytest.fixture()
def populated(gateway: FakeGateway) -> FakeGateway:
    """Two devices, a few heartbeats, one onset/clear pair on pump-1, one sim run."""
    return populate(gateway)
