"""The main job stores its emulator run so the dashboard draws it like a live device."""
from __future__ import annotations

import pytest

from imuad.gateway.store import Store
from imuad.cli.demo import _store_sim_run

CARD = {"name": "demo", "window": 128, "hop": 64, "sample_rate_hz": 2000.0, "tflite_sha256": "ab" * 32,
        "decision": {"threshold_on": 52}}


def test_sim_run_becomes_a_device_with_scores_and_events(tmp_path):
    scores = [0, 10, 200, 230, 240, 5, 3]
    sim = {"target": "qemu", "recording": "r.npz", "window_scores": scores,
           "events": [{"window": 3, "kind": 1, "score": 230}, {"window": 6, "kind": 2, "score": 3}]}
    run_id = _store_sim_run(tmp_path / "s.db", sim, CARD)
    store = Store(tmp_path / "s.db")
    try:
        device = f"sim:{run_id}"
        rows = sorted(store.events(device, limit=None), key=lambda r: r["seq"])
        beats = [r for r in rows if r["kind"] == 3]
        assert [r["score"] for r in beats] == scores
        # the state follows the firmware's events: anomaly from window 3 until the clear at 6
        assert [r["state"] for r in beats] == [0, 0, 0, 1, 1, 1, 0]
        assert [(r["kind"], r["score"]) for r in rows if r["kind"] != 3] == [(1, 230), (2, 3)]
        times = [r["received_at"] for r in beats]
        assert [b - a for a, b in zip(times, times[1:])] == pytest.approx([64 / 2000.0] * 6, abs=1e-5)
        assert store.device(device)["state"] == 0
        assert [r["run_id"] for r in store.runs()] == [run_id]
    finally:
        store.close()
