"""Engines that turn int16 windows into raw int8 model outputs, behind one registry.

An engine is a callable `engine(model_dir, card, batch) -> EngineResult | np.ndarray` where
`batch` is a `WindowBatch` (int16 windows [N, W, C] with their start samples and block ids;
the windows of one block are contiguous and hop-spaced, so a firmware engine can stream
`batch.streams()` sample by sample and map its window j back with `Stream.index[j]`).
It returns the raw int8 output tensor per window, [N, n_out], in batch order.

Built in: `tflm` (TFLM Python interpreter: THE reference), `tflite-ref` (TFLite with its
reference kernels), `tflite` (default TFLite kernels, XNNPACK). Firmware targets (host build,
QEMU, ...) register themselves with `register_engine(name, fn, firmware=True)` when their
module is imported; `ENGINE_MODULES` lists the modules parity imports to find them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from ..errors import ImuadError
from ..reference import Preprocess

# imported (best effort) before resolving an engine name that is not registered yet
ENGINE_MODULES: tuple[str, ...] = ("imuad.targets.parity", "imuad.targets")


@dataclass
class Stream:
    """One block as the firmware sees it: samples from the block's first window on."""
    block: int
    samples: np.ndarray     # int16 [T, C]
    first_sample: int       # recording index of samples[0]
    index: np.ndarray       # batch index of the stream's window j (window j starts at j*hop)


@dataclass
class WindowBatch:
    X: np.ndarray           # int16 [N, W, C]
    start: np.ndarray       # int64 [N] start sample in the recording
    block: np.ndarray       # int32 [N] contiguous block id
    hop: int
    y: np.ndarray | None = None

    def __len__(self) -> int:
        return int(len(self.X))

    def streams(self) -> list[Stream]:
        out = []
        W = self.X.shape[1]
        for b in dict.fromkeys(self.block.tolist()):  # first-appearance order
            idx = np.flatnonzero(self.block == b)
            idx = idx[np.argsort(self.start[idx], kind="stable")]
            st = self.start[idx]
            if len(idx) > 1 and not np.all(np.diff(st) == self.hop):
                raise ImuadError(f"block {b}: windows are not hop-spaced ({self.hop}); cannot stream them")
            T = int(st[-1] - st[0]) + W
            samples = np.zeros((T, self.X.shape[2]), np.int16)
            for k, i in enumerate(idx):
                samples[k * self.hop:k * self.hop + W] = self.X[i]
            out.append(Stream(int(b), samples, int(st[0]), idx))
        return out


@dataclass
class EngineResult:
    outputs: np.ndarray                       # int8 [N, n_out]
    events: list[tuple[int, int, int]] | None = None   # (batch index, kind, score) if the engine decides
    info: dict[str, Any] = field(default_factory=dict)


Engine = Callable[[Path, dict, WindowBatch], Union[EngineResult, np.ndarray]]


@dataclass
class _Entry:
    fn: Engine
    firmware: bool
    description: str


_REGISTRY: dict[str, _Entry] = {}


def register_engine(name: str, factory: Engine, *, firmware: bool = False, description: str = "") -> None:
    """Add (or replace) an engine. Firmware engines are always required bit-exact vs tflm."""
    _REGISTRY[name] = _Entry(factory, firmware, description)


def engine_names() -> list[str]:
    _import_plugins()
    return [f"{n}{' (firmware)' if e.firmware else ''}{': ' + e.description if e.description else ''}"
            for n, e in _REGISTRY.items()]


def is_firmware(name: str) -> bool:
    return get_entry(name).firmware


def _import_plugins() -> None:
    for mod in ENGINE_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError:
            continue


def get_entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        _import_plugins()
    if name not in _REGISTRY:  # any firmware target of imuad.targets streams through its session
        try:
            from ..targets import parity_engine, target_names
            if name in target_names():
                register_engine(name, parity_engine(name), firmware=True, description=f"firmware target '{name}'")
        except ImportError:
            pass
    if name not in _REGISTRY:
        raise ImuadError(f"unknown parity engine '{name}' (registered: {', '.join(_REGISTRY)}); "
                         "firmware targets register theirs via imuad.deploy.engines.register_engine")
    return _REGISTRY[name]


def run_engine(name: str, model_dir: Path, card: dict, batch: WindowBatch) -> EngineResult:
    res = get_entry(name).fn(Path(model_dir), card, batch)
    if not isinstance(res, EngineResult):
        res = EngineResult(np.asarray(res))
    out = np.asarray(res.outputs)
    if out.dtype != np.int8 or out.ndim != 2 or len(out) != len(batch):
        raise ImuadError(f"engine '{name}' returned {out.dtype} {list(out.shape)}; expected int8 [{len(batch)}, n_out]")
    res.outputs = out
    return res


# ---------------------------------------------------------------- built-in engines
def model_bytes(model_dir: Path) -> bytes:
    path = Path(model_dir) / "model.tflite"
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImuadError(f"{path}: cannot read ({exc.strerror})") from exc


def _quantized(card: dict, batch: WindowBatch) -> np.ndarray:
    return Preprocess.from_card(card).apply(np.asarray(batch.X, np.int16))


def _tflm(model_dir: Path, card: dict, batch: WindowBatch) -> np.ndarray:
    from .interpreters import run_tflm
    return run_tflm(model_bytes(model_dir), _quantized(card, batch), progress=True)


def _tflite_ref(model_dir: Path, card: dict, batch: WindowBatch) -> np.ndarray:
    from .interpreters import run_tflite
    return run_tflite(model_bytes(model_dir), _quantized(card, batch), reference=True, progress=True)


def _tflite(model_dir: Path, card: dict, batch: WindowBatch) -> np.ndarray:
    from .interpreters import run_tflite
    return run_tflite(model_bytes(model_dir), _quantized(card, batch), reference=False, progress=True)


register_engine("tflite-ref", _tflite_ref, description="TFLite, BUILTIN_REF kernels")
register_engine("tflite", _tflite, description="TFLite, default kernels (XNNPACK) - never a reference")
register_engine("tflm", _tflm, description="TFLM Python interpreter (the reference)")
