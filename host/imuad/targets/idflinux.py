"""The `idflinux` target: the real ESP-IDF app (device/) built for ESP-IDF's `linux` target.

The ELF runs app_main under the FreeRTOS POSIX port; replay frames go over its stdin/stdout,
logs to stderr. Built once per build dir with device/tools/idf_env.sh (offline ESP-IDF from
../shared/vendor/esp-idf, venv from PyPI); rebuilds are incremental.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from .. import procs
from ..errors import ImuadError
from ..paths import REPO_ROOT, build_dir, vendor_dir
from .base import Target, TargetError, Transport

ENV_SCRIPT = REPO_ROOT / "device" / "tools" / "idf_env.sh"
STD_FLAGS = ["-Dver_gnu++26_supported=0", "-Dver_gnu++2b_supported=0", "-Dver_gnu++20_supported=0",
             "-Dver_gnu++2a_supported=0"]  # gnu++17: Debian g++ 12 + gnu++2b breaks nvs_flash


def idf_missing() -> str:
    """Why the ESP-IDF linux build cannot run here ('' if it can)."""
    if not (vendor_dir() / "esp-idf" / "tools" / "idf.py").exists() and not os.environ.get("IDF_PATH"):
        return f"ESP-IDF not found at {vendor_dir() / 'esp-idf'}"
    for tool in ("ruby", "cmake", "ninja", "gcc", "g++"):
        if shutil.which(tool) is None:
            return f"'{tool}' not installed (scripts/apt-packages.txt)"
    return ""


def idf_run(project: Path, build: Path, args: list[str], log: Path, what: str) -> float:
    """idf.py -C project -B build ARGS inside the offline environment; log kept on failure."""
    cmd = ["bash", str(ENV_SCRIPT), "idf.py", "-C", str(project), "-B", str(build),
           f"-DSDKCONFIG={build / 'sdkconfig'}", *args]
    t0 = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        rc = procs.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO_ROOT).returncode
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise ImuadError(f"{what} failed (exit {rc}); full log {log}\n{tail}")
    return time.monotonic() - t0


def build_idf_app(project: Path, build: Path, elf_name: str) -> Path:
    """set-target linux (first time) + build; returns the ELF."""
    miss = idf_missing()
    if miss:
        raise ImuadError(f"cannot build {project} for linux: {miss}")
    logs = build.parent / f"{build.name}-logs"
    if not (build / "CMakeCache.txt").exists():
        if build.exists():  # idf.py refuses to clean a dir that is not a CMake build dir
            import shutil as _sh
            _sh.rmtree(build)
        idf_run(project, build, ["--preview", "set-target", "linux"], logs / "set-target.log",
                f"idf.py set-target linux ({project})")
    idf_run(project, build, [*STD_FLAGS, "build"], logs / "build.log", f"idf.py build ({project})")
    elf = build / elf_name
    if not elf.exists():
        raise ImuadError(f"{elf}: not produced by idf.py build")
    return elf


def app_build_dir() -> Path:
    return build_dir() / "idf-linux"


def build_app() -> Path:
    return build_idf_app(REPO_ROOT / "device", app_build_dir(), "imuad_device.elf")


def build_tests() -> Path:
    return build_idf_app(REPO_ROOT / "device" / "test", build_dir() / "idf-test", "imuad_device_test.elf")


class IdfLinuxTarget(Target):
    """device/ built with `idf.py --preview set-target linux`, run over pipes."""

    name = "idflinux"
    hello_timeout = 15.0
    idle_timeout = 20.0

    def __init__(self, elf: str | Path | None = None, build: bool = True) -> None:
        self.elf = Path(elf) if elf else None
        self.build = build

    def available(self) -> tuple[bool, str]:
        if self.elf is not None:
            return (self.elf.exists(), f"{self.elf} missing")
        miss = idf_missing()
        return (not miss, miss)

    def executable(self) -> Path:
        if self.elf is None:
            self.elf = build_app() if self.build else app_build_dir() / "imuad_device.elf"
        if not self.elf.exists():
            raise TargetError(f"{self.elf} missing: build it (device/README.md)")
        return self.elf

    def open(self) -> Transport:
        from .host import PipeTransport
        return PipeTransport([str(self.executable())])
