"""Configure + build the firmware CMake tree once per run, incrementally afterwards.

`ensure_built("host")` -> build/host (configure with the CMake preset on first use, then
`cmake --build`, which is a no-op when nothing changed). Errors show the tail of the log.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterable

from . import procs
from .errors import ImuadError
from .paths import REPO_ROOT, build_dir, checkout_dir

_LOCK = threading.Lock()
_DONE: dict[tuple, Path] = {}


def _tail(text: str, n: int = 40) -> str:
    return "\n".join(text.splitlines()[-n:])


def _run(cmd: list[str], what: str, log: Path) -> float:
    t0 = time.monotonic()
    with open(log, "ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = procs.run(cmd, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        text = log.read_text(errors="replace")
        raise ImuadError(f"{what} failed (exit {proc.returncode}); last lines of {log}:\n{_tail(text)}")
    return time.monotonic() - t0


def ensure_built(preset: str = "host", models: Iterable[str | Path] | None = None,
                 targets: Iterable[str] | None = None, quiet: bool = False,
                 cmake_args: Iterable[str] = ()) -> Path:
    """Build dir of `preset` (build/<preset>), configured and built (once per process).

    models: model dirs to compile in (IMUAD_MODELS); None keeps the default (every
    models/*/ with model_config.h) or whatever the build dir was configured with.
    cmake_args: extra -D options for the configure step (e.g. IMUAD_TFLM_PREBUILT).
    """
    checkout_dir(f"building the firmware (CMake preset '{preset}')")
    for tool in ("cmake", "ninja"):
        if shutil.which(tool) is None:
            raise ImuadError(f"'{tool}' not found on PATH (scripts/setup.sh installs it)")
    if preset == "host-asan" and models is None:
        ensure_built("host", targets=["imuad_tflm"], quiet=quiet)  # host-asan links host's TFLM
    model_key = None if models is None else tuple(sorted(str(Path(m).resolve()) for m in models))
    cmake_args = tuple(cmake_args)
    key = (preset, model_key, tuple(targets or ()), cmake_args)
    with _LOCK:
        if key in _DONE:
            return _DONE[key]
        out = build_dir() / preset
        out.mkdir(parents=True, exist_ok=True)
        # One build per tree at a time, across processes too (concurrent ninja runs in one
        # directory restart each other's work).
        lock_fh = open(out / ".imuad-build.lock", "w")
        fcntl.flock(lock_fh, fcntl.LOCK_EX)
        try:
            log = out / "imuad-build.log"
            cache = out / "CMakeCache.txt"
            cfg = ["cmake", "--preset", preset, "-B", str(out)]
            if model_key is not None:
                cfg.append(f"-DIMUAD_MODELS={';'.join(model_key)}")
            cfg += list(cmake_args)
            if not quiet:
                print(f"imuad: building firmware preset '{preset}' in {out} (first build compiles TFLM kernels, "
                      f"a few minutes)..." if not cache.exists() else
                      f"imuad: updating firmware build {out}...", file=sys.stderr, flush=True)
            t_cfg = _run(cfg, f"CMake configure of preset '{preset}'", log) if (
                not cache.exists() or model_key is not None or cmake_args) else 0.0
            jobs = os.environ.get("IMUAD_BUILD_JOBS", "2")
            build = ["cmake", "--build", str(out), "-j", jobs]
            for t in targets or ():
                build += ["--target", t]
            t_build = _run(build, f"build of preset '{preset}'", log)
            if not quiet and t_cfg + t_build > 5:
                print(f"imuad: build '{preset}' done in {t_cfg + t_build:.0f} s", file=sys.stderr, flush=True)
            _DONE[key] = out
        finally:
            lock_fh.close()  # releases the flock
        return out


def fw_host_binary(preset: str = "host") -> Path:
    exe = ensure_built(preset) / "host_fw" / "imuad-fw-host"
    if not exe.exists():
        raise ImuadError(f"{exe} missing after the build (IMUAD_BUILD_HOST_FW off?)")
    return exe
