"""The `idflinux` target: the real ESP-IDF app (device/) built for ESP-IDF's `linux` target.

The ELF runs app_main under the FreeRTOS POSIX port; replay frames go over its stdin/stdout,
logs to stderr. Built by the build table (`imuad build idflinux`: offline ESP-IDF from
../shared/vendor/esp-idf, venv from PyPI); rebuilds are incremental. The linux image is a test
build: it carries the core's fixture models besides models/*.
"""
from __future__ import annotations

from pathlib import Path

from ..build import artefact, missing_tools
from .base import Target, TargetError, Transport


class IdfLinuxTarget(Target):
    """device/ built with `idf.py --preview set-target linux`, run over pipes."""

    name = "idflinux"
    hello_timeout = 15.0
    idle_timeout = 20.0

    def __init__(self, elf: str | Path | None = None, build: bool = True, test_models: bool = False) -> None:
        self.elf = Path(elf) if elf else None
        self.build = build

    def available(self) -> tuple[bool, str]:
        if self.elf is not None:
            return (self.elf.exists(), f"{self.elf} missing")
        miss = missing_tools(self.name)
        return (not miss, miss)

    def executable(self) -> Path:
        if self.elf is None:
            self.elf = artefact(self.name, "firmware", build=self.build)
        if not self.elf.exists():
            raise TargetError(f"{self.elf} missing: build it (`imuad build idflinux`)")
        return self.elf

    def open(self) -> Transport:
        from .host import PipeTransport
        return PipeTransport([str(self.executable())])
