"""Build any firmware target of the build table (`table.py`) once per process, incrementally after.

    from imuad.build import ensure_built, artefact
    ensure_built("qemu-nn")                 # -> build/qemu-nn (configured on first use)
    artefact("host", "test-firmware")       # -> build/host/sim/boards/posix/imuad-fw-host-test (built)

Every caller (targets, tests, benchmarks, the demo, `imuad build`) goes through here; the
drivers (`drivers.py`) run CMake, idf.py or make as the row says.
"""
from __future__ import annotations

import fcntl
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Iterable

from ..errors import ImuadError
from ..paths import build_dir, checkout_dir
from . import drivers
from .table import KERNELS, TARGETS, BuildTarget

__all__ = ["TARGETS", "KERNELS", "BuildTarget", "build_target", "ensure_built", "artefact", "missing_tools",
           "clean"]

_LOCK = threading.RLock()
_DONE: dict[tuple, Path] = {}


def build_target(name: str) -> BuildTarget:
    try:
        return TARGETS[name]
    except KeyError:
        raise ImuadError(f"unknown build target '{name}'; known: {', '.join(TARGETS)}") from None


def missing_tools(name: str) -> str:
    """Why `name` cannot be built here ('' if it can), without building anything."""
    row = build_target(name)
    for tool in row.tools + (("cmake", "ninja") if row.driver == "cmake" else ()):
        if shutil.which(tool) is None:
            return f"'{tool}' not installed (scripts/apt-packages.txt)"
    for dep in row.needs:
        why = missing_tools(dep)
        if why:
            return why
    return drivers.unavailable(row)


def ensure_built(name: str = "host", models: Iterable[str | Path] | None = None, cmake_args: Iterable[str] = (),
                 quiet: bool = False) -> Path:
    """Build dir of target `name` (build/<name>), configured and built once per process.

    models: model dirs compiled in (IMUAD_MODELS; cmake targets) instead of every models/*/.
    cmake_args: extra -D options of the configure step (e.g. IMUAD_TFLM_PREBUILT).
    """
    checkout_dir(f"building '{name}'")  # firmware sources live in the checkout, not in a wheel
    row = build_target(name)
    why = missing_tools(name)
    if why:
        raise ImuadError(f"cannot build '{name}' here: {why}")
    model_key = None if models is None else tuple(sorted(str(Path(m).resolve()) for m in models))
    key = (name, model_key, tuple(cmake_args), str(build_dir()))
    with _LOCK:
        if key in _DONE:
            return _DONE[key]
        for dep in row.needs:
            ensure_built(dep, quiet=quiet)
        out = build_dir() / name
        out.mkdir(parents=True, exist_ok=True)
        # One build per tree at a time, across processes too (concurrent builds of one tree
        # restart each other's work).
        with open(out.parent / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fresh = not drivers.configured(row, out)
            if not quiet:
                print(f"imuad: building '{name}' in {out}" + (" (first build: a few minutes)..." if fresh else "..."),
                      file=sys.stderr, flush=True)
            t0 = time.monotonic()
            args = list(cmake_args)
            if model_key is not None:
                args.append(f"-DIMUAD_MODELS={';'.join(model_key)}")
            drivers.build(row, out, args)
            if not quiet and time.monotonic() - t0 > 5:
                print(f"imuad: '{name}' built in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        _DONE[key] = out
        return out


def artefact(name: str, role: str = "firmware", build: bool = True) -> Path:
    """Path of one artefact of target `name` (built first unless build=False)."""
    row = build_target(name)
    if role not in row.artefacts:
        raise ImuadError(f"target '{name}' has no artefact '{role}' (it has: {', '.join(row.artefacts)})")
    path = (ensure_built(name) if build else build_dir() / name) / row.artefacts[role]
    if build and not path.exists():
        raise ImuadError(f"{path} missing after the build of '{name}'")
    return path


def clean(name: str) -> None:
    build_target(name)
    with _LOCK:
        shutil.rmtree(build_dir() / name, ignore_errors=True)
        for key in [k for k in _DONE if k[0] == name]:
            del _DONE[key]
