"""Argument types and shared options of the `imuad` commands: every number a user types is
checked against its range here, before any work starts, with the option named."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable

from ..contracts.card import ModelDir, load_model_dir
from ..contracts.ranges import FloatRange, IntRange
from ..paths import models_dir


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in [lo, hi] (imuad.contracts.ranges)."""
    return IntRange(-2**63 if lo is None else lo, 2**63 - 1 if hi is None else hi).argtype("value")


def float_range(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in [lo, hi]; lo_open excludes lo (e.g. a positive duration)."""
    r = FloatRange(-math.inf if lo is None else lo, math.inf if hi is None else hi)
    within = r.argtype("value")

    def convert(text: str) -> float:
        v = within(text)
        if lo_open and v <= lo:
            raise argparse.ArgumentTypeError(f"must be a number > {lo:g}{f' and <= {hi:g}' if hi is not None else ''}"
                                             f", got {text!r}")
        return v
    convert.__name__ = "number"
    return convert


def add_model(p: argparse.ArgumentParser, flag: str | None = "--model") -> None:
    help_ = "model folder (written by `imuad export` / `imuad import`), or NAME for models/NAME"
    if flag is None:
        p.add_argument("model", help=help_)
    else:
        p.add_argument(flag, dest="model", required=True, help=help_)


def model_from(args: argparse.Namespace) -> ModelDir:
    return load_model_dir(args.model, models_dir())


def writable_file(path: str | Path, what: str = "output") -> Path:
    """Fail before the work, not after it: the parent folder must exist and the path be no folder."""
    from ..errors import ImuadError
    p = Path(path)
    if p.is_dir():
        raise ImuadError(f"{what} {p} is a folder; give a file name")
    if not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    return p
