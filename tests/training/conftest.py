"""Shared fixtures of the models tests: one small synthetic recording and one trained run."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")


@pytest.fixture(scope="session")
def synth_npz(tmp_path_factory) -> Path:
    """40 s at 1 kHz of the synthetic machine with two clear outer-race fault episodes."""
    from imuad.data.recording import save_recording
    from imuad.data.synth import default_config, parse_faults, synth_machine, with_overrides
    cfg = with_overrides(default_config(duration_s=40.0, fs=1000.0, seed=3),
                         faults=parse_faults("outer@8-18:2.5,outer@26-36:2.5"))
    return save_recording(synth_machine(cfg), tmp_path_factory.mktemp("rec") / "synth.npz")


@pytest.fixture(scope="session")
def cnn_run(synth_npz, tmp_path_factory) -> Path:
    """A cnn trained on synth_npz (seed 0); shared by the smoke, report and round-trip tests."""
    from imuad.training.train import train
    return train(synth_npz, "cnn", tmp_path_factory.mktemp("runs") / "cnn", window=128, hop=64,
                 epochs=8, seed=0, verbose=0)
