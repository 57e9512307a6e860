"""Windows of int16 counts and their labels (docs/contracts.md C2): the one place for window maths.

Window j of a span starting at sample `start` covers samples [start + j*H, start + j*H + W);
over a whole stream (start=0) this is exactly the firmware's window j (`window_starts`).
`WindowSet` is the one container of windows: training, evaluation and parity use it, and
`WindowSet.streams()` turns each contiguous block back into the sample stream a firmware
target is fed. Two label rules (C2):
- "majority": anomaly iff 2 * sum(labels in the window) >= W (long label runs, per-run split);
- "newest":   anomaly iff an anomalous sample lies in the window's newest min(H, W) samples
              [start + W - H, start + W) (short events: each sample is judged by exactly one
              window of a stream, the first that contains it, so H bounds the detection latency).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ImuadError


@dataclass
class Stream:
    """One block as the firmware sees it: samples from the block's first window on."""
    block: int
    samples: np.ndarray     # int16 [T, C]
    first_sample: int       # recording index of samples[0]
    index: np.ndarray       # WindowSet index of the stream's window j (window j starts at j*hop)


@dataclass
class WindowSet:
    X: np.ndarray       # int16 [N, W, C]
    y: np.ndarray       # int8 [N]
    start: np.ndarray   # int64 [N] absolute start sample in the recording
    block: np.ndarray   # int32 [N] index of the split block the window came from

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def window(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[2])

    @property
    def anomaly_rate(self) -> float:
        return float(np.mean(self.y)) if len(self) else 0.0

    def subset(self, index: np.ndarray) -> "WindowSet":
        """Windows selected by a boolean mask or integer index (order kept as given)."""
        return WindowSet(self.X[index], self.y[index], self.start[index], self.block[index])

    def streams(self) -> list[Stream]:
        """Each block (in first-appearance order) as one stream from its first window on."""
        out = []
        W = self.window
        for b in dict.fromkeys(self.block.tolist()):
            idx = np.flatnonzero(self.block == b)
            idx = idx[np.argsort(self.start[idx], kind="stable")]
            st = self.start[idx]
            hop = int(st[1] - st[0]) if len(st) > 1 else W
            if len(idx) > 1 and (hop < 1 or not np.all(np.diff(st) == hop)):
                raise ImuadError(f"block {b}: windows are not evenly spaced; cannot stream them")
            samples = np.zeros((int(st[-1] - st[0]) + W, self.n_channels), np.int16)
            for k, i in enumerate(idx):
                samples[k * hop:k * hop + W] = self.X[i]
            out.append(Stream(int(b), samples, int(st[0]), idx))
        return out

    @classmethod
    def empty(cls, window: int, n_channels: int) -> "WindowSet":
        return cls(np.zeros((0, window, n_channels), np.int16), np.zeros(0, np.int8),
                   np.zeros(0, np.int64), np.zeros(0, np.int32))

    @classmethod
    def concat(cls, parts: list["WindowSet"], window: int, n_channels: int) -> "WindowSet":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty(window, n_channels)
        return cls(np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                   np.concatenate([p.start for p in parts]), np.concatenate([p.block for p in parts]))


LABEL_RULES = ("majority", "newest")
SPLIT_MODES = ("per_run", "stream")
LABEL_RULE = {"per_run": "majority", "stream": "newest"}   # each split mode has its label rule


def check_label_rule(rule: str) -> str:
    if rule not in LABEL_RULES:
        raise ImuadError(f"label_rule '{rule}' is not one of {', '.join(LABEL_RULES)}")
    return rule


def window_label(y_window: np.ndarray, rule: str = "majority", hop: int | None = None) -> int:
    """C2 label of one window's samples (see the module doc); "newest" needs the hop."""
    y_window = np.asarray(y_window)
    if check_label_rule(rule) == "newest":
        if hop is None or hop < 1:
            raise ImuadError(f"label_rule 'newest' needs a hop >= 1, got {hop}")
        return int(np.any(y_window[-min(int(hop), len(y_window)):] != 0))
    return int(2 * int(np.sum(y_window, dtype=np.int64)) >= len(y_window))


def n_windows(length: int, window: int, hop: int) -> int:
    """Number of complete windows in a span of `length` samples."""
    return 0 if length < window else (length - window) // hop + 1


def window_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start sample of every complete window of a stream, i.e. the firmware's window j."""
    return hop * np.arange(n_windows(n_samples, window, hop), dtype=np.int64)


def stream_windows(counts: np.ndarray, window: int, hop: int) -> np.ndarray:
    """int16 stream [T, C] -> windows [N, W, C] exactly as the firmware assembles them."""
    counts = np.asarray(counts)
    starts = window_starts(len(counts), window, hop)
    if not len(starts):
        return np.zeros((0, window) + counts.shape[1:], counts.dtype)
    return counts[starts[:, None] + np.arange(window)[None, :]]


def window_labels(y: np.ndarray | None, starts: np.ndarray, window: int, rule: str = "majority",
                  hop: int | None = None) -> np.ndarray:
    """Labels of windows starting at `starts` (vectorised window_label)."""
    check_label_rule(rule)
    starts = np.asarray(starts, dtype=np.int64)
    if y is None:
        return np.zeros(len(starts), np.int8)
    cs = np.concatenate([[0], np.cumsum(np.asarray(y, dtype=np.int64) != 0)])
    if rule == "newest":
        if hop is None or hop < 1:
            raise ImuadError(f"label_rule 'newest' needs a hop >= 1, got {hop}")
        first = starts + window - min(int(hop), window)
        return (cs[starts + window] - cs[first] > 0).astype(np.int8)
    sums = cs[starts + window] - cs[starts]
    return (2 * sums >= window).astype(np.int8)


def make_windows(counts: np.ndarray, y: np.ndarray | None, window: int, hop: int,
                 start: int = 0, stop: int | None = None, block: int = 0, rule: str = "majority") -> WindowSet:
    """All complete windows inside samples [start, stop) of an int16 stream [T, C]."""
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ImuadError(f"windows need counts [samples, channels], got shape {counts.shape}")
    if counts.dtype != np.int16:
        raise ImuadError(f"windows need int16 counts, got {counts.dtype} (use Recording.counts())")
    if window < 1 or hop < 1:
        raise ImuadError(f"window ({window}) and hop ({hop}) must be >= 1")
    T = counts.shape[0]
    stop = T if stop is None else stop
    if not 0 <= start <= stop <= T:
        raise ImuadError(f"window span [{start}, {stop}) outside the recording of {T} samples")
    if y is not None and len(y) != T:
        raise ImuadError(f"labels have {len(y)} samples, counts {T}")
    n = n_windows(stop - start, window, hop)
    starts = start + hop * np.arange(n, dtype=np.int64)
    X = counts[starts[:, None] + np.arange(window)[None, :]] if n else np.zeros((0, window, counts.shape[1]), np.int16)
    return WindowSet(X.astype(np.int16, copy=False), window_labels(y, starts, window, rule, hop), starts,
                     np.full(n, block, dtype=np.int32))
