"""C5: threshold with hysteresis + k-of-n debounce (mirror of `imuad/decision.h`).

`check_decision` is the one definition of which settings are valid; the card loader, the
CLI options, the dashboard's JSON bodies and the gateway's CONFIG writes all call it.
"""
from __future__ import annotations

import numbers
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..errors import ImuadError

NORMAL, ANOMALY = 0, 1
ONSET, CLEAR = 1, 2
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
MAX_N = 32  # the firmware keeps the last n hot bits in a uint32


@dataclass(frozen=True)
class DecisionSettings:
    threshold_on: int
    threshold_off: int
    k: int
    n: int

    def as_dict(self) -> dict[str, int]:
        return {"threshold_on": self.threshold_on, "threshold_off": self.threshold_off, "k": self.k, "n": self.n}


def check_int(value: Any, field: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi]; booleans, strings and floats are refused, not coerced."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ImuadError(f"{field} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise ImuadError(f"{field} must be in [{lo}, {hi}], got {value}")
    return int(value)


def check_decision(threshold_on: Any, threshold_off: Any, k: Any, n: Any, where: str = "decision") -> DecisionSettings:
    """Valid C5 settings or ImuadError naming the field and its range."""
    on = check_int(threshold_on, f"{where}.threshold_on", INT32_MIN, INT32_MAX)
    off = check_int(threshold_off, f"{where}.threshold_off", INT32_MIN, on)
    n_ = check_int(n, f"{where}.n", 1, MAX_N)
    k_ = check_int(k, f"{where}.k", 1, n_)
    return DecisionSettings(on, off, k_, n_)


def decision_from_card(card: Mapping[str, Any]) -> DecisionSettings:
    d = card.get("decision")
    if not isinstance(d, Mapping):
        raise ImuadError(f"decision must be an object with threshold_on, threshold_off, k, n, got {d!r}")
    return check_decision(d.get("threshold_on"), d.get("threshold_off"), d.get("k"), d.get("n"))


@dataclass
class Event:
    window: int
    kind: int      # ONSET or CLEAR
    score: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.window, self.kind, self.score)


@dataclass
class Decider:
    threshold_on: int
    threshold_off: int
    k: int
    n: int
    state: int = NORMAL
    _history: deque = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        check_decision(self.threshold_on, self.threshold_off, self.k, self.n)
        self._history = deque(maxlen=self.n)

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> "Decider":
        s = decision_from_card(card)
        return cls(s.threshold_on, s.threshold_off, s.k, s.n)

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
