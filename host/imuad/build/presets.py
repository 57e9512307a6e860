"""CMakePresets.json, generated from the cmake rows of the build table (a test checks that the
committed file is what this writes): `cmake --preset qemu-nn` configures what `imuad build
qemu-nn` configures, in the same build/<name> dir."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..paths import REPO_ROOT
from .drivers import cmake_cache
from .table import TARGETS

PRESETS = REPO_ROOT / "CMakePresets.json"


def presets() -> dict:
    configure, build, test = [], [], []
    for row in TARGETS.values():
        if row.driver != "cmake":
            continue
        cache = {k: re.sub(r"\{build:([\w-]+)\}", r"${sourceDir}/build/\1", v) for k, v in cmake_cache(row).items()}
        p = {"name": row.name, "displayName": row.description, "generator": "Ninja",
             "binaryDir": "${sourceDir}/build/" + row.name, "cacheVariables": cache}
        if row.toolchain:
            p["toolchainFile"] = "${sourceDir}/" + row.toolchain
        configure.append(p)
        build.append({"name": row.name, "configurePreset": row.name, "jobs": 2})
        if cache.get("IMUAD_BUILD_TESTS") == "ON":
            test.append({"name": row.name, "configurePreset": row.name, "output": {"outputOnFailure": True}})
    return {"version": 6, "cmakeMinimumRequired": {"major": 3, "minor": 24, "patch": 0},
            "configurePresets": configure, "buildPresets": build, "testPresets": test}


def render() -> str:
    return json.dumps(presets(), indent=2) + "\n"


def write_presets(path: Path = PRESETS) -> Path:
    path.write_text(render())
    return path
