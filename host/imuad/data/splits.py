"""Time-block splits (docs/contracts.md C2) and train-only normalisation.

Two split modes, each with its window label rule (windows.py):
- "per_run" (label rule "majority"): every contiguous label run is cut, in time order, into
  train / val / test blocks; no window straddles a cut nor a label change. Right when the
  labels come in long runs (machine conditions in blocks).
- "stream" (label rule "newest"): the whole recording is cut into three contiguous blocks,
  train, val, test in time order, with a gap of one window between them. Right when the
  anomalies are short events (a few samples): per-run cutting would leave them no windows.
`plan_split` picks the mode from the label-run statistics ("auto") and says why.
In both modes windows are made inside each block separately, and no sample is shared
between splits. `make_splits` / `split_blocks` are the one way every consumer (training,
run folders, quantize, parity, replay) gets blocks and labelled windows.

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
from ..contracts.windows import LABEL_RULE, SPLIT_MODES, WindowSet, make_windows

SPLITS = ("train", "val", "test")
_PRIORITY = ("train", "test", "val")
PER_RUN_MIN_COVERAGE = 0.9   # auto: per_run only when nearly every sample sits in a run long enough


@dataclass(frozen=True)
class Block:
    split: str    # "train" | "val" | "test"
    start: int    # first sample
    stop: int     # one past the last sample
    label: int    # label of the run the block was cut from; -1 for a stream block (mixed labels)

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


def stream_split(n_samples: int, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
                 gap: int = 0, min_block: int = 1) -> list[Block]:
    """Three contiguous blocks of the whole recording, train/val/test in time order, `gap`
    samples left out between consecutive blocks (splits with fraction 0 get no block)."""
    f = _check_fractions(fractions)
    chosen = [name for name in SPLITS if f[SPLITS.index(name)] > 0]
    usable = int(n_samples) - max(0, int(gap)) * (len(chosen) - 1)
    if usable < len(chosen) * max(1, int(min_block)):
        raise ImuadError(f"stream split: {n_samples} samples cannot hold {len(chosen)} blocks of "
                         f">= {min_block} samples with gaps of {gap} (a longer recording or a smaller window)")
    parts = _share(usable, np.array([f[SPLITS.index(n)] for n in chosen]), max(1, int(min_block)))
    blocks, pos = [], 0
    for name, n in zip(chosen, parts):
        blocks.append(Block(name, pos, pos + int(n), -1))
        pos += int(n) + max(0, int(gap))
    return blocks


@dataclass(frozen=True)
class SplitPlan:
    """How a recording is split and labelled (recorded in run.json and the model card, C2/C6)."""
    mode: str                                   # "per_run" | "stream"
    fractions: tuple[float, float, float]
    gap: int = 0                                # samples between stream blocks (one window)
    reason: str = ""

    @property
    def label_rule(self) -> str:
        return LABEL_RULE[self.mode]

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "label_rule": self.label_rule, "fractions": [float(v) for v in self.fractions],
                "gap_samples": int(self.gap), "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, fractions: Any = None) -> "SplitPlan":
        """From run.json / card `split`; files written before split modes existed are per_run."""
        d = d or {}
        mode = d.get("mode") or "per_run"
        if mode not in SPLIT_MODES:
            raise ImuadError(f"split field 'mode': '{mode}' is not one of {', '.join(SPLIT_MODES)}")
        rule = d.get("label_rule")
        if rule is not None and rule != LABEL_RULE[mode]:
            raise ImuadError(f"split field 'label_rule': '{rule}' does not belong to mode '{mode}' "
                             f"(expected '{LABEL_RULE[mode]}')")
        fr = tuple(float(v) for v in (d.get("fractions") or fractions or (0.6, 0.2, 0.2)))
        return cls(mode, fr, int(d.get("gap_samples", 0)), str(d.get("reason", "")))  # type: ignore[arg-type]


def _anomalous_runs(y: np.ndarray | None, n_samples: int) -> list[int]:
    return [e - s for label, s, e in label_runs(y, n_samples) if label == 1]


def plan_split(y: np.ndarray | None, n_samples: int, window: int,
               fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), mode: str = "auto") -> SplitPlan:
    """Choose the split mode ("auto") from the label runs, or take the one given; with the reason.

    Per-run cutting gives an anomalous run windows in val and test only if the run is at
    least window / (smallest non-zero fraction) samples long. "auto" picks per_run when such
    long runs hold at least PER_RUN_MIN_COVERAGE of the anomalous samples, else stream."""
    f = _check_fractions(fractions)
    fr = tuple(float(v) for v in fractions)
    window = int(window)
    if mode not in ("auto",) + SPLIT_MODES:
        raise ImuadError(f"split mode '{mode}' is not one of auto, {', '.join(SPLIT_MODES)}")
    runs = _anomalous_runs(y, n_samples)
    need = int(np.ceil(window / float(f[f > 0].min())))
    covered = sum(r for r in runs if r >= need)
    total = sum(runs)
    coverage = covered / total if total else 1.0
    if runs:
        stats = (f"{len(runs)} anomalous label run(s), median {int(np.median(runs))} samples, longest {max(runs)}; "
                 f"{100 * coverage:.0f} % of anomalous samples lie in runs >= {need} samples "
                 f"(window {window} / smallest fraction {float(f[f > 0].min()):.2g}), long enough for per-run cuts")
    else:
        stats = "no anomalous samples"
    if mode == "auto":
        mode = "per_run" if coverage >= PER_RUN_MIN_COVERAGE else "stream"
        why = f"auto: {stats}"
    else:
        why = f"requested; {stats}"
    return SplitPlan(mode, fr, window if mode == "stream" else 0, why)  # type: ignore[arg-type]


def describe_plan(plan: SplitPlan, window: int, hop: int) -> str:
    """One line for the terminal: mode, label rule and the reason."""
    if plan.mode == "stream":
        how = (f"stream: contiguous train/val/test blocks {plan.fractions} in time order, gap {plan.gap} samples; "
               f"window anomalous iff an anomalous sample is in its newest {min(hop, window)} samples (hop)")
    else:
        how = (f"per_run: every label run cut {plan.fractions} in time order; "
               f"window anomalous iff >= 50 % of its samples are")
    return f"split {how} ({plan.reason})" if plan.reason else f"split {how}"


def split_blocks(plan: SplitPlan, y: np.ndarray | None, n_samples: int, window: int) -> list[Block]:
    """The blocks of a plan (min_block = window: shorter blocks hold no window)."""
    if plan.mode == "stream":
        return stream_split(n_samples, plan.fractions, plan.gap, min_block=window)
    return time_block_split(y, n_samples, plan.fractions, min_block=window)


def split_windows(counts: np.ndarray, y: np.ndarray | None, window: int, hop: int,
                  blocks: list[Block], rule: str = "majority") -> dict[str, WindowSet]:
    """Windows made inside each block; WindowSet.block is the block's index in `blocks`."""
    counts = np.asarray(counts)
    parts: dict[str, list[WindowSet]] = {name: [] for name in SPLITS}
    for i, b in enumerate(blocks):
        if b.split not in parts:
            raise ImuadError(f"block {i} has unknown split {b.split!r}")
        parts[b.split].append(make_windows(counts, y, window, hop, b.start, b.stop, block=i, rule=rule))
    return {name: WindowSet.concat(p, window, counts.shape[1]) for name, p in parts.items()}


@dataclass
class Splits:
    sets: dict[str, WindowSet]
    blocks: list[Block]
    plan: SplitPlan

    def __getitem__(self, split: str) -> WindowSet:
        return self.sets[split]


def make_splits(rec: Recording, window: int, hop: int, counts_per_unit: float | None,
                fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
                mode: str | SplitPlan = "auto") -> Splits:
    """One call for training and every later consumer: counts (C1) -> plan -> blocks -> labelled
    windows per split. `mode` is "auto", a mode name, or the SplitPlan stored with a run/card.

    counts_per_unit None uses auto_counts_per_unit(rec.X)."""
    cpu = auto_counts_per_unit(rec.X) if counts_per_unit is None else float(counts_per_unit)
    if rec.n_samples < window:
        raise ImuadError(f"{rec.path or '<recording>'}: {rec.n_samples} samples, fewer than one window of {window}")
    plan = mode if isinstance(mode, SplitPlan) else plan_split(rec.y, rec.n_samples, window, fractions, mode)
    if plan.mode == "stream" and plan.gap != window:
        plan = SplitPlan(plan.mode, plan.fractions, window, plan.reason)
    counts = rec.counts(cpu)
    blocks = split_blocks(plan, rec.y, rec.n_samples, window)
    return Splits(split_windows(counts, rec.y, window, hop, blocks, plan.label_rule), blocks, plan)


@dataclass
class Normalizer:
    """Per-channel (x - mean) / std with statistics from the train windows only."""
    mean: np.ndarray   # float64 [C]
    std: np.ndarray    # float64 [C], >= MIN_STD

    #: "global": the train statistics above (C3 affine_int); "window": each window by its own
    #: mean and RMS, at least min_rms counts (C3 window_int), for models that must not see level
    mode: str = "global"
    min_rms: np.ndarray | None = None   # float64 [C], window mode

    MIN_STD = 1.0  # one count: below the quantisation step a channel is treated as constant
    #: window mode: a window quieter than this share of the train windows' median RMS is not
    #: blown up to unit RMS (its sensor noise would look like a new spectrum)
    WINDOW_FLOOR = 1 / 64

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        self.std = np.maximum(np.asarray(self.std, dtype=np.float64).reshape(-1), self.MIN_STD)
        if self.mode not in ("global", "window"):
            raise ImuadError(f"normaliser mode '{self.mode}' is not one of global, window")
        if self.mode == "window":
            floor = np.full_like(self.mean, self.MIN_STD) if self.min_rms is None else self.min_rms
            self.min_rms = np.maximum(np.round(np.asarray(floor, np.float64).reshape(-1)), self.MIN_STD)

    @classmethod
    def fit(cls, train: WindowSet | np.ndarray, mode: str = "global") -> "Normalizer":
        X = train.X if isinstance(train, WindowSet) else np.asarray(train)
        if X.shape[0] == 0:
            raise ImuadError("cannot fit normalisation: the train split has no windows "
                             "(recording too short for the window, or fractions give train nothing)")
        flat = X.reshape(-1, X.shape[-1]).astype(np.float64)
        if mode != "window":
            return cls(flat.mean(axis=0), flat.std(axis=0), mode)
        rms = np.asarray(X, np.float64).std(axis=1)                       # [N, C] per window
        return cls(flat.mean(axis=0), flat.std(axis=0), mode, np.median(rms, axis=0) * cls.WINDOW_FLOOR)

    def apply(self, X: np.ndarray) -> np.ndarray:
        """int16 counts [..., C] (window mode: windows [..., W, C]) -> float32 normalised."""
        X = np.asarray(X, dtype=np.float64)
        if self.mode == "window":
            if X.ndim < 2:
                raise ImuadError(f"window normalisation needs windows [..., W, C], got shape {X.shape}")
            d = X - X.mean(axis=-2, keepdims=True)
            rms = np.sqrt(np.mean(d * d, axis=-2, keepdims=True))
            return (d / np.maximum(rms, self.min_rms)).astype(np.float32)
        return ((X - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}
        if self.mode == "window":
            d.update(mode="window", min_rms=[float(v) for v in self.min_rms])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normalizer":
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64), d.get("mode", "global"),
                   None if d.get("min_rms") is None else np.asarray(d["min_rms"], np.float64))
