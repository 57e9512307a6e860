"""Contract C5: threshold with hysteresis + k-of-n debounce (mirror of `imuad/decision.h`).

`check_decision` is the one Python definition of valid settings:
`{"threshold_on": int32, "threshold_off": int32 (<= on), "k": 1..32, "n": k..32}`, used by the
card loader, the CLI, the dashboard (threshold command), the gateway CLI and core (CONFIG
writes) and `Decider`. Errors are `DecisionError` (an ImuadError and a ValueError) naming the
field and its range.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
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


# ---------------------------------------------------------------- the decision itself
NORMAL, ANOMALY = 0, 1
ONSET, CLEAR = 1, 2


@dataclass
class Event:
    window: int
    kind: int      # ONSET or CLEAR
    score: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.window, self.kind, self.score)


class Decider:
    """The C5 state machine over consecutive windows (mirror of `imuad/decision.h`)."""

    def __init__(self, threshold_on: int, threshold_off: int, k: int, n: int) -> None:
        s = check_decision(threshold_on, threshold_off, k, n)
        self.threshold_on, self.threshold_off, self.k, self.n = s.threshold_on, s.threshold_off, s.k, s.n
        self.state = NORMAL
        self._history: deque[bool] = deque(maxlen=self.n)

    @classmethod
    def of(cls, settings: Decision) -> "Decider":
        return cls(**settings.as_dict())

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> "Decider":
        return cls.of(decision_from_mapping(card["decision"]))

    def reset(self) -> None:
        self.state = NORMAL
        self._history.clear()

    def step(self, window: int, score: int) -> tuple[bool, Event | None]:
        """One window: returns (hot, event or None)."""
        hot = score >= (self.threshold_on if self.state == NORMAL else self.threshold_off)
        self._history.append(bool(hot))
        hot_count = sum(self._history)
        event = None
        if self.state == NORMAL and hot_count >= self.k:
            self.state = ANOMALY
            event = Event(window, ONSET, int(score))
        elif self.state == ANOMALY and (self.n - hot_count) >= self.k:
            self.state = NORMAL
            event = Event(window, CLEAR, int(score))
        return hot, event

    def run(self, scores: Iterable[int]) -> tuple[list[int], list[bool], list[Event]]:
        """Scores of consecutive windows from index 0 -> (states, hots, events)."""
        states, hots, events = [], [], []
        for j, s in enumerate(scores):
            hot, ev = self.step(j, int(s))
            states.append(self.state)
            hots.append(hot)
            if ev is not None:
                events.append(ev)
        return states, hots, events
