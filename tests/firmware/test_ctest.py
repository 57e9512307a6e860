"""The C++ unit tests (CTest) under the host preset and under ASan + UBSan (host-asan)."""
from __future__ import annotations

import subprocess

import pytest

from imuad.build import artefact, ensure_built


@pytest.mark.parametrize("target", ["host", "host-asan"])
def test_ctest(target):
    build = ensure_built(target)
    proc = subprocess.run(["ctest", "--test-dir", str(build), "--output-on-failure", "-j2"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    print(proc.stdout[-4000:])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "100% tests passed" in proc.stdout


def test_fuzz_counts_reported():
    exe = artefact("host-asan", "fuzz")
    proc = subprocess.run([str(exe), "100000", "7"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert "fuzz: 100000 frames" in proc.stdout
