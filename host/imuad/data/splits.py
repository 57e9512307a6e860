"""Time-block splits (docs/contracts.md C2) and train-only normalisation.

Every contiguous label run is cut, in time order, into train / val / test blocks; windows
are made inside each block separately, so no window straddles a cut (nor a label change),
and no sample is shared between splits.

Short runs: a block shorter than `min_block` samples (make_splits uses the window length)
holds no window, so a run gets only as many blocks as fit: with room for k blocks of
min_block samples it gets the first k splits in the priority train > test > val, sharing
the run in proportion to their fractions (still in time order train, val, test). A run
shorter than min_block becomes one train block (it yields no window but every sample
keeps exactly one owner).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ImuadError
from .recording import Recording, auto_counts_per_unit, label_runs
from ..contracts.windows import WindowSet, make_windows

SPLITS = ("train", "val", "test")
_PRIORITY = ("train", "test", "val")


@dataclass(frozen=True)
class Block:
    split: str    # "train" | "val" | "test"
    start: int    # first sample
    stop: int     # one past the last sample
    label: int    # label of the run the block was cut from

    def __len__(self) -> int:
        return self.stop - self.start


def _check_fractions(fractions: tuple[float, ...]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or np.any(~np.isfinite(f)) or np.any(f < 0) or f.sum() <= 0:
        raise ImuadError(f"split fractions must be 3 non-negative numbers (train, val, test), got {fractions}")
    return f / f.sum()


def _share(length: int, fr: np.ndarray, min_block: int) -> np.ndarray:
    """Split `length` into len(fr) integer parts ~ proportional to fr, each >= min_block."""
    raw = fr / fr.sum() * length
    parts = np.floor(raw).astype(np.int64)
    for i in np.argsort(-(raw - parts), kind="stable")[: length - int(parts.sum())]:
        parts[i] += 1  # largest remainders
    for i in range(len(parts)):  # lift short parts by taking from the largest one
        while parts[i] < min_block:
            j = int(np.argmax(parts))
            need = min(min_block - parts[i], parts[j] - min_block)
            parts[i] += need
            parts[j] -= need
    return parts


def time_block_split(y: np.ndarray | None, n_samples: int,
                     fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
                     min_block: int = 1) -> list[Block]:
    """Cut every label run (y None: the whole recording) into train/val/test blocks in time order."""
    f = _check_fractions(fractions)
    min_block = max(1, int(min_block))
    blocks: list[Block] = []
    for label, s, e in label_runs(y, n_samples):
        L = e - s
        wanted = [name for name in _PRIORITY if f[SPLITS.index(name)] > 0]
        k = min(len(wanted), L // min_block)
        if k == 0:
            blocks.append(Block("train" if f[0] > 0 else wanted[0], s, e, label))
            continue
        chosen = [name for name in SPLITS if name in wanted[:k]]  # time order
        parts = _share(L, np.array([f[SPLITS.index(n)] for n in chosen]), min_block)
        pos = s
        for name, n in zip(chosen, parts):
            blocks.append(Block(name, pos, pos + int(n), label))
            pos += int(n)
    return blocks


def split_windows(counts: np.ndarray, y: np.ndarray | None, window: int, hop: int,
                  blocks: list[Block]) -> dict[str, WindowSet]:
    """Windows made inside each block; WindowSet.block is the block's index in `blocks`."""
    counts = np.asarray(counts)
    parts: dict[str, list[WindowSet]] = {name: [] for name in SPLITS}
    for i, b in enumerate(blocks):
        if b.split not in parts:
            raise ImuadError(f"block {i} has unknown split {b.split!r}")
        parts[b.split].append(make_windows(counts, y, window, hop, b.start, b.stop, block=i))
    return {name: WindowSet.concat(p, window, counts.shape[1]) for name, p in parts.items()}


def make_splits(rec: Recording, window: int, hop: int, counts_per_unit: float | None,
                fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
                ) -> tuple[dict[str, WindowSet], list[Block]]:
    """One call for training: counts (C1) -> blocks (min_block = window) -> windows per split.

    counts_per_unit None uses auto_counts_per_unit(rec.X)."""
    cpu = auto_counts_per_unit(rec.X) if counts_per_unit is None else float(counts_per_unit)
    if rec.n_samples < window:
        raise ImuadError(f"{rec.path or '<recording>'}: {rec.n_samples} samples, fewer than one window of {window}")
    counts = rec.counts(cpu)
    blocks = time_block_split(rec.y, rec.n_samples, fractions, min_block=window)
    return split_windows(counts, rec.y, window, hop, blocks), blocks


@dataclass
class Normalizer:
    """Per-channel (x - mean) / std with statistics from the train windows only."""
    mean: np.ndarray   # float64 [C]
    std: np.ndarray    # float64 [C], >= MIN_STD

    MIN_STD = 1.0  # one count: below the quantisation step a channel is treated as constant

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        self.std = np.maximum(np.asarray(self.std, dtype=np.float64).reshape(-1), self.MIN_STD)

    @classmethod
    def fit(cls, train: WindowSet | np.ndarray) -> "Normalizer":
        X = train.X if isinstance(train, WindowSet) else np.asarray(train)
        if X.shape[0] == 0:
            raise ImuadError("cannot fit normalisation: the train split has no windows "
                             "(recording too short for the window, or fractions give train nothing)")
        flat = X.reshape(-1, X.shape[-1]).astype(np.float64)
        return cls(flat.mean(axis=0), flat.std(axis=0))

    def apply(self, X: np.ndarray) -> np.ndarray:
        """int16 counts [..., C] -> float32 (X - mean) / std."""
        return ((np.asarray(X, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normalizer":
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64))
