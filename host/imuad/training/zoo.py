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
from .names import ARCHITECTURES, DEEP, RANGE_PROBED, SUPERVISED  # noqa: F401  (re-exported)

# what the score means, per architecture (goes to run.json and the model card)
OUTPUT_MEANING = {a: "anomaly probability (sigmoid)" for a in SUPERVISED}
OUTPUT_MEANING["autoencoder"] = "reconstruction of the normalised input (score = MSE)"
OUTPUT_MEANING["spectral_gauss"] = ("mean squared z-score of the spectral shape against normal windows (output 0), "
                                    "then the shape features x FEATURE_GAIN (a device's own refit, C5b)")
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
class L2Normalize(layers.Layer):
    """Unit L2 norm over the last axis: converts to one L2_NORMALIZATION op (int8 output of
    scale 1/128), where keras.layers.UnitNormalization leaves a SUM/RSQRT/MUL chain."""

    def call(self, x):
        import tensorflow as tf
        return tf.math.l2_normalize(x, axis=-1, epsilon=1e-12)

    def compute_output_shape(self, input_shape):
        return input_shape


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


CUSTOM_OBJECTS = {"PositionEmbedding": PositionEmbedding, "L2Normalize": L2Normalize, "SelfAttention": SelfAttention,
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


def _pool2(x, name: str):
    """MaxPool1D(2) unless the sequence is already 1 step long (short windows still build)."""
    return layers.MaxPooling1D(2, name=name)(x) if x.shape[1] >= 2 else x


def _conv_stack(x, filters: tuple[int, int, int], prefix: str = ""):
    """The shared time-domain feature extractor: three Conv1D with max pools, then MEAN."""
    f1, f2, f3 = filters
    x = layers.Conv1D(f1, 5, strides=2, padding="same", activation="relu", name=f"{prefix}conv1")(x)
    x = _pool2(x, f"{prefix}pool1")
    x = layers.Conv1D(f2, 5, padding="same", activation="relu", name=f"{prefix}conv2")(x)
    x = _pool2(x, f"{prefix}pool2")
    x = layers.Conv1D(f3, 3, padding="same", activation="relu", name=f"{prefix}conv3")(x)
    return layers.GlobalAveragePooling1D(name=f"{prefix}gap")(x)


def build_cnn(window: int, channels: int, filters: int = 12, filters2: int = 16, filters3: int = 24,
              dense: int = 16, dropout: float = 0.1):
    """~60 k MACs, ~3 k params at W=128, C=3."""
    inp = keras.Input((window, channels), name="window")
    x = _conv_stack(inp, (filters, filters2, filters3))
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
    inp = keras.Input((window, channels), name="window")
    x = layers.Conv1D(filters, 5, strides=2, padding="same", activation="relu", name="enc1")(inp)
    x = layers.Conv1D(latent, 5, strides=2, padding="same", activation="relu", name="enc2")(x)
    x = layers.Conv1D(2 * filters, 5, padding="same", activation="relu", name="dec1")(x)
    x = FixedReshape((window // 2, filters), name="up1")(x)
    x = layers.Conv1D(2 * channels, 5, padding="same", name="dec2")(x)
    out = FixedReshape((window, channels), name="recon")(x)
    return keras.Model(inp, out, name="autoencoder")


# ---------------------------------------------------------------- spectral front end (frozen, int8)
def spectral_frame(window: int) -> int:
    """Frame length of the spectral front end: a quarter of the window (4 Hann frames; Welch-style
    averaging lowers the variance of each band), at most 32 samples (16 bins) so MACs grow only
    linearly with longer windows; windows under 8 samples are one frame."""
    return window if window < 8 else min(32, window // 4)


def spectral_plan(window: int, frame: int | None = None, frame_hop: int | None = None,
                  bands: int = 12) -> dict[str, Any]:
    """Frames, DFT bins and log-spaced bands (as imuad.training.classical) of the front end."""
    n = int(frame or spectral_frame(window))
    if not 1 <= n <= window:
        raise ImuadError(f"spectral: frame {n} must be 1..window ({window})")
    s = int(frame_hop or n)
    frames = (window - n) // s + 1
    bins = np.arange(1, n // 2 + 1)                       # DC is handled by its own filters
    edges = np.unique(np.round(np.geomspace(1, len(bins) + 1, bands + 1)).astype(int)) if len(bins) else np.array([1])
    band_of = np.searchsorted(edges, bins, side="right") - 1
    return {"frame": n, "frame_hop": s, "frames": frames, "bins": bins, "band_of": band_of,
            "n_bands": int(band_of.max()) + 1 if len(bins) else 0}


PHASES = 3   # sum_m relu(a cos(theta - 2 pi m / 3)) is |a| within 0.866..1 for any phase theta


def dft_kernel(frame: int, bins: np.ndarray) -> np.ndarray:
    """[frame, 1, 1, 2 + 3 * len(bins)]: +DC, -DC, then 3 phase-shifted Hann-windowed cosines per
    bin, each made zero-mean (no DC leakage into low bins) and scaled so that a unit sinusoid
    at that bin gives a unit peak."""
    n = np.arange(frame)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / frame) if frame > 2 else np.ones(frame)
    cols = [w / w.sum(), -w / w.sum()]
    for k in bins:
        for m in range(PHASES):
            h = w * np.cos(2 * np.pi * k * n / frame + 2 * np.pi * m / PHASES)
            h = h - h.mean()
            cols.append(2.0 * h / w.sum())
    return np.stack(cols, axis=1)[:, None, None, :].astype(np.float32)


def band_kernel(plan: dict[str, Any]) -> np.ndarray:
    """[1, 1, 2 + 3 * bins, 2 + bands]: DC+/- pass through; a band is the mean of its bins'
    rectified phase outputs (~ mean bin magnitude)."""
    nb = len(plan["bins"])
    k = np.zeros((2 + PHASES * nb, 2 + plan["n_bands"]), np.float32)
    k[0, 0] = k[1, 1] = 1.0
    for i, b in enumerate(plan["band_of"]):
        count = int(np.sum(plan["band_of"] == b))
        k[2 + PHASES * i: 2 + PHASES * (i + 1), 2 + b] = 1.0 / count
    return k[None, None]


def build_spectral(window: int, channels: int, frame: int | None = None, frame_hop: int | None = None,
                   bands: int = 12, conv: int = 8, dense: int = 16, dropout: float = 0.2, pool: str = "mean"):
    """Spectral front end inside the int8 graph, a small time-domain conv branch, a dense head.

    Spectral branch (frozen, what the classical baselines see): per axis and Hann frame (a
    quarter window) a CONV_2D computes every DFT bin as three phase-shifted rectified
    projections (their sum is the bin magnitude within -1.2 dB whatever the phase) plus the
    frame mean (+/-); a 1x1 CONV_2D averages bins into log-spaced bands; MEAN over frames
    (Welch). `adapt_spectral` scales each bin by 1/its train RMS so every band uses the int8
    range evenly. Time branch (trained, `conv` filters; 0 = none): three Conv1D + max pools +
    MEAN, for impulsive patterns (bearing impacts) that band averages dilute. Both feed
    CONCATENATION -> FULLY_CONNECTED -> sigmoid. ~47 k MACs, ~3.5 k params at W=128, C=3.
    pool="frames" keeps frames apart instead of averaging them (position-aware head)."""
    if pool not in ("mean", "frames"):
        raise ImuadError(f"spectral: pool '{pool}' is not one of mean, frames")
    p = spectral_plan(window, frame, frame_hop, bands)
    n_filt, n_out = 2 + PHASES * len(p["bins"]), 2 + p["n_bands"]
    inp = keras.Input((window, channels), name="window")
    x = FixedReshape((window, channels, 1), name="axes")(inp)
    x = layers.Conv2D(n_filt, (p["frame"], 1), strides=(p["frame_hop"], 1), activation="relu", use_bias=False,
                      trainable=False, name="dft")(x)                                  # [T, C, n_filt]
    x = layers.Conv2D(n_out, 1, use_bias=False, trainable=False, name="bands")(x)      # [T, C, bands + 2]
    if pool == "mean":
        x = FixedReshape((p["frames"], channels * n_out), name="frames")(x)
        x = layers.GlobalAveragePooling1D(name="spectrum")(x)
    else:
        x = FixedReshape((p["frames"] * channels * n_out,), name="spectrum")(x)
    if conv:
        x = layers.Concatenate(name="features")([x, _conv_stack(inp, (conv, conv, conv), prefix="t")])
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, activation="relu", name="fc")(x)
    out = layers.Dense(1, activation="sigmoid", name="prob")(x)
    model = keras.Model(inp, out, name="spectral")
    model.get_layer("dft").set_weights([dft_kernel(p["frame"], p["bins"])])
    model.get_layer("bands").set_weights([band_kernel(p)])
    return model


def adapt_spectral(model, x_train: np.ndarray) -> np.ndarray:
    """Scale each DFT bin (its 3 phase filters) and the DC pair by 1 / their RMS output on the
    normalised train windows, so the int8 tensors after the front end resolve every band
    (vibration spectra span decades). Train data only, like the normaliser. Returns the gains."""
    dft = model.get_layer("dft")
    kernel = dft.get_weights()[0]
    sub = keras.Model(model.input, dft.output)
    out = np.asarray(sub.predict(np.asarray(x_train[:2000], np.float32), batch_size=256, verbose=0), np.float64)
    feat = out.reshape(-1, out.shape[-1])
    groups = [[0, 1]] + [list(range(2 + PHASES * i, 2 + PHASES * (i + 1))) for i in range((kernel.shape[-1] - 2) // PHASES)]
    gains = np.ones(kernel.shape[-1], np.float64)
    for g in groups:
        rms = float(np.sqrt(np.mean(feat[:, g].sum(axis=1) ** 2)))
        gains[g] = 1.0 / rms if rms > 1e-6 else 1.0
    dft.set_weights([(kernel * gains[None, None, None, :]).astype(np.float32)])
    return gains


#: a shape feature contributes at most CAP^2 to the distance (in standard deviations): one wild
#: band cannot outvote the rest, and the int8 tensors after the normal statistics have a fixed range
CAP = 6.0


#: spectral_gauss's shape features (each in [0, 1]) are output x this, next to the distance: one
#: int8 scale serves both. A trade-off measured with `imuad bench commissioning`: at 30 the
#: features widen the shared range and the distance loses resolution (host commissioning found
#: the inner-race fault after 2.05 s instead of 0.93 s); at 10 the features are too coarse for a
#: device's refit (4 false alarms/h instead of 0); 20 keeps both (0/h, faults within 1 s).
FEATURE_GAIN = 20.0


def build_spectral_gauss(window: int, channels: int, frame: int | None = None, frame_hop: int | None = None,
                         bands: int = 12):
    """Normal-only and amplitude invariant: the distance of a window's spectral shape from the
    normal ones, all frozen (no gradient training; `adapt_spectral_gauss` fits it).

    The spectral front end of `build_spectral` (DFT bins -> log-spaced bands, MEAN over frames),
    without its DC pair; per axis the band vector is scaled to unit L2 norm (L2_NORMALIZATION),
    so a louder or quieter machine, another mounting gain or sensor range gives the same
    features and only a change of spectral shape moves them. A diagonal Gaussian of the normal
    train windows scores it: z = (f - mean) / std as two FULLY_CONNECTED with fused RELU6 (the
    positive and negative parts, capped at CAP = 6 std), squared (MUL), averaged
    (FULLY_CONNECTED): output[0] = mean(min(|z|, 6)^2). Score kind class_prob (index 0): higher
    = farther from normal. output[1:] = the shape features x FEATURE_GAIN (C5b refit). 26 k MACs at W=128, C=3."""
    p = spectral_plan(window, frame, frame_hop, bands)
    n_filt, nb = 2 + PHASES * len(p["bins"]), max(1, p["n_bands"])
    n_feat = channels * nb
    inp = keras.Input((window, channels), name="window")
    x = FixedReshape((window, channels, 1), name="axes")(inp)
    x = layers.Conv2D(n_filt, (p["frame"], 1), strides=(p["frame_hop"], 1), activation="relu", use_bias=False,
                      trainable=False, name="dft")(x)                                  # [T, C, n_filt]
    x = layers.Conv2D(nb, 1, use_bias=False, trainable=False, name="bands")(x)         # [T, C, bands]
    x = FixedReshape((p["frames"], n_feat), name="frames")(x)
    x = layers.GlobalAveragePooling1D(name="spectrum")(x)
    x = FixedReshape((channels, nb), name="per_axis")(x)
    x = L2Normalize(name="shape")(x)
    f = FixedReshape((n_feat,), name="features")(x)
    zp = layers.Dense(n_feat, activation="relu6", trainable=False, name="z_pos")(f)
    zn = layers.Dense(n_feat, activation="relu6", trainable=False, name="z_neg")(f)
    z = layers.Concatenate(name="z")([zp, zn])
    x = layers.Multiply(name="z2")([z, z])
    d = layers.Dense(1, trainable=False, name="distance")(x)
    # The shape features ride along after the distance (one output tensor, one int8 scale): a
    # device that calibrates itself refits their mean and std (C5b refit) from its own machine.
    shape = layers.Rescaling(FEATURE_GAIN, name="shape_out")(f)
    out = layers.Concatenate(name="distance_and_shape")([d, shape])
    model = keras.Model(inp, out, name="spectral_gauss")
    model.get_layer("dft").set_weights([dft_kernel(p["frame"], p["bins"])])
    # band energy = the sum of its bins' magnitudes (not their mean): the shape says where the
    # vibration's energy is, whatever the band widths
    bk = (band_kernel(p)[..., 2:] > 0).astype(np.float32) if p["n_bands"] else np.ones((1, 1, n_filt, 1), np.float32)
    model.get_layer("bands").set_weights([bk.astype(np.float32)])
    set_normal_statistics(model, np.zeros(n_feat), np.ones(n_feat))
    model.get_layer("distance").set_weights([np.full((2 * n_feat, 1), 1.0 / n_feat, np.float32),
                                             np.zeros(1, np.float32)])
    return model


def set_normal_statistics(model, mean: np.ndarray, std: np.ndarray) -> None:
    """z_pos = relu6((f - mean) / std), z_neg = relu6((mean - f) / std)."""
    w, b = np.diag(1.0 / std).astype(np.float32), (-mean / std).astype(np.float32)
    model.get_layer("z_pos").set_weights([w, b])
    model.get_layer("z_neg").set_weights([-w, -b])


def adapt_spectral_gauss(model, x_normal: np.ndarray) -> dict[str, np.ndarray]:
    """Fit the normal-only model on normal train windows: DFT gains (as `adapt_spectral`), then
    the mean and standard deviation of each shape feature; a std below a tenth of the median
    is raised to it, so a feature that never moves in training cannot dominate the distance."""
    if len(x_normal) == 0:
        raise ImuadError("spectral_gauss: the train split has no normal windows")
    adapt_spectral(model, x_normal)
    feats = keras.Model(model.input, model.get_layer("features").output)
    f = np.asarray(feats.predict(np.asarray(x_normal, np.float32), batch_size=256, verbose=0), np.float64)
    mean, std = f.mean(axis=0), f.std(axis=0)
    std = np.maximum(std, max(0.1 * float(np.median(std)), 1e-4))
    set_normal_statistics(model, mean, std)
    return {"mean": mean, "std": std}


def range_probes(arch: str, window: int, channels: int, n: int, seed: int = 0) -> np.ndarray:
    """Label-free calibration windows far from any machine's normal spectral shape (single tones
    at random frequencies, white noise, impulse trains), added to the normal windows when a
    normal-only model is quantized: the int8 ranges of its distance then reach the capped
    maximum, so anomalies are not clipped to the largest normal score. Empty for other archs."""
    if arch not in RANGE_PROBED or n <= 0:
        return np.zeros((0, window, channels), np.float32)
    rng = np.random.default_rng(seed)
    t = np.arange(window)
    out = np.zeros((n, window, channels), np.float32)
    for i in range(n):
        for c in range(channels):
            kind = (i + c) % 3
            if kind == 0:
                x = np.sin(2 * np.pi * rng.uniform(0.0, 0.5) * t + rng.uniform(0, 2 * np.pi))
            elif kind == 1:
                x = rng.standard_normal(window)
            else:
                x = np.zeros(window)
                x[rng.integers(0, window, size=int(rng.integers(1, 5)))] = 3.0
            out[i, :, c] = x * rng.uniform(0.5, 3.0)
    return out


def adapt_model(arch: str, model, x_train: np.ndarray, y_train: np.ndarray | None = None) -> None:
    """Data-dependent, frozen parts of an architecture, fitted on the normalised train windows
    (normal-only architectures on the normal ones: labels pick them, nothing else)."""
    if arch == "spectral":
        adapt_spectral(model, x_train)
    elif arch == "spectral_gauss":
        adapt_spectral_gauss(model, x_train if y_train is None else x_train[np.asarray(y_train) == 0])


_BUILDERS = {"cnn": build_cnn, "cnn_lstm": build_cnn_lstm, "cnn_gru": build_cnn_gru,
             "transformer": build_transformer, "autoencoder": build_autoencoder, "spectral": build_spectral,
             "spectral_gauss": build_spectral_gauss}


def window_rule(arch: str, hp: dict[str, Any] | None = None) -> tuple[int, int]:
    """(smallest window, required multiple) an architecture builds for; any other window >= 1
    builds (tests/models build every arch at every window 1..160 against this)."""
    hp = hp or {}
    if arch == "transformer":
        p = int(hp.get("patch", 8))
        return 2 * p, p             # whole patches (Conv1D k=patch, stride=patch), >= 2 tokens to attend
    if arch == "autoencoder":
        return 4, 4                 # two stride-2 encoder steps undone by two pixel shuffles
    if arch == "classical":
        return 2, 1                 # a spectrum needs >= 2 samples
    if arch == "spectral_gauss":
        return 4, 1                 # a spectral shape needs >= 2 bins
    return 1, 1


def check_window(arch: str, window: int, hp: dict[str, Any] | None = None) -> None:
    """Refuse, before any work, a window the architecture cannot be built for; the message names
    the smallest valid window (and the nearest valid ones)."""
    if arch not in ARCHITECTURES:
        raise ImuadError(f"unknown architecture '{arch}' (choose from {', '.join(ARCHITECTURES)})")
    least, multiple = window_rule(arch, hp)
    window = int(window)
    if window >= least and window % multiple == 0:
        return
    why = f"a multiple of {multiple} and >= {least}" if multiple > 1 else f">= {least}"
    lower = max(least, window // multiple * multiple)
    near = sorted({lower, max(least, lower + multiple if lower < window else lower)})
    raise ImuadError(f"{arch}: window {window} is not valid (the window must be {why}); the smallest valid "
                     f"window is {least}, the nearest valid: {' or '.join(str(n) for n in near)}")


def build_model(arch: str, window: int, channels: int, seed: int = 0, **hp: Any):
    """Build one architecture. Deep archs return a keras.Model (not compiled);
    'classical' returns an sklearn estimator (see imuad.training.classical)."""
    check_window(arch, window, hp)
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
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        return int(np.prod(_shape(layer.output))) * kh * kw * int(layer.input.shape[-1])
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
