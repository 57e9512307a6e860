"""The ble_alerts component outside the radio: its ring/layout unit test (host C) and the
compile-only check of its NimBLE calls against Espressif's esp-nimble headers."""
from __future__ import annotations

import subprocess


def test_component_type_checks_against_esp_nimble(build_tree):
    r = subprocess.run(["cmake", "--build", str(build_tree), "--target",
                        "ble_alerts_espnimble_check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_backlog_ring_and_layouts_unit(build_tree):
    from imuad.build import artefact
    r = subprocess.run([str(artefact("nimble-linux", "proto-test"))], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
