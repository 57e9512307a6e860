"""Where imuad finds things. Three kinds of places, kept apart so that a plain
`pip install .` (a wheel, no checkout) works as well as the editable install of a clone:

* package resources: files shipped inside the `imuad` package (dashboard templates and
  static files, the TFLM op snapshot). Present in every install: `resource()`.
* the checkout: the git clone imuad runs from (firmware sources, CMake presets, ESP-IDF
  project, benchmarks). A wheel install has none; features that need it call
  `checkout_dir(feature)`, which says so instead of failing somewhere deep inside CMake.
* the working folder: where outputs and the defaults that name them live (build/, runs/,
  artifacts/, models/NAME): the checkout when there is one, else the current folder.
"""
from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from .errors import ImuadError

PACKAGE_DIR = Path(__file__).resolve().parent


def _find_checkout() -> Path | None:
    # host/imuad/paths.py in a clone; site-packages/imuad/paths.py in a wheel install
    root = PACKAGE_DIR.parents[1]
    if (root / "pyproject.toml").is_file() and (root / "host" / "imuad").is_dir():
        return root
    return None


CHECKOUT: Path | None = _find_checkout()


def in_checkout() -> bool:
    return CHECKOUT is not None


def checkout_dir(feature: str) -> Path:
    """The clone's root, for a feature that needs its sources; a clear error without one."""
    if CHECKOUT is None:
        raise ImuadError(
            f"{feature} needs the imuad source checkout (firmware sources, CMake presets, "
            f"device/, benchmarks/), but this imuad is installed from a wheel at {PACKAGE_DIR}. "
            f"Clone the repository and run it from there: bash scripts/setup.sh, then "
            f". .venv/bin/activate")
    return CHECKOUT


def work_dir() -> Path:
    """Default home of outputs: the checkout, else the current folder."""
    return CHECKOUT if CHECKOUT is not None else Path.cwd()


# Kept for the many `from ..paths import REPO_ROOT` users: the checkout, or the working
# folder of a wheel install (so default outputs land there). Code that needs the *sources*
# should call checkout_dir(feature) instead, which fails clearly outside a checkout.
REPO_ROOT: Path = work_dir()


def resource(*parts: str) -> Path:
    """A file or folder shipped inside the imuad package, e.g. resource("dashboard", "static")."""
    node = importlib.resources.files("imuad")
    for part in parts:
        node = node.joinpath(part)
    # setuptools installs imuad as plain files (never zip-imported), so this is a real path
    path = Path(str(node))
    if not path.exists():
        rel = "/".join(("imuad", *parts))
        raise ImuadError(f"package file {rel} is missing from this install ({PACKAGE_DIR}); reinstall "
                         f"imuad, and if it is still missing add it to [tool.setuptools.package-data] "
                         f"in pyproject.toml")
    return path


def shared_dir() -> Path:
    """../shared beside the checkout (or the working folder); override with IMUAD_SHARED."""
    return Path(os.environ.get("IMUAD_SHARED", work_dir().parent / "shared")).resolve()


def vendor_dir() -> Path:
    return shared_dir() / "vendor"


def datasets_dir() -> Path:
    return shared_dir() / "datasets"


def models_dir() -> Path:
    """models/ of the working folder: the committed models in a checkout; `imuad export`
    writes models/NAME there by default."""
    return work_dir() / "models"


def build_dir() -> Path:
    """Root of CMake/QEMU/ESP-IDF build trees (override with IMUAD_BUILD_DIR)."""
    return Path(os.environ.get("IMUAD_BUILD_DIR", work_dir() / "build")).resolve()
