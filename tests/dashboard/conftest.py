from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from dashboard_c9 import FakeGateway


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[FakeGateway]:
    gw = FakeGateway(tmp_path / "store.db")
    yield gw
    gw.close()


@pytest.fixture()
def populated(gateway: FakeGateway) -> FakeGateway:
    """Two devices, a few heartbeats, one onset/clear pair on pump-1, one sim run."""
    t0 = time.time() - 100
    gateway.upsert_device("pump-1", name="Pump 1", model_id="a1b2c3d4", fw_version="1.0.0",
                          last_seen=t0 + 50, state=0, threshold=120, uptime_ms=3_600_000,
                          battery=0.82, source="ble")
    gateway.upsert_device("fan-2", name="Fan 2", model_id="a1b2c3d4", last_seen=t0 + 40,
                          state=0, threshold=100, source="ble")
    rows = [dict(device_id="pump-1", seq=i, kind=3, score=40 + i, received_at=t0 + i)
            for i in range(10)]
    rows += [dict(device_id="pump-1", seq=10, kind=1, score=150, received_at=t0 + 20),
             dict(device_id="pump-1", seq=11, kind=2, score=30, received_at=t0 + 30),
             dict(device_id="fan-2", seq=1, kind=1, score=101,
                  received_at=t0 + 25)]
    gateway.insert_events(rows)
    gateway.add_run("r1", "sim", "qemu", "cnn_small", "pump.csv",
                    {"parity": {"exact": 500, "total": 500, "max_lsb": 0},
                     "instructions_per_inference": 123456, "events": 2, "windows": 500})
    gateway.insert_events([dict(device_id="sim:r1", seq=3, kind=1, score=200,
                                received_at=t0 + 5)])
    return gateway
