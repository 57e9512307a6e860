"""Each deep model (LSTM aside: imuad.deploy fuses it) converts to full int8 as Keras builds it
(dynamic batch) and TFLM can allocate and run it: no op without an int8 TFLM kernel."""
from __future__ import annotations

import numpy as np
import pytest

from imuad.deploy.quantize import convert_int8
from imuad.training.zoo import build_model

ALLOWED = {"ADD", "BATCH_MATMUL", "CONCATENATION", "CONV_2D", "EXPAND_DIMS", "FULLY_CONNECTED", "L2_NORMALIZATION",
           "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "RESHAPE", "SOFTMAX", "STRIDED_SLICE", "SUB", "TANH"}

# the spectral model uses only the default cnn's ops plus CONCATENATION (a copy): no new kernel to
# prove bit-exact between TFLM reference, CMSIS-NN and ESP-NN
SPECTRAL_OPS = {"CONCATENATION", "CONV_2D", "EXPAND_DIMS", "FULLY_CONNECTED", "LOGISTIC", "MAX_POOL_2D", "MEAN",
                "RESHAPE"}


@pytest.mark.parametrize("arch, window", [("spectral", 128), ("cnn", 128), ("cnn_gru", 128), ("transformer", 128),
                                          ("autoencoder", 128), ("spectral", 4), ("cnn", 4),
                                          ("spectral_gauss", 128), ("spectral_gauss", 4)])
def test_int8_conversion_runs_on_tflm(arch, window):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    import tensorflow as tf
    rep = np.random.default_rng(0).normal(size=(16, window, 3)).astype(np.float32)
    tfl = convert_int8(build_model(arch, window, 3, seed=0), rep)  # the converter imuad quantize uses
    ops = {o["op_name"] for o in tf.lite.Interpreter(model_content=tfl)._get_ops_details()}
    assert ops <= ALLOWED, ops - ALLOWED
    if arch == "spectral":
        assert ops <= SPECTRAL_OPS, ops - SPECTRAL_OPS
    if arch in ("cnn", "spectral"):
        assert len(tfl) <= 32 * 1024
    interp = runtime.Interpreter.from_bytes(tfl, arena_size=64 * 1024)
    interp.set_input(np.zeros((1, window, 3), np.int8), 0)
    interp.invoke()
    assert interp.get_output(0).dtype == np.int8
