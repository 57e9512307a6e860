"""device/micropython/esp32/main.py's sensor -> detector -> alert loop on the unix port, with the
MPU-6050 I2C reads served from a recording: the alerts are the reference's events as C8 payloads."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from imuad.paths import REPO_ROOT

from mpy_support import MP_DIR, run_mpy

EVENT_FMT = "<BBBBIIiI"


def test_main_loop_with_recorded_imu(mpy, model_case, tmp_path):
    d, card, model, counts, work, ref = model_case
    if len(card["channels"]) != 3:
        pytest.skip("the MPU-6050 FIFO gives 3 accel axes; this model has another channel count")
    be = tmp_path / "fifo.bin"
    be.write_bytes(np.ascontiguousarray(counts.astype(">i2")).tobytes())
    out = tmp_path / "out.json"
    proc = run_mpy(mpy, MP_DIR / "main_loop.py", str(REPO_ROOT / "device/micropython/esp32"),
                   str(d / "model.tflite"), str(d / "model_card.json"), str(be), str(out), "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(out.read_text())
    assert got["bytes"] == counts.nbytes          # every sample reached the detector, once
    assert got["windows"] == len(ref.scores)
    payloads = [bytes.fromhex(p) for p in got["payloads"]]
    assert all(len(p) == 20 for p in payloads)
    rows = [struct.unpack(EVENT_FMT, p) for p in payloads]
    mid = struct.unpack("<I", bytes.fromhex(card["tflite_sha256"])[:4])[0]
    assert [(r[1], r[6]) for r in rows] == [(k, s) for _, k, s in ref.events]
    assert [r[4] for r in rows] == list(range(1, len(rows) + 1))          # seq
    assert all(r[0] == 1 and r[3] == 0 and r[7] == mid for r in rows)     # version, flags, model_id
    assert [r[2] for r in rows] == [1 if k == 1 else 0 for _, k, _ in ref.events]  # state after event
    # The driver set up the FIFO: reset, then accel-only FIFO enabled.
    assert [0x23, 0x08] in got["fifo_writes"]
