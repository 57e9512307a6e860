"""The spectral front end inside the int8 graph: what the frozen filters compute, the train-only
gains, and its cost next to the default cnn."""
from __future__ import annotations

import numpy as np

from imuad.training.zoo import (PHASES, adapt_spectral, band_kernel, build_model, count_macs, dft_kernel,
                              spectral_plan)


def _magnitudes(x: np.ndarray, frame: int) -> np.ndarray:
    """Sum of the 3 rectified phase outputs per bin for one frame x [frame]."""
    p = spectral_plan(frame, frame)
    k = dft_kernel(frame, p["bins"])[:, 0, 0, :]
    out = np.maximum(x @ k, 0.0)
    return np.array([out[2 + PHASES * i: 2 + PHASES * (i + 1)].sum() for i in range(len(p["bins"]))])


def test_three_phase_rectifier_is_the_bin_magnitude_whatever_the_phase():
    n = np.arange(32)
    for k in (1, 3, 7, 12):
        for phase in np.linspace(0, 2 * np.pi, 13):
            mag = _magnitudes(2.5 * np.cos(2 * np.pi * k * n / 32 + phase) + 40.0, 32)   # + a large DC offset
            # the amplitude times the 3-phase rectifier's 0.866..1 ripple, at every bin and phase
            assert 0.86 * 2.5 <= mag[k - 1] <= 1.01 * 2.5, (k, phase, mag[k - 1])
            assert np.all(np.delete(mag, [k - 2, k - 1, k]) < 0.02 * mag[k - 1])     # Hann leakage: +/-1 bin
    assert np.allclose(_magnitudes(np.full(32, 100.0), 32), 0.0, atol=1e-4)          # zero-mean filters


def test_bands_are_log_spaced_means_of_bins():
    p = spectral_plan(128)
    assert p["frame"] == 32 and p["frames"] == 4 and len(p["bins"]) == 16
    k = band_kernel(p)[0, 0]
    assert k.shape == (2 + PHASES * 16, 2 + p["n_bands"])
    assert np.allclose(k[2:].sum(axis=0)[2:], PHASES)       # every band averages its bins' 3 phases
    widths = np.bincount(p["band_of"])
    assert widths[0] == 1 and widths[-1] >= widths[0]        # narrow low bands, wider high bands


def test_adapt_gives_every_bin_unit_rms_on_train_data():
    rng = np.random.default_rng(1)
    t = np.arange(128)[None, :, None]
    x = (5.0 * np.sin(2 * np.pi * 4 * t / 32 + rng.uniform(0, 6, (64, 1, 3)))
         + 0.05 * rng.normal(size=(64, 128, 3))).astype(np.float32)
    m = build_model("spectral", 128, 3, seed=0)
    gains = adapt_spectral(m, x)
    assert gains[2 + PHASES * 3] < gains[2 + PHASES * 10] / 10     # the loud bin is scaled down
    import keras
    out = np.asarray(keras.Model(m.input, m.get_layer("dft").output)(x)).reshape(-1, len(gains))
    per_bin = np.stack([out[:, 2 + PHASES * i: 2 + PHASES * (i + 1)].sum(1) for i in range(16)], 1)
    assert np.allclose(np.sqrt((per_bin ** 2).mean(0)), 1.0, rtol=1e-3)
    assert not m.get_layer("dft").trainable and not m.get_layer("bands").trainable


def test_cost_within_the_default_cnn():
    spec, cnn = build_model("spectral", 128, 3), build_model("cnn", 128, 3)
    assert count_macs(spec) <= count_macs(cnn) == 61_072
    assert count_macs(spec) == 47_464
    trainable = sum(int(np.prod(w.shape)) for w in spec.trainable_weights)
    assert trainable < 2_500 and spec.count_params() < 4_000
