"""The model zoo: one builder per architecture, all sized for an ESP32 running TFLM int8.

Supervised models take a normalised float32 window [W, C] and end in Dense(1, sigmoid)
(anomaly probability). The autoencoder reproduces its input (linear output, score = MSE).
"classical" is a host-only baseline (spectral features + sklearn), never deployed.

Every deep model uses only ops with int8 kernels in TFLM: CONV_2D (Conv1D lowers to it),
MAX_POOL_2D, MEAN (GlobalAveragePooling1D), FULLY_CONNECTED, LOGISTIC, TANH, ADD, MUL,
BATCH_MATMUL, SOFTMAX, RESHAPE, STRIDED_SLICE, SUB. No LayerNormalization (it
lowers to RSQRT/SQUARED_DIFFERENCE chains that quantize badly); the transformer uses
BatchNormalization, which folds into a per-channel MUL/ADD at inference.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from ..errors import ImuadError
from .names import ARCHITECTURES, DEEP, SUPERVISED  # noqa: F401  (re-exported)

# what the score means, per architecture (goes to run.json and the model card)
OUTPUT_MEANING = {a: "anomaly probability (sigmoid)" for a in SUPERVISED}
OUTPUT_MEANING["autoencoder"] = "reconstruction of the normalised input (score = MSE)"
OUTPUT_MEANING["classical"] = "anomaly probability (logistic regression) or -IsolationForest score"


def score_kind(arch: str) -> str:
    """'class_prob' for classifiers, 'recon_error' for the autoencoder (contracts C4)."""
    return "recon_error" if arch == "autoencoder" else "class_prob"


# ---------------------------------------------------------------- custom layers (serialisable)
@keras.saving.register_keras_serializable(package="imuad")
class PositionEmbedding(layers.Layer):
    """Learned position vectors added to a [S, D] sequence (one constant ADD after conversion)."""

    def build(self, input_shape):
        self.pos = self.add_weight(name="pos", shape=(int(input_shape[1]), int(input_shape[2])),
                                   initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + self.pos


@keras.saving.register_keras_serializable(package="imuad")
class SelfAttention(layers.Layer):
    """Multi-head self-attention from FULLY_CONNECTED + BATCH_MATMUL + SOFTMAX only.

    Heads are separate projections (no reshape/transpose of a 4-D tensor), so the converted
    graph stays 3-D. Projections are 1x1 Conv1D, not Dense: a Dense on a 3-D tensor with a
    dynamic batch converts to SHAPE/GATHER/REDUCE_PROD/PACK + RESHAPE, which TFLM cannot run.
    """

    def __init__(self, heads: int = 2, key_dim: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.key_dim = int(heads), int(key_dim)

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.q = [layers.Conv1D(self.key_dim, 1, name=f"q{h}") for h in range(self.heads)]
        self.k = [layers.Conv1D(self.key_dim, 1, name=f"k{h}") for h in range(self.heads)]
        self.v = [layers.Conv1D(self.key_dim, 1, name=f"v{h}") for h in range(self.heads)]
        for proj in self.q + self.k + self.v:
            proj.build(input_shape)
        self.o = layers.Conv1D(d, 1, name="o")
        self.o.build(tuple(input_shape[:-1]) + (self.heads * self.key_dim,))

    def call(self, x):
        scale = 1.0 / float(np.sqrt(self.key_dim))
        outs = []
        for h in range(self.heads):
            q = self.q[h](x) * scale
            k = self.k[h](x)
            v = self.v[h](x)
            att = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 2, 1))), axis=-1)
            outs.append(ops.matmul(att, v))
        return self.o(ops.concatenate(outs, axis=-1) if len(outs) > 1 else outs[0])

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "key_dim": self.key_dim}


@keras.saving.register_keras_serializable(package="imuad")
class FixedReshape(layers.Layer):
    """Reshape to (-1, *target): converts to one RESHAPE with a constant shape, where
    keras.layers.Reshape builds the shape from the dynamic batch (SHAPE/STRIDED_SLICE/PACK)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, x):
        return ops.reshape(x, (-1,) + self.target_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.target_shape

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@keras.saving.register_keras_serializable(package="imuad")
class UnrolledGRU(layers.Layer):
    """keras.layers.GRU(unroll=True, reset_after=True) math, written out step by step.

    Why not keras' GRU: its zero initial state is built with the dynamic batch size, which
    converts to SHAPE/FILL ops TFLM cannot prepare. Here the first step uses h0 = 0
    analytically (no state tensor to create), and every step is FULLY_CONNECTED + ADD +
    LOGISTIC/TANH + MUL/SUB on [batch, units] tensors. Gate order z, r, h as in Keras.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        c_in, u = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(name="kernel", shape=(c_in, 3 * u), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(u, 3 * u),
                                                initializer="orthogonal")
        self.bias = self.add_weight(name="bias", shape=(2, 3 * u), initializer="zeros")

    def call(self, x):
        u = self.units
        h = None
        for t in range(int(x.shape[1])):
            gx = ops.matmul(x[:, t, :], self.kernel) + self.bias[0]
            if h is None:                       # h0 = 0: recurrent term is just its bias
                gh = self.bias[1]
            else:
                gh = ops.matmul(h, self.recurrent_kernel) + self.bias[1]
            z = ops.sigmoid(gx[:, :u] + gh[..., :u])
            r = ops.sigmoid(gx[:, u:2 * u] + gh[..., u:2 * u])
            hh = ops.tanh(gx[:, 2 * u:] + r * gh[..., 2 * u:])
            h = (1.0 - z) * hh if h is None else z * h + (1.0 - z) * hh
        return h

    def get_config(self):
        return {**super().get_config(), "units": self.units}


CUSTOM_OBJECTS = {"PositionEmbedding": PositionEmbedding, "SelfAttention": SelfAttention,
                  "UnrolledGRU": UnrolledGRU, "FixedReshape": FixedReshape}


# ---------------------------------------------------------------- builders
def _conv_front(x, filters: int, n_layers: int = 2):
    """Strided Conv1D front end: each layer halves the sequence (k=5, stride 2, ReLU)."""
    for i in range(n_layers):
        x = layers.Conv1D(filters, 5, strides=2, padding="same", activation="relu", name=f"conv{i + 1}")(x)
    return x


def _pool_to(x, max_steps: int):
    """MaxPool1D until the sequence is at most max_steps long."""
    i = 0
    while x.shape[1] > max_steps:
        i += 1
        x = layers.MaxPooling1D(2, name=f"pool_seq{i}")(x)
    return x


def build_cnn(window: int, channels: int, filters: int = 12, filters2: int = 16, filters3: int = 24,
              dense: int = 16, dropout: float = 0.1):
    """The device default: ~60 k MACs, ~3 k params at W=128, C=3."""
    inp = keras.Input((window, channels), name="window")
    x = layers.Conv1D(filters, 5, strides=2, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = layers.Conv1D(filters2, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(2, name="pool2")(x)
    x = layers.Conv1D(filters3, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, activation="relu", name="fc")(x)
    out = layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inp, out, name="cnn")


def build_cnn_lstm(window: int, channels: int, filters: int = 16, units: int = 24, max_steps: int = 16):
    inp = keras.Input((window, channels), name="window")
    x = _pool_to(_conv_front(inp, filters), max_steps)
    x = layers.LSTM(units, name="lstm")(x)
    out = layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inp, out, name="cnn_lstm")


def build_cnn_gru(window: int, channels: int, filters: int = 16, units: int = 24, max_steps: int = 8):
    # unrolled (a rolled Keras 3 GRU becomes WHILE/TensorList ops that int8 conversion cannot
    # handle); UnrolledGRU rather than GRU(unroll=True) to avoid the dynamic zero state (FILL)
    inp = keras.Input((window, channels), name="window")
    x = _pool_to(_conv_front(inp, filters), max_steps)
    x = UnrolledGRU(units, name="gru")(x)
    out = layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inp, out, name="cnn_gru")


def build_transformer(window: int, channels: int, d_model: int = 16, heads: int = 2, patch: int = 8,
                      ff: int = 32, dropout: float = 0.1):
    if window % patch:
        raise ImuadError(f"transformer: window {window} is not a multiple of patch {patch}")
    inp = keras.Input((window, channels), name="window")
    x = layers.Conv1D(d_model, patch, strides=patch, name="patch_embed")(inp)   # [W/patch, d]
    x = PositionEmbedding(name="pos")(x)
    a = SelfAttention(heads, d_model // heads, name="attn")(x)
    x = layers.BatchNormalization(name="bn1")(layers.Add()([x, layers.Dropout(dropout)(a)]))
    f = layers.Conv1D(ff, 1, activation="relu", name="ff1")(x)     # pointwise FFN (see SelfAttention)
    f = layers.Conv1D(d_model, 1, name="ff2")(f)
    x = layers.BatchNormalization(name="bn2")(layers.Add()([x, layers.Dropout(dropout)(f)]))
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    out = layers.Dense(1, activation="sigmoid", name="prob")(x)
    return keras.Model(inp, out, name="transformer")


def build_autoencoder(window: int, channels: int, filters: int = 16, latent: int = 8):
    """Conv encoder (two stride-2 convs) and sub-pixel decoder; linear output [W, C].

    Each decoder stage is a Conv1D with 2x the channels reshaped to twice the length
    (1-D pixel shuffle) rather than Conv1DTranspose, whose dynamic output shape converts
    to SHAPE/STRIDED_SLICE/CONCATENATION ops in front of TRANSPOSE_CONV.
    """
    if window % 4:
        raise ImuadError(f"autoencoder: window {window} must be a multiple of 4")
    inp = keras.Input((window, channels), name="window")
    x = layers.Conv1D(filters, 5, strides=2, padding="same", activation="relu", name="enc1")(inp)
    x = layers.Conv1D(latent, 5, strides=2, padding="same", activation="relu", name="enc2")(x)
    x = layers.Conv1D(2 * filters, 5, padding="same", activation="relu", name="dec1")(x)
    x = FixedReshape((window // 2, filters), name="up1")(x)
    x = layers.Conv1D(2 * channels, 5, padding="same", name="dec2")(x)
    out = FixedReshape((window, channels), name="recon")(x)
    return keras.Model(inp, out, name="autoencoder")


_BUILDERS = {"cnn": build_cnn, "cnn_lstm": build_cnn_lstm, "cnn_gru": build_cnn_gru,
             "transformer": build_transformer, "autoencoder": build_autoencoder}


def build_model(arch: str, window: int, channels: int, seed: int = 0, **hp: Any):
    """Build one architecture. Deep archs return a keras.Model (not compiled);
    'classical' returns an sklearn estimator (see imuad.models.classical)."""
    if arch not in ARCHITECTURES:
        raise ImuadError(f"unknown architecture '{arch}' (choose from {', '.join(ARCHITECTURES)})")
    if arch == "classical":
        from .classical import build_classical
        return build_classical(seed=seed, **hp)
    keras.utils.set_random_seed(seed)
    try:
        return _BUILDERS[arch](window, channels, **hp)
    except TypeError as exc:
        raise ImuadError(f"{arch}: bad hyper-parameter ({exc})") from exc


# ---------------------------------------------------------------- cost
def count_macs(model) -> int:
    """Multiply-accumulates of one inference (batch 1), by layer type; 0 for sklearn models."""
    total = 0
    for layer in getattr(model, "layers", []):
        total += _layer_macs(layer)
    return int(total)


def _shape(t) -> tuple:
    return tuple(int(d) for d in t.shape[1:])


def _layer_macs(layer) -> int:
    if isinstance(layer, layers.Conv1D):
        (l_out, c_out), k = _shape(layer.output), layer.kernel_size[0]
        return l_out * c_out * k * int(layer.input.shape[-1])
    if isinstance(layer, layers.Dense):
        rows = int(np.prod(_shape(layer.input)[:-1])) if len(_shape(layer.input)) > 1 else 1
        return rows * int(layer.input.shape[-1]) * layer.units
    if isinstance(layer, (layers.LSTM, layers.GRU, UnrolledGRU)):
        steps, c_in = _shape(layer.input)
        gates = 4 if isinstance(layer, layers.LSTM) else 3
        return steps * gates * layer.units * (c_in + layer.units)
    if isinstance(layer, SelfAttention):
        s, d = _shape(layer.input)
        proj = 3 * layer.heads * s * d * layer.key_dim
        att = layer.heads * 2 * s * s * layer.key_dim
        return proj + att + s * layer.heads * layer.key_dim * d
    return 0


def fixed_batch(model, batch_size: int = 1):
    """Copy of a deep model with a fixed batch dimension, for TFLite conversion.

    With batch None, Keras RNN initial states become SHAPE/FILL/PACK ops (no int8 TFLM
    support); with batch 1 the converter folds them into constants.
    """
    inp = keras.Input(tuple(model.input_shape[1:]), batch_size=batch_size, name=model.input.name.split(":")[0])
    clone = keras.models.clone_model(model, input_tensors=inp)
    clone.set_weights(model.get_weights())
    return clone
