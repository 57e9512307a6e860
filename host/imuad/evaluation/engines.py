"""Engines that turn int16 windows into raw int8 model outputs, behind one registry.

An engine is a callable `engine(model, windows) -> EngineResult` where `windows` is a
`WindowSet` (the windows of one block are contiguous and hop-spaced, so a firmware engine
streams `windows.streams()` sample by sample and maps its window j back with `Stream.index[j]`).
It returns the raw int8 output tensor per window, [N, n_out], in WindowSet order.

Built in: `tflm` (TFLM Python interpreter: THE reference), `tflite-ref` (TFLite with its
reference kernels), `tflite` (default TFLite kernels, XNNPACK). Every firmware target of
`imuad.targets` is an engine of the same name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import targets
from ..contracts.card import ModelDir
from ..contracts.windows import WindowSet
from ..deploy.interpreters import run_tflite, run_tflm
from ..errors import ImuadError


@dataclass
class EngineResult:
    outputs: np.ndarray                                 # int8 [N, n_out]
    events: list[tuple[int, int, int]] | None = None    # (window index, kind, score) if the engine decides
    info: dict[str, Any] = field(default_factory=dict)


Engine = Callable[[ModelDir, WindowSet], EngineResult]


@dataclass(frozen=True)
class _Entry:
    fn: Engine
    firmware: bool
    description: str


def _quantized(model: ModelDir, windows: WindowSet) -> np.ndarray:
    return model.card.preprocess.apply(np.asarray(windows.X, np.int16))


def _tflm(model: ModelDir, windows: WindowSet) -> EngineResult:
    return EngineResult(run_tflm(model.tflite, _quantized(model, windows), progress=True))


def _tflite_ref(model: ModelDir, windows: WindowSet) -> EngineResult:
    return EngineResult(run_tflite(model.tflite, _quantized(model, windows), reference=True, progress=True))


def _tflite(model: ModelDir, windows: WindowSet) -> EngineResult:
    return EngineResult(run_tflite(model.tflite, _quantized(model, windows), reference=False, progress=True))


def firmware_engine(target_name: str) -> Engine:
    """Each contiguous block is streamed as its own replay (HELLO resets window index, decision
    and LSTM state), exactly as the firmware would see that stretch of signal."""

    def run(model: ModelDir, windows: WindowSet) -> EngineResult:
        outputs = np.zeros((len(windows), model.card.n_outputs), np.int8)
        events: list[tuple[int, int, int]] = []
        info: dict[str, Any] = {"target": target_name, "infer_us": []}
        with targets.ReplaySession.open(targets.get_target(target_name)) as session:
            model_name = session.provide_model(model)
            for stream in windows.streams():
                res = session.replay(stream.samples, model=model_name, bye=False)
                if res.device_info.model_sha256.hex() != model.card.tflite_sha256:
                    raise ImuadError(f"target '{target_name}' runs model {res.device_info.model_sha256.hex()[:16]}…, "
                                     f"the card's is {model.card.tflite_sha256[:16]}…")
                if len(res.windows) != len(stream.index):
                    raise ImuadError(f"target '{target_name}': block {stream.block} gave {len(res.windows)} "
                                     f"windows, expected {len(stream.index)}")
                outputs[stream.index] = res.outputs
                events += [(int(stream.index[e.window]), e.kind, e.score) for e in res.events]
                info["infer_us"] += [w.infer_us for w in res.windows]
        return EngineResult(outputs, events, info)

    run.__name__ = f"firmware_{target_name}"
    return run


BUILTIN: dict[str, _Entry] = {
    "tflite-ref": _Entry(_tflite_ref, False, "TFLite, BUILTIN_REF kernels"),
    "tflite": _Entry(_tflite, False, "TFLite, default kernels (XNNPACK) - never a reference"),
    "tflm": _Entry(_tflm, False, "TFLM Python interpreter (the reference)"),
}


def get_entry(name: str) -> _Entry:
    if name in BUILTIN:
        return BUILTIN[name]
    if name in targets.target_names():
        return _Entry(firmware_engine(name), True, targets.describe(name))
    raise ImuadError(f"unknown parity engine '{name}'; known: {', '.join(engine_names())}")


def engine_names() -> list[str]:
    return [*BUILTIN, *targets.target_names()]


def describe_engines() -> list[str]:
    return [f"{n}{' (firmware)' if e.firmware else ''}: {e.description}"
            for n, e in ((n, get_entry(n)) for n in engine_names())]


def is_firmware(name: str) -> bool:
    return get_entry(name).firmware


def run_engine(name: str, model: ModelDir, windows: WindowSet) -> EngineResult:
    res = get_entry(name).fn(model, windows)
    out = np.asarray(res.outputs)
    if out.dtype != np.int8 or out.ndim != 2 or len(out) != len(windows):
        raise ImuadError(f"engine '{name}' returned {out.dtype} {list(out.shape)}; expected int8 [{len(windows)}, n_out]")
    res.outputs = out
    return res
