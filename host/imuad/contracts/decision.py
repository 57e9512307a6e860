"""Contract C5, the decision settings: the one Python definition of what is valid.

`{"threshold_on": int32, "threshold_off": int32 (<= on), "k": 1..32, "n": k..32}`.
Used by the dashboard (threshold command), the gateway CLI and core (CONFIG writes), and
meant for `imuad.reference.Decider`. Errors are `DecisionError` (an ImuadError and a
ValueError) naming the field and its range.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .ranges import INT32, IntRange, RangeError

THRESHOLD = INT32
K_N = IntRange(1, 32)  # the history is a 32-bit word on the device
FIELDS = ("threshold_on", "threshold_off", "k", "n")


class DecisionError(RangeError):
    """Decision settings outside contract C5."""


@dataclass(frozen=True)
class Decision:
    threshold_on: int
    threshold_off: int
    k: int
    n: int

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in FIELDS}


def _field(r: IntRange, name: str, value: Any) -> int:
    try:
        return r.check(name, value)
    except RangeError as exc:
        raise DecisionError(name, str(exc)) from None


def _thresholds(on: Any, off: Any) -> tuple[int, int]:
    on = _field(THRESHOLD, "threshold_on", on)
    off = _field(THRESHOLD, "threshold_off", off)
    if off > on:
        raise DecisionError("threshold_off", f"threshold_off ({off}) must be <= "
                                             f"threshold_on ({on})")
    return on, off


def _debounce(k: Any, n: Any) -> tuple[int, int]:
    k = _field(K_N, "k", k)
    n = _field(K_N, "n", n)
    if k > n:
        raise DecisionError("k", f"k ({k}) must be <= n ({n}); both in {K_N}")
    return k, n


def check_decision(threshold_on: Any, threshold_off: Any, k: Any, n: Any) -> Decision:
    """All four C5 settings, strictly typed (a bool or "5" is not an int)."""
    on, off = _thresholds(threshold_on, threshold_off)
    kk, nn = _debounce(k, n)
    return Decision(on, off, kk, nn)


def decision_from_mapping(d: Mapping[str, Any]) -> Decision:
    """A card's `decision` object (C6) or any mapping with the four keys."""
    missing = [f for f in FIELDS if f not in d]
    if missing:
        raise DecisionError(missing[0], f"decision lacks {', '.join(missing)}")
    return check_decision(*(d[f] for f in FIELDS))


def check_config(payload: Mapping[str, Any]) -> dict[str, int]:
    """A C9 `config` command payload: `threshold_on`, optional `threshold_off` (defaults
    to on), optional `k` and `n` (both or neither). Returns the normalised payload."""
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise DecisionError(unknown[0], f"unknown decision setting(s) {', '.join(unknown)}; "
                                        f"known: {', '.join(FIELDS)}")
    if "threshold_on" not in payload:
        raise DecisionError("threshold_on", "threshold_on is required")
    on = payload["threshold_on"]
    on, off = _thresholds(on, payload.get("threshold_off", on))
    out = {"threshold_on": on, "threshold_off": off}
    if ("k" in payload) != ("n" in payload):
        raise DecisionError("k" if "k" not in payload else "n", "give both k and n, or neither")
    if "k" in payload:
        out["k"], out["n"] = _debounce(payload["k"], payload["n"])
    return out
