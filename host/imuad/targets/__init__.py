"""Every firmware target behind one interface (base.Target -> Transport), plus a registry.

    from imuad.targets import get_target, ReplaySession
    with ReplaySession.open(get_target("host")) as s:
        result = s.replay(counts, model="synth")

This package only moves bytes: building lives in `imuad.build`, what the bytes must say in
`imuad.contracts`, and the reports built on replays in `imuad.evaluation`.
"""
from __future__ import annotations

import importlib
from typing import Any

from ..errors import ImuadError
from .base import Target, TargetError, Transport
from .session import ReplayResult, ReplaySession

__all__ = ["Target", "TargetError", "Transport", "ReplaySession", "ReplayResult", "get_target", "target_names",
           "emulator_names", "describe"]

# name -> ("module:Class", default options, one line for listings); imported on first use
_TARGETS: dict[str, tuple[str, dict[str, Any], str]] = {
    "host": ("imuad.targets.host:HostTarget", {}, "imuad-fw-host: firmware core + TFLM reference kernels (x86-64)"),
    "host-asan": ("imuad.targets.host:HostTarget", {"preset": "host-asan"}, "imuad-fw-host with ASan + UBSan"),
    "qemu": ("imuad.targets.qemu:QemuTarget", {"target": "qemu"}, "QEMU mps2-an386 Cortex-M4F, TFLM reference kernels"),
    "qemu-nn": ("imuad.targets.qemu:QemuTarget", {"target": "qemu-nn"},
                "QEMU mps2-an386 Cortex-M4F, CMSIS-NN kernels"),
    "qemu-xt": ("imuad.targets.qemu_xtensa:QemuXtTarget", {"target": "qemu-xt"},
                "QEMU sim machine, esp32 core: the firmware compiled for the ESP32, TFLM reference kernels"),
    "qemu-xt-nn": ("imuad.targets.qemu_xtensa:QemuXtTarget", {"target": "qemu-xt-nn"},
                   "QEMU sim machine, esp32 core: the firmware compiled for the ESP32, ESP-NN kernels"),
    "idflinux": ("imuad.targets.idflinux:IdfLinuxTarget", {}, "the ESP-IDF app built for ESP-IDF's linux target"),
    "micropython": ("imuad.targets.micropython:MicroPythonTarget", {},
                    "MicroPython unix port running the core's ReplayApp (imuad.serve)"),
    "esp32": ("imuad.targets.esp32:Esp32Target", {}, "a real ESP32 on a serial port (--port)"),
}
_EMULATORS = ("qemu", "qemu-nn", "qemu-xt", "qemu-xt-nn")


def target_names() -> list[str]:
    return list(_TARGETS)


def emulator_names() -> list[str]:
    return list(_EMULATORS)


def describe(name: str) -> str:
    return _TARGETS[name][2] if name in _TARGETS else "?"


def get_target(name: str, **opts: Any) -> Target:
    """A Target by name; options not None override the target's defaults."""
    if name not in _TARGETS:
        raise ImuadError(f"unknown target '{name}'; known: {', '.join(_TARGETS)}")
    spec, defaults, _ = _TARGETS[name]
    module, attr = spec.split(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ImuadError(f"target '{name}' is not available here ({module}: {exc})") from exc
    return cls(**defaults, **{k: v for k, v in opts.items() if v is not None})
