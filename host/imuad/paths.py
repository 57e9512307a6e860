"""Where the project finds things: its own checkout, ../shared beside it, build folders."""
from __future__ import annotations

import os
from pathlib import Path

# host/imuad/paths.py -> repository root
REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """../shared beside the checkout (override with IMUAD_SHARED)."""
    return Path(os.environ.get("IMUAD_SHARED", REPO_ROOT.parent / "shared")).resolve()


def vendor_dir() -> Path:
    return shared_dir() / "vendor"


def datasets_dir() -> Path:
    return shared_dir() / "datasets"


def models_dir() -> Path:
    return REPO_ROOT / "models"


def build_dir() -> Path:
    """Root of CMake/QEMU/ESP-IDF build trees (override with IMUAD_BUILD_DIR)."""
    return Path(os.environ.get("IMUAD_BUILD_DIR", REPO_ROOT / "build")).resolve()
