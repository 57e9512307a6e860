"""Run an int8 model on preprocessed int8 windows: TFLM (the reference), TFLite reference
kernels, default TFLite. Stateful models (fused LSTM) are reset before every window."""
from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from ..errors import ImuadError

_ARENA_PROBE = 1 << 20  # generous arena for running; the used size is measured separately


def _tflm():
    from tflite_micro.python.tflite_micro import runtime
    return runtime


def tflm_interpreter(model: bytes, preserve_all: bool = False, arena: int = _ARENA_PROBE):
    rt = _tflm()
    cfg = rt.InterpreterConfig.kPreserveAllTensors if preserve_all else rt.InterpreterConfig.kAllocationRecording
    try:
        return rt.Interpreter.from_bytes(bytes(model), arena_size=arena, intrepreter_config=cfg)
    except (RuntimeError, ValueError) as exc:
        raise ImuadError(f"TFLM cannot load the model: {exc}") from exc


def run_tflm(model: bytes, x_q: np.ndarray, progress: bool = False) -> np.ndarray:
    """x_q: int8 [N, W, C] -> int8 outputs [N, n_out] (TFLM Python interpreter)."""
    it = tflm_interpreter(model)
    shape = tuple(it.get_input_details(0)["shape"])  # e.g. [1, 640] for a window of 640 x 1
    return _loop(x_q, it.reset, lambda x: (it.set_input(x.reshape(shape), 0), it.invoke(), it.get_output(0))[-1],
                 progress, "tflm")


def tflite_interpreter(model: bytes, reference: bool = True, preserve_all: bool = False):
    import warnings

    import tensorflow as tf
    warnings.filterwarnings("ignore", message="(?s).*tf.lite.Interpreter is deprecated")
    warnings.filterwarnings("ignore", message="(?s).*experimental_preserve_all_tensors")
    kwargs = {"model_content": bytes(model), "experimental_preserve_all_tensors": preserve_all}
    if reference:
        kwargs["experimental_op_resolver_type"] = tf.lite.experimental.OpResolverType.BUILTIN_REF
    from ..tfquiet import fd2_captured
    with fd2_captured():  # the default resolver prints an INFO line about XNNPACK
        it = tf.lite.Interpreter(**kwargs)
        it.allocate_tensors()
    return it


def run_tflite(model: bytes, x_q: np.ndarray, reference: bool = True, progress: bool = False) -> np.ndarray:
    it = tflite_interpreter(model, reference)
    i_in, i_out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    shape = tuple(it.get_input_details()[0]["shape"])

    def one(x):
        it.set_tensor(i_in, x.reshape(shape))
        it.invoke()
        return it.get_tensor(i_out)

    return _loop(x_q, it.reset_all_variables, one, progress, "tflite-ref" if reference else "tflite")


def _loop(x_q, reset, one, progress, label) -> np.ndarray:
    x_q = np.asarray(x_q)
    if x_q.dtype != np.int8:
        raise ImuadError(f"{label}: inputs must be int8, got {x_q.dtype}")
    out = []
    it = range(len(x_q))
    if progress and len(x_q) > 200 and sys.stderr.isatty():  # a bar in a log file reads "0/420"
        from tqdm import tqdm
        it = tqdm(it, desc=label, unit="win", leave=False)
    for i in it:
        reset()  # stateful (LSTM) models: every window starts from zero state, as on the device
        out.append(np.asarray(one(x_q[i:i + 1])).reshape(-1).copy())
    return np.stack(out).astype(np.int8) if out else np.zeros((0, 0), np.int8)


@contextmanager
def _capture_fd2() -> Iterator[list[str]]:
    """Collect what C++ code writes to stderr (TFLM's allocation report)."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", "replace").splitlines())


def measure_arena(model: bytes, sample: np.ndarray | None = None) -> int:
    """Tensor arena bytes TFLM's RecordingMicroAllocator reports after one invoke (this host)."""
    it = tflm_interpreter(model)
    if sample is not None:
        it.set_input(np.asarray(sample, np.int8).reshape(it.get_input_details(0)["shape"]), 0)
    else:
        d = it.get_input_details(0)
        it.set_input(np.zeros(d["shape"], d["dtype"]), 0)
    it.invoke()
    with _capture_fd2() as lines:
        it.print_allocations()
    for line in lines:
        m = re.search(r"Arena allocation total (\d+) bytes", line)
        if m:
            return int(m.group(1))
    raise ImuadError("TFLM did not report its arena use (print_allocations gave: "
                     + " | ".join(lines[:3]) + ")")


def arena_with_margin(measured: int, fraction: float = 0.25, minimum: int = 1024) -> int:
    """x86-64 pointers/structs are larger than Cortex-M/Xtensa ones, so the host figure is an
    upper bound there; the margin covers kernels whose scratch differs (e.g. CMSIS-NN/ESP-NN)."""
    total = measured + max(int(np.ceil(measured * fraction)), minimum)
    return int((total + 15) // 16 * 16)
