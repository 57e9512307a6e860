"""The ESP-IDF Unity test app (device/test) on the linux target: MPU-6050 driver against the
CMock-mocked driver/i2c_master.h, plus device/main app logic."""
from __future__ import annotations

import re
import subprocess

import pytest

pytestmark = pytest.mark.timeout(600)


def test_unity_driver_and_app_logic():
    from imuad.errors import ImuadError
    from imuad.build import artefact, missing_tools
    miss = missing_tools("idflinux-unity")
    if miss:
        pytest.skip(f"ESP-IDF linux build unavailable: {miss}")
    try:
        elf = artefact("idflinux-unity", "tests")
    except ImuadError as exc:
        pytest.fail(str(exc))
    res = subprocess.run([str(elf)], capture_output=True, text=True, timeout=120)
    out = res.stdout + res.stderr
    m = re.search(r"(\d+) Tests (\d+) Failures (\d+) Ignored", out)
    assert m, out[-3000:]
    tests, failures = int(m.group(1)), int(m.group(2))
    assert failures == 0 and res.returncode == 0, "\n".join(l for l in out.splitlines() if "FAIL" in l)
    assert tests >= 20
    for name in ("test_fifo_overflow_flag_resets_fifo", "test_fifo_nack_during_burst", "test_fifo_count_timeout",
                 "test_init_wrong_who_am_i", "test_console_hello_enters_replay_bye_leaves"):
        assert f"{name}:PASS" in out
