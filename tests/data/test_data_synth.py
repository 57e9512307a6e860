"""Synthetic machine: determinism, labels, int16 range, bearing physics in the spectrum."""
from __future__ import annotations

import numpy as np
import pytest

from imuad.data.synth import Bearing, FaultSpec, SynthConfig, default_config, parse_faults, synth_machine
from imuad.errors import ImuadError


def test_bearing_frequencies_from_geometry():
    b = Bearing()  # SKF 6205: BPFO 3.585 x, BPFI 5.415 x shaft speed
    assert b.bpfo(1.0) == pytest.approx(3.5848, abs=1e-3)
    assert b.bpfi(1.0) == pytest.approx(5.4152, abs=1e-3)
    assert b.bpfo(1.0) + b.bpfi(1.0) == pytest.approx(b.n_balls)


def test_deterministic_for_a_seed():
    cfg = default_config(duration_s=10.0)
    a, b = synth_machine(cfg), synth_machine(cfg)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    c = synth_machine(default_config(duration_s=10.0, seed=1))
    assert not np.array_equal(a.X, c.X)


def test_labels_match_schedule_and_int16_counts():
    cfg = SynthConfig(fs=1000.0, duration_s=10.0,
                      faults=(FaultSpec("imbalance", 1.0, 2.5), FaultSpec("inner", 6.0, 8.0, 0.8)))
    rec = synth_machine(cfg)
    assert rec.n_samples == 10_000 and rec.fs == 1000.0 and rec.channels == ["ax", "ay", "az"]
    assert rec.label_runs() == [(0, 0, 1000), (1, 1000, 2500), (0, 2500, 6000), (1, 6000, 8000),
                                (0, 8000, 10_000)]
    assert rec.X.dtype == np.float64 and np.all(rec.X == np.round(rec.X))
    assert rec.X.min() >= -32768 and rec.X.max() <= 32767
    assert abs(np.mean(rec.X[:, 2]) - 8192) < 400            # +1 g on az at 8192 LSB/g
    assert abs(np.mean(rec.X[:, 0])) < 400


def _peak_ratio(x: np.ndarray, fs: float, f0: float, nfft: int = 4000) -> float:
    """Averaged power at f0 over the median power 3..15 Hz beside it."""
    n = len(x) // nfft
    seg = x[: n * nfft].reshape(n, nfft)
    seg = seg - seg.mean(axis=1, keepdims=True)
    p = (np.abs(np.fft.rfft(seg * np.hanning(nfft), axis=1)) ** 2).mean(axis=0)
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    i = int(np.argmin(np.abs(f - f0)))
    side = p[(np.abs(f - f0) > 3) & (np.abs(f - f0) < 15)]
    return float(p[i - 1:i + 2].max() / np.median(side))


def test_outer_fault_shows_bpfo_in_spectrum_only_during_the_fault():
    cfg = SynthConfig(fs=2000.0, duration_s=20.0, faults=(FaultSpec("outer", 10.0, 20.0, 1.0),))
    rec = synth_machine(cfg)
    bpfo = cfg.bearing.bpfo(cfg.shaft_hz)
    az = rec.X[:, 2]
    before, during = az[:20_000], az[20_000:]
    assert _peak_ratio(during, rec.fs, bpfo) > 10          # line at BPFO in the raw spectrum
    assert _peak_ratio(before, rec.fs, bpfo) < 3
    env = lambda x: np.abs(x - x.mean())                   # envelope (rectified) spectrum
    assert _peak_ratio(env(during), rec.fs, bpfo) > 10
    assert _peak_ratio(env(before), rec.fs, bpfo) < 3
    bpfi = cfg.bearing.bpfi(cfg.shaft_hz)
    assert _peak_ratio(env(during), rec.fs, bpfi) < 3      # an outer fault is not an inner one


def test_resonance_follows_the_output_data_rate():
    assert SynthConfig(fs=8000.0).resonance() == 3000.0
    assert SynthConfig(fs=2000.0).resonance() == 600.0
    with pytest.raises(ImuadError, match="below Nyquist"):
        SynthConfig(fs=2000.0, resonance_hz=1500.0).resonance()


def test_default_preset_has_several_fault_kinds():
    cfg = default_config()
    assert cfg.fs == 2000.0 and cfg.duration_s == 120.0
    assert {f.kind for f in cfg.faults} == {"outer", "inner", "imbalance", "misalignment"}


def test_parse_faults():
    assert parse_faults("outer@20-30,inner@45-60:0.8") == (
        FaultSpec("outer", 20.0, 30.0, 1.0), FaultSpec("inner", 45.0, 60.0, 0.8))
    for bad in ("outer@20", "rust@1-2", "outer@5-2", "outer@1-2:x"):
        with pytest.raises(ImuadError):
            parse_faults(bad)
