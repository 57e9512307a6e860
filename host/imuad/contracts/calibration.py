"""Contract C5b: commissioning a device from its own normal windows, and drift (mirror of
`imuad/calibration.h`). Integer arithmetic only, so the host (`imuad calibrate`) and every
firmware target (host build, QEMU, ESP-IDF, MicroPython) fit the same decision from the same
window scores, bit for bit.

Calibration of N consecutive windows' scores s (int32), starting from decision `old`:
1. k, n: the request's (k = n = 0 keeps the old ones).
2. The on/off gap of `old` is kept relatively: off(on) = on - max(1, ceil(|on| * g / max(1, |o|)))
   where o = old threshold_on and g = o - old threshold_off (off(on) = on when g = 0), clamped to int32.
3. median = the lower median: sorted(s)[(N - 1) // 2].
4. lowest_on = the lowest integer T in [median + 1, max(s) + 1] whose decision (T, off(T), k, n),
   run over s from a fresh state, raises at most `allowed` onsets (integer bisection; the onset
   count does not grow with T). max(s) + 1 raises none: no window is hot. Above the median, so
   an alarm that never clears (one onset) cannot pass for "few onsets".
5. threshold_on = lowest_on + ceil(margin_permille * max(0, lowest_on - median) / 1000),
   clamped to int32; threshold_off = off(threshold_on).

Drift (enabled by a calibration whose drift_block B > 0): the scores of each block of B
consecutive windows after the calibration are averaged (floor of the int64 sum / B); with
b = median, d = max(1, threshold_on - b): a block mean >= b + ceil(d / 2) raises DRIFT (event
kind 4, score = the block mean) once; a later block mean < b + ceil(d / 4) raises DRIFT_CLEAR
(kind 5). A completed calibration raises CALIBRATED (kind 6, score = the new threshold_on).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .decision import ONSET, Decider, Decision, check_decision
from .ranges import INT32, IntRange, RangeError

# event kinds beyond C5's onset (1) / clear (2) and C8's heartbeat (3), one numbering for C7 and C8
DRIFT, DRIFT_CLEAR, CALIBRATED = 4, 5, 6
EVENT_NAMES = {1: "onset", 2: "clear", 3: "heartbeat", DRIFT: "drift", DRIFT_CLEAR: "drift cleared",
               CALIBRATED: "calibrated"}

CALIB_WINDOWS = IntRange(16, 4096)   # the device keeps one int32 per window (16 KiB at most)
ALLOWED_ONSETS = IntRange(0, 1000)
MARGIN_PERMILLE = IntRange(0, 10_000)
DRIFT_BLOCK = IntRange(0, 65_535)    # windows per drift block; 0 = no drift watch
K_N_OR_KEEP = IntRange(0, 32)        # 0 and 0: keep the model's k and n
REQUEST_FIELDS = ("windows", "allowed", "margin_permille", "k", "n", "drift_block", "refit")
REFIT = IntRange(0, 1)               # 1: refit the shape statistics first (models with features)
MAX_FEATURES = 64                    # output elements after the score a refit standardises
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class CalibrationRequest:
    """What a CALIBRATE (C7 0x10, BLE control op 0x04, C9 command `calibrate`) asks for."""
    windows: int = 1024
    allowed: int = 0
    margin_permille: int = 100
    k: int = 0
    n: int = 0
    drift_block: int = 0
    refit: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def check_request(payload: Mapping[str, Any]) -> CalibrationRequest:
    """A calibration request from JSON/CLI/frames: every field range-checked, k and n together
    (both 0 = keep), unknown fields refused. Errors are RangeError naming the field."""
    unknown = sorted(set(payload) - set(REQUEST_FIELDS))
    if unknown:
        raise RangeError(unknown[0], f"unknown calibration setting(s) {', '.join(unknown)}; "
                                     f"known: {', '.join(REQUEST_FIELDS)}")
    d = CalibrationRequest().as_dict() | dict(payload)
    windows = CALIB_WINDOWS.check("windows", d["windows"])
    allowed = ALLOWED_ONSETS.check("allowed", d["allowed"])
    margin = MARGIN_PERMILLE.check("margin_permille", d["margin_permille"])
    k = K_N_OR_KEEP.check("k", d["k"])
    n = K_N_OR_KEEP.check("n", d["n"])
    if (k == 0) != (n == 0):
        raise RangeError("k" if k == 0 else "n", "give both k and n (1..32, k <= n), or both 0 to keep the model's")
    if k > n:
        raise RangeError("k", f"k ({k}) must be <= n ({n})")
    block = DRIFT_BLOCK.check("drift_block", d["drift_block"])
    refit = REFIT.check("refit", d["refit"])
    return CalibrationRequest(windows, allowed, margin, k, n, block, refit)


@dataclass(frozen=True)
class CalibrationResult:
    decision: Decision
    windows: int
    median: int
    lowest_on: int
    onsets_before: int     # onsets the old decision raised on these windows
    drift_block: int

    def as_dict(self) -> dict[str, int]:
        return {**self.decision.as_dict(), "windows": self.windows, "median": self.median,
                "lowest_on": self.lowest_on, "onsets_before": self.onsets_before,
                "drift_block": self.drift_block}


def _clamp32(v: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, v))


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)  # b > 0


def off_for(on: int, old: Decision) -> int:
    """Step 2: threshold_off for threshold_on `on`, keeping `old`'s relative on/off gap."""
    g = old.threshold_on - old.threshold_off
    if g <= 0:
        return on
    return _clamp32(on - max(1, _ceil_div(abs(on) * g, max(1, abs(old.threshold_on)))))


def onsets(decision: Decision, scores: Sequence[int]) -> int:
    """Anomaly onsets the C5 decision raises over consecutive windows from a fresh state."""
    _, _, events = Decider.of(decision).run(scores)
    return sum(1 for e in events if e.kind == ONSET)


def fit(scores: Sequence[int], old: Decision, request: CalibrationRequest) -> CalibrationResult:
    """Steps 1-5 on the scores of `request.windows` (or any number >= 1) consecutive windows."""
    s = [int(v) for v in scores]
    if not s:
        raise ValueError("calibration needs at least one window score")
    for v in s:
        INT32.check("score", v)
    k, n = (request.k, request.n) if request.k else (old.k, old.n)

    def decision(on: int) -> Decision:
        on = _clamp32(on)
        return check_decision(on, off_for(on, old), k, n)

    median = sorted(s)[(len(s) - 1) // 2]
    lo, hi = median + 1, max(s) + 1
    while lo < hi:                       # lowest T with at most `allowed` onsets
        mid = (lo + hi) // 2             # floor, as the device's
        if onsets(decision(mid), s) <= request.allowed:
            hi = mid
        else:
            lo = mid + 1
    on = lo + _ceil_div(request.margin_permille * max(0, lo - median), 1000)
    return CalibrationResult(decision(on), len(s), median, _clamp32(lo), onsets(old, s), request.drift_block)


class DriftMonitor:
    """Block means of the scores after a calibration against its median (mirror of the core's)."""

    def __init__(self, median: int, threshold_on: int, block: int) -> None:
        self.block = block
        d = max(1, threshold_on - median)
        self.raise_at = median + _ceil_div(d, 2)
        self.clear_below = median + _ceil_div(d, 4)
        self.drifting = False
        self._sum = 0
        self._count = 0

    def step(self, score: int) -> tuple[int, int] | None:
        """One window's score -> (event kind, block mean) when a block ends with a change."""
        if self.block <= 0:
            return None
        self._sum += int(score)
        self._count += 1
        if self._count < self.block:
            return None
        mean = self._sum // self.block
        self._sum = self._count = 0
        if not self.drifting and mean >= self.raise_at:
            self.drifting = True
            return DRIFT, mean
        if self.drifting and mean < self.clear_below:
            self.drifting = False
            return DRIFT_CLEAR, mean
        return None


@dataclass(frozen=True)
class ShapeStats:
    """Per-feature mean and std of a model's shape features (raw int8 output values), in 1/16."""
    mean_q4: tuple[int, ...]
    std_q4: tuple[int, ...]


def fit_stats(features: Sequence[Sequence[int]]) -> ShapeStats:
    """Refit step 1 on N windows' raw int8 features x[N][F]: mean_q4 = floor(16 S1 / N),
    var_q8 = floor(256 (N S2 - S1^2) / N^2), std_q4 = isqrt(var_q8), each raised to at least
    max(16, floor(lower median of std_q4 / 10)) (a feature that never moved cannot dominate)."""
    from math import isqrt
    n = len(features)
    f = len(features[0])
    s1 = [sum(int(w[i]) for w in features) for i in range(f)]
    s2 = [sum(int(w[i]) * int(w[i]) for w in features) for i in range(f)]
    mean = [(16 * a) // n for a in s1]
    std = [isqrt((256 * (n * b - a * a)) // (n * n)) for a, b in zip(s1, s2)]
    floor = max(16, sorted(std)[(f - 1) // 2] // 10)
    return ShapeStats(tuple(mean), tuple(max(floor, v) for v in std))


def shape_score(x: Sequence[int], stats: ShapeStats) -> int:
    """Refit score of one window: z_i = min(384, floor(|16 x_i - mean_i| * 64 / std_i)) (z in
    1/64, capped at 6), score = floor(sum z_i^2 / F)."""
    total = 0
    for v, m, sd in zip(x, stats.mean_q4, stats.std_q4):
        z = min(384, (abs(16 * int(v) - m) * 64) // sd)
        total += z * z
    return total // len(stats.mean_q4)


def simulate(scores: Sequence[int], old: Decision, request: CalibrationRequest,
             features: Sequence[Sequence[int]] | None = None
             ) -> tuple[list[tuple[int, int, int]], CalibrationResult | None, list[int]]:
    """What a device does on consecutive windows after CALIBRATE(request) from window 0:
    (events as (window, kind, score) in the order the device sends them, the calibration or None
    if the windows end first, the score of every window as WINDOW_RESULT reports it). Each
    window: the decision in force, then the drift watch, then the calibration; the window that
    completes it is still judged by the old decision. With request.refit, `features` (each
    window's raw int8 outputs after the score) are standardised first: the shape statistics of
    windows [0, N), the threshold on the refit scores of windows [N, 2N), and from then on the
    refit score is the window's score."""
    decider = Decider.of(old)
    drift: DriftMonitor | None = None
    collected: list[int] = []
    stats: ShapeStats | None = None
    result: CalibrationResult | None = None
    events: list[tuple[int, int, int]] = []
    reported: list[int] = []
    n = request.windows
    for w, score in enumerate(int(v) for v in scores):
        if result is not None and stats is not None:
            score = shape_score(features[w], stats)
        reported.append(score)
        _, ev = decider.step(w, score)
        if ev is not None:
            events.append(ev.as_tuple())
        change = drift.step(score) if drift is not None else None
        if result is None:
            if request.refit and stats is None:
                if w == n - 1:
                    stats = fit_stats(features[:n])
                continue
            collected.append(shape_score(features[w], stats) if stats is not None else score)
            if len(collected) == n:
                result = fit(collected, decider_settings(decider), request)
                decider = Decider.of(result.decision)
                drift = DriftMonitor(result.median, result.decision.threshold_on, result.drift_block)
                events.append((w, CALIBRATED, result.decision.threshold_on))
                continue
        if change is not None:
            events.append((w, change[0], change[1]))
    return events, result, reported


def decider_settings(d: Decider) -> Decision:
    return Decision(d.threshold_on, d.threshold_off, d.k, d.n)
