"""The C++ unit tests (CTest) under the host preset and under ASan + UBSan (host-asan)."""
from __future__ import annotations

import subprocess

import pytest

from imuad.build import ensure_built


@pytest.mark.parametrize("preset", ["host", "host-asan"])
def test_ctest(preset):
    build = ensure_built(preset)
    proc = subprocess.run(["ctest", "--test-dir", str(build), "--output-on-failure", "-j2"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    print(proc.stdout[-4000:])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "100% tests passed" in proc.stdout


def test_fuzz_counts_reported():
    build = ensure_built("host-asan")
    exe = build / "device/components/imuad_core/test/imuad-fuzz-frames"
    proc = subprocess.run([str(exe), "100000", "7"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert "fuzz: 100000 frames" in proc.stdout
