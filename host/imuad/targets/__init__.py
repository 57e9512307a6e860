"""Every firmware target behind one interface (base.Target -> Transport), plus a registry.

    from imuad.targets import get_target, ReplaySession
    with ReplaySession.open(get_target("host")) as s:
        result = s.replay(counts, model="synth")

More targets: `register_target(name, factory)` (factory(**opts) -> Target), or a lazy entry in
_LAZY below ("module:Class"); firmware targets are built through the build table (imuad.build).
"""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np

from ..errors import ImuadError
from .base import Target, TargetError, Transport
from .session import ReplayResult, ReplaySession, expected_windows

__all__ = ["Target", "TargetError", "Transport", "ReplaySession", "ReplayResult", "expected_windows",
           "get_target", "register_target", "target_names", "parity_engine"]

_FACTORIES: dict[str, Callable[..., Target]] = {}
# name -> "module:attribute" imported on first use
_LAZY: dict[str, str] = {
    "host": "imuad.targets.host:HostTarget",
    "host-asan": "imuad.targets.host:HostTarget",
    "qemu": "imuad.targets.qemu:QemuTarget",
    "qemu-nn": "imuad.targets.qemu:QemuTarget",
    "idflinux": "imuad.targets.idflinux:IdfLinuxTarget",
    "micropython": "imuad.targets.micropython:MicroPythonTarget",
    "esp32": "imuad.targets.esp32:Esp32Target",
}
_DEFAULT_OPTS: dict[str, dict] = {"host-asan": {"preset": "host-asan"}, "qemu": {"target": "qemu"},
                                  "qemu-nn": {"target": "qemu-nn"}}


def register_target(name: str, factory: Callable[..., Target]) -> None:
    _FACTORIES[name] = factory


def target_names() -> list[str]:
    return sorted(set(_FACTORIES) | set(_LAZY))


def get_target(name: str, **opts) -> Target:
    """A Target by name ('host', 'qemu', 'qemu-nn', 'idflinux', 'micropython', 'esp32', ...)."""
    if name not in _FACTORIES:
        spec = _LAZY.get(name)
        if spec is None:
            raise ImuadError(f"unknown target '{name}'; known: {', '.join(target_names())}")
        module, attr = spec.split(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ImuadError(f"target '{name}' is not available here ({module}: {exc})") from exc
        defaults = _DEFAULT_OPTS.get(name, {})
        _FACTORIES[name] = lambda _cls=cls, _d=defaults, **kw: _cls(**{**_d, **kw})
    return _FACTORIES[name](**opts)


def parity_engine(target_name: str = "host", **target_opts):
    """A firmware engine for `imuad parity` (imuad.deploy.engines interface):
    engine(model_dir, card, batch: WindowBatch) -> EngineResult (raw int8 outputs [N, n_out] in
    batch order, plus the firmware's events as (batch index, kind, score)).

    Each contiguous block of the batch is streamed as its own replay (HELLO resets window index,
    decision and LSTM state), exactly as the firmware would see that stretch of signal.
    """

    def run(model_dir, card: dict, batch):
        from ..deploy.engines import EngineResult
        outputs: np.ndarray | None = None
        events: list[tuple[int, int, int]] = []
        info: dict = {"target": target_name, "infer_us": []}
        with ReplaySession.open(get_target(target_name, **target_opts)) as session:
            for stream in batch.streams():
                res = session.replay(stream.samples, model=card["name"], bye=False)
                if len(res.windows) != len(stream.index):
                    raise ImuadError(f"target '{target_name}': block {stream.block} gave {len(res.windows)} "
                                     f"windows, expected {len(stream.index)}")
                out = res.outputs
                if outputs is None:
                    outputs = np.zeros((len(batch), out.shape[1]), np.int8)
                outputs[stream.index] = out
                events += [(int(stream.index[e.window]), e.kind, e.score) for e in res.events]
                info["infer_us"] += [w.infer_us for w in res.windows]
        if outputs is None:
            outputs = np.zeros((0, 1), np.int8)
        return EngineResult(outputs, events, info)

    run.__name__ = f"firmware_{target_name}"
    return run


def _register_parity_engines() -> None:
    """Adds the `host` firmware engine to deploy's registry (deploy imports imuad.targets)."""
    try:
        engines = importlib.import_module("imuad.deploy.engines")
    except ImportError:
        return
    register = getattr(engines, "register_engine", None)
    if register is not None:
        register("host", parity_engine("host"), firmware=True,
                 description="imuad-fw-host: firmware core + TFLM reference kernels (x86-64)")
        # the same firmware on QEMU mps2-an386 (Cortex-M4F); built on first use
        register("qemu", parity_engine("qemu"), firmware=True,
                 description="imuad-fw-qemu on QEMU mps2-an386 Cortex-M4F, TFLM reference kernels")
        register("qemu-nn", parity_engine("qemu-nn"), firmware=True,
                 description="imuad-fw-qemu on QEMU mps2-an386 Cortex-M4F, CMSIS-NN kernels")


_register_parity_engines()
