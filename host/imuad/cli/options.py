"""Argument types and shared options of the `imuad` commands: every number a user types is
checked against its range here, before any work starts, with the option named."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable

from ..contracts.card import ModelDir, load_model_dir
from ..paths import models_dir


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in [lo, hi]."""
    def parse(text: str) -> int:
        try:
            v = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{v} is outside [{'-inf' if lo is None else lo}, "
                                             f"{'inf' if hi is None else hi}]")
        return v
    parse.__name__ = "integer"
    return parse


def float_range(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite float in [lo, hi] (or (lo, hi] with lo_open)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{text} is outside {'(' if lo_open else '['}{lo}, {hi}]")
        return v
    parse.__name__ = "number"
    return parse


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
