"""The `micropython` target: MicroPython's unix port with the imuad module, running
device/micropython/replay_main.py, i.e. the core's C7 replay loop (imuad.serve = the same
ReplayApp as every other target; DEVICE_INFO.target "mpy") over pipes.

Models arrive at run time (model dirs on the command line), chosen and ordered by THE models
module (cmake/models.cmake in script mode: the default card first; fixtures with test_models).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ..build import artefact, missing_tools
from ..errors import ImuadError
from ..paths import REPO_ROOT
from .base import Target, Transport

MAIN = REPO_ROOT / "device/micropython/replay_main.py"
HEAP = "16m"


def model_dirs(test_models: bool = False, models: list[str] | None = None) -> list[Path]:
    """The model dirs a firmware image would carry, in registry order (cmake/models.cmake)."""
    cmd = ["cmake", f"-DFIXTURES={'ON' if test_models else 'OFF'}"]
    if models:
        cmd.append(f"-DMODELS={';'.join(str(m) for m in models)}")
    proc = subprocess.run([*cmd, "-P", str(REPO_ROOT / "cmake/models.cmake")], capture_output=True, text=True)
    m = re.search(r"^models: (.*)$", proc.stderr, re.M)
    if proc.returncode != 0 or not m:
        raise ImuadError(f"cmake/models.cmake failed: {proc.stderr.strip()[-1500:]}")
    return [Path(d) for d in m.group(1).split(";") if d]


class MicroPythonTarget(Target):
    name = "micropython"
    hello_timeout = 20.0
    idle_timeout = 20.0
    max_inflight_chunks = 8

    def __init__(self, models: list[str] | None = None, test_models: bool = False) -> None:
        self.models = models
        self.test_models = test_models

    def available(self) -> tuple[bool, str]:
        miss = missing_tools(self.name)
        return (not miss, miss)

    def executable(self) -> Path:
        return artefact(self.name)

    def open(self) -> Transport:
        from .host import PipeTransport
        dirs = model_dirs(self.test_models, self.models)
        return PipeTransport([str(self.executable()), "-X", f"heapsize={HEAP}", str(MAIN), *map(str, dirs)])
