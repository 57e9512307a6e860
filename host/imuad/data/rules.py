"""The seed study's dataset rules, as an explicit and optional filter.

The seed study (CNN+LSTM / GRU / Transformer on SmartManuAD) skipped recordings with fewer
than 2000 samples or fewer than 5 % anomalous samples, cut recordings longer than 50 000
samples down, and rebalanced classes. We keep those rules but make every cut a contiguous
time slice (never random samples, which would leak neighbours across splits and destroy
the signal's time structure), and report what was done and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ImuadError
from .recording import Recording
from ..contracts.windows import WindowSet


@dataclass(frozen=True)
class Rules:
    min_samples: int = 2000
    min_anomaly_rate: float = 0.05
    max_samples: int = 50_000


@dataclass
class RuleEntry:
    name: str
    action: str            # "kept" | "skipped" | "downsampled"
    reason: str
    n_before: int
    n_after: int
    anomaly_rate: float | None
    slices: list[tuple[int, int]] = field(default_factory=list)  # kept [start, stop) of the original


@dataclass
class RulesReport:
    entries: list[RuleEntry] = field(default_factory=list)

    @property
    def skipped(self) -> list[RuleEntry]:
        return [e for e in self.entries if e.action == "skipped"]

    @property
    def kept(self) -> list[RuleEntry]:
        return [e for e in self.entries if e.action != "skipped"]

    def __str__(self) -> str:
        if not self.entries:
            return "seed rules: no recordings"
        lines = ["seed rules (>= 2000 samples, >= 5 % anomalies, <= 50 000 samples by time slices):"]
        for e in self.entries:
            rate = "unlabelled" if e.anomaly_rate is None else f"{100 * e.anomaly_rate:.1f} % anomalies"
            size = f"{e.n_before} samples" if e.n_after == e.n_before else f"{e.n_before} -> {e.n_after} samples"
            lines.append(f"  {e.action:11s} {e.name}: {size}, {rate} — {e.reason}")
        lines.append(f"  {len(self.kept)} kept, {len(self.skipped)} skipped")
        return "\n".join(lines)


def downsample_by_runs(rec: Recording, max_samples: int) -> tuple[Recording, list[tuple[int, int]]]:
    """Keep the first ceil(L * max/T) samples of every label run (a contiguous slice per run).

    The anomaly rate is kept, and the only seams are at label changes, where time-block
    splits cut anyway, so no window built by make_splits spans a seam."""
    T = rec.n_samples
    if T <= max_samples:
        return rec, [(0, T)]
    frac = max_samples / T
    slices = []
    for _, s, e in rec.label_runs():
        n = max(1, int(np.floor((e - s) * frac)))
        slices.append((s, s + n))
    idx = np.concatenate([np.arange(s, e) for s, e in slices])
    out = Recording(rec.path, rec.X[idx], None if rec.y is None else rec.y[idx], rec.fs,
                    list(rec.channels), None if rec.t is None else rec.t[idx])
    return out, slices


def apply_rules(recordings: list[Recording] | Recording, rules: Rules = Rules()
                ) -> tuple[list[Recording], RulesReport]:
    """Filter / downsample recordings per the seed rules -> (kept recordings, report)."""
    if isinstance(recordings, Recording):
        recordings = [recordings]
    report = RulesReport()
    kept: list[Recording] = []
    for i, rec in enumerate(recordings):
        name = str(rec.path) if rec.path is not None else f"recording {i}"
        rate = rec.anomaly_rate
        T = rec.n_samples
        if T < rules.min_samples:
            report.entries.append(RuleEntry(name, "skipped", f"fewer than {rules.min_samples} samples", T, 0, rate))
            continue
        if rate is not None and rate < rules.min_anomaly_rate:
            report.entries.append(RuleEntry(
                name, "skipped", f"anomaly rate below {100 * rules.min_anomaly_rate:g} %", T, 0, rate))
            continue
        note = "no labels: anomaly-rate rule not applied; " if rate is None else ""
        if T > rules.max_samples:
            out, slices = downsample_by_runs(rec, rules.max_samples)
            report.entries.append(RuleEntry(
                name, "downsampled", note + f"longer than {rules.max_samples} samples: kept the first "
                f"{100 * rules.max_samples / T:.0f} % of each of {len(slices)} label run(s)",
                T, out.n_samples, rate, slices))
            kept.append(out)
        else:
            report.entries.append(RuleEntry(name, "kept", note + "passes all rules", T, T, rate, [(0, T)]))
            kept.append(rec)
    return kept, report


def undersample_normal(ws: WindowSet, ratio: float = 1.0, seed: int = 0,
                       slice_windows: int = 16) -> WindowSet:
    """Keep every anomaly window and ~ratio x as many normal windows, as contiguous slices.

    Normal windows are grouped in runs of consecutive windows (same block, consecutive
    starts), cut into slices of `slice_windows`; whole slices are drawn at random (seeded)
    until the quota is met. Returned in time order."""
    if ratio <= 0:
        raise ImuadError(f"undersample ratio must be > 0, got {ratio}")
    n_anom = int(np.sum(ws.y == 1))
    normal = np.flatnonzero(ws.y == 0)
    quota = int(round(ratio * n_anom))
    if n_anom == 0 or len(normal) <= quota:
        return ws
    order = normal[np.lexsort((ws.start[normal], ws.block[normal]))]
    st, bl = ws.start[order], ws.block[order]
    hop = np.diff(st)
    pos_hop = hop[hop > 0]
    step = int(np.min(pos_hop)) if pos_hop.size else 1
    breaks = np.flatnonzero((np.diff(bl) != 0) | (hop != step)) + 1
    slices: list[np.ndarray] = []
    for run in np.split(order, breaks):
        for k in range(0, len(run), slice_windows):
            slices.append(run[k:k + slice_windows])
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    total = 0
    for i in rng.permutation(len(slices)):
        if total >= quota:
            break
        part = slices[i][: quota - total]
        picked.append(part)
        total += len(part)
    keep = np.concatenate([np.flatnonzero(ws.y == 1)] + picked)
    keep = keep[np.lexsort((ws.start[keep], ws.block[keep]))]
    return ws.subset(keep)


def class_weights(y: np.ndarray) -> dict[int, float]:
    """'balanced' weights n / (2 * n_c) for classes 0 and 1 (1.0 for an absent class)."""
    y = np.asarray(y)
    n = len(y)
    out = {}
    for c in (0, 1):
        nc = int(np.sum(y == c))
        out[c] = float(n / (2.0 * nc)) if nc else 1.0
    return out
