"""Keras 3 LSTM -> one fused UNIDIRECTIONAL_SEQUENCE_LSTM (int8, int16 cell state).

Keras 3 lowers LSTM to WHILE + TensorList ops and full-int8 conversion of those crashes.
The TFLite converter still recognises the Keras-2 composite: a tf.function carrying
`api_implements="lstm_<id>"` with the argument order of Keras 2's `standard_lstm`
(inputs, init_h, init_c, kernel, recurrent_kernel, bias) and five results
(last_output, outputs, h, c, runtime). It replaces the whole function by the fused op, so the
body only has to be correct float math (used by `check_equivalent`). The trained weights
enter as constants, so they are frozen into the flatbuffer.
"""
from __future__ import annotations

import uuid

import numpy as np

from ..errors import ImuadError


def _lstm_composite(time_major: bool = False):
    import tensorflow as tf

    attrs = {"api_implements": f"lstm_{uuid.uuid4()}", "api_preferred_device": "CPU",
             "time_major": time_major, "go_backwards": False}

    @tf.function(experimental_attributes=attrs, autograph=False)
    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        steps = tf.unstack(inputs, axis=0 if time_major else 1)
        h, c, outs = init_h, init_c, []
        for x_t in steps:  # static W: a plain unrolled loop (the converter discards it anyway)
            z = tf.matmul(x_t, kernel) + tf.matmul(h, recurrent_kernel) + bias
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            outs.append(h)
        outputs = tf.stack(outs, axis=0 if time_major else 1)
        return h, outputs, h, c, tf.constant(1.0)  # runtime flag of Keras 2 (1 = CPU)

    return standard_lstm


def has_lstm(model) -> bool:
    import keras
    return any(isinstance(l, keras.layers.LSTM) for l in model.layers)


def _chain(model) -> list:
    """Layers of a single-input chain model in call order (InputLayer dropped)."""
    import keras
    layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    prev = model.inputs[0]
    for layer in layers:
        if len(layer._inbound_nodes) != 1 or len(layer.input if isinstance(layer.input, list) else [layer.input]) != 1 \
                or layer.input is not prev:
            raise ImuadError(f"layer '{layer.name}': the fused-LSTM conversion handles single-input chain "
                             f"models only (Sequential-like); this model branches")
        prev = layer.output
    return layers


def fused_function(model):
    """A tf.function [1, W, C] -> output that uses the Keras-2 LSTM composite for each LSTM."""
    import keras
    import tensorflow as tf

    layers = _chain(model)
    lstm_args = {}
    for layer in layers:
        if isinstance(layer, keras.layers.LSTM):
            cell = layer.cell
            act, rec = keras.activations.serialize(cell.activation), keras.activations.serialize(cell.recurrent_activation)
            if act != "tanh" or rec != "sigmoid" or not cell.use_bias or layer.go_backwards \
                    or layer.return_state or layer.stateful:
                raise ImuadError(f"layer '{layer.name}': only a standard LSTM (tanh/sigmoid, bias, forward, "
                                 f"no state outputs) converts to the fused TFLM kernel")
            k, rk, b = (np.asarray(w, np.float32) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
            lstm_args[layer.name] = (tf.constant(k), tf.constant(rk), tf.constant(b), layer.units,
                                     layer.return_sequences, _lstm_composite())
    shape = [1] + [int(d) for d in model.inputs[0].shape[1:]]

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="window")])
    def serve(x):
        for layer in layers:
            with tf.name_scope(layer.name):  # tensor names keep the Keras layer (op check messages)
                if layer.name in lstm_args:
                    k, rk, b, units, seq, fn = lstm_args[layer.name]
                    zeros = tf.zeros([tf.shape(x)[0], units], tf.float32)
                    last, outputs, _, _, _ = fn(x, zeros, zeros, k, rk, b)
                    x = outputs if seq else last
                else:
                    x = layer(x, training=False)
        return x

    return serve


def check_equivalent(model, serve, x: np.ndarray, atol: float = 1e-4) -> float:
    """Max |keras - composite| on some windows (the composite must be the same float model)."""
    ref = np.asarray(model(x, training=False))
    got = np.concatenate([np.asarray(serve(x[i:i + 1])) for i in range(len(x))])
    err = float(np.max(np.abs(ref - got))) if len(x) else 0.0
    if err > atol:
        raise ImuadError(f"fused-LSTM re-expression differs from the Keras model by {err:.2e}")
    return err
