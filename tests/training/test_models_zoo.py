"""Every architecture builds, fits the device budget where it must, and uses TFLM-friendly layers."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from imuad.errors import ImuadError
from imuad.training.compare import parse_entry, suggest_hop
from imuad.training.zoo import ARCHITECTURES, DEEP, UnrolledGRU, build_model, count_macs

FORBIDDEN = (keras.layers.Lambda, keras.layers.LayerNormalization, keras.layers.MultiHeadAttention)


@pytest.mark.parametrize("arch", DEEP)
def test_deep_models_build_and_predict(arch):
    m = build_model(arch, 128, 3, seed=0)
    x = np.random.default_rng(0).normal(size=(2, 128, 3)).astype(np.float32)
    out = np.asarray(m(x))
    if arch == "autoencoder":
        assert out.shape == (2, 128, 3)
    elif arch == "spectral_gauss":  # a distance (mean of capped squared z-scores), then the shape
        from imuad.training.zoo import FEATURE_GAIN
        assert out.shape[0] == 2 and np.all((out[:, 0] >= 0) & (out[:, 0] <= 36))
        shape = out[:, 1:].reshape(2, 3, -1) / FEATURE_GAIN  # per axis unit L2 norm
        np.testing.assert_allclose(np.linalg.norm(shape, axis=2), 1.0, rtol=1e-4)
    else:
        assert out.shape == (2, 1) and np.all((out > 0) & (out < 1))
    assert not any(isinstance(layer, FORBIDDEN) for layer in m.layers)
    assert 0 < count_macs(m) < 250_000


def test_default_cnn_fits_the_device_budget():
    m = build_model("cnn", 128, 3, seed=0)
    # conv1 64x12x5x3 + conv2 32x16x5x12 + conv3 16x24x3x16 + fc 24x16 + out 16
    assert count_macs(m) == 64 * 12 * 5 * 3 + 32 * 16 * 5 * 12 + 16 * 24 * 3 * 16 + 24 * 16 + 16
    assert count_macs(m) <= 150_000
    assert m.count_params() * 1 < 8_000          # int8 weights: a few KB of the 32 KB flatbuffer


def test_recurrent_models_see_short_sequences():
    for arch, layer_type in (("cnn_lstm", keras.layers.LSTM), ("cnn_gru", UnrolledGRU)):
        m = build_model(arch, 128, 3, seed=0)
        rnn = next(layer for layer in m.layers if isinstance(layer, layer_type))
        assert rnn.input.shape[1] <= 16


def test_unrolled_gru_is_keras_gru():
    gru = UnrolledGRU(6)
    x = np.random.default_rng(2).normal(size=(3, 5, 4)).astype(np.float32)
    gru.build(x.shape)
    gru.set_weights([np.random.default_rng(i).normal(size=w.shape).astype(np.float32) * 0.5
                     for i, w in enumerate(gru.get_weights())])
    ref = keras.layers.GRU(6, unroll=True, reset_after=True)
    ref.build(x.shape)
    ref.set_weights(gru.get_weights())
    np.testing.assert_allclose(np.asarray(gru(x)), np.asarray(ref(x)), atol=1e-5)


def test_same_seed_same_weights():
    a = build_model("cnn", 128, 3, seed=7).get_weights()
    b = build_model("cnn", 128, 3, seed=7).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_unknown_arch_and_entries():
    assert set(ARCHITECTURES) == {"spectral", "cnn", "cnn_lstm", "cnn_gru", "transformer", "autoencoder",
                                  "spectral_gauss", "classical"}
    with pytest.raises(ImuadError):
        build_model("mlp", 128, 3)
    assert parse_entry("classical:iforest") == ("classical", {"variant": "iforest"})
    with pytest.raises(ImuadError):
        parse_entry("cnn:big")
    assert suggest_hop(99_399, 128) == 64 and suggest_hop(12_000, 128) == 8
