"""Host reference of the firmware's integer semantics (docs/contracts.md C3-C5).

Everything here is integer numpy and mirrors `device/components/imuad_core` bit for bit:
preprocessing (int16 counts -> int8 input), score (int8 output -> int32), and the
decision (threshold hysteresis + k-of-n debounce -> onset/clear events).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

NORMAL, ANOMALY = 0, 1
ONSET, CLEAR = 1, 2
INT32_MAX = 2**31 - 1


# ---------------------------------------------------------------- C3 preprocessing
@dataclass(frozen=True)
class Preprocess:
    offset: tuple[int, ...]
    multiplier: tuple[int, ...]
    shift: int
    input_zero_point: int

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> "Preprocess":
        p = card["preprocessing"]
        return cls(tuple(int(v) for v in p["offset"]), tuple(int(v) for v in p["multiplier"]),
                   int(p["shift"]), int(p["input_zero_point"]))

    @classmethod
    def derive(cls, mean: np.ndarray, std: np.ndarray, input_scale: float,
               input_zero_point: int, shift: int = 16) -> "Preprocess":
        """Constants for q ~= (raw - mean) / std / input_scale + zp, as integers."""
        std = np.maximum(np.asarray(std, dtype=np.float64), 1e-6)
        mult = np.round(2.0**shift / (std * float(input_scale)))
        if np.any(mult < 1) or np.any(mult > 2**31 - 1):
            raise ValueError(f"preprocessing multiplier out of int32 range: {mult}")
        return cls(tuple(int(round(m)) for m in np.asarray(mean, dtype=np.float64)),
                   tuple(int(m) for m in mult), int(shift), int(input_zero_point))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """raw: int16 counts [..., W, C] -> int8 input tensor of the same shape."""
        raw = np.asarray(raw)
        if raw.dtype != np.int16:
            raise TypeError(f"preprocess expects int16 counts, got {raw.dtype}")
        acc = (raw.astype(np.int64) - np.asarray(self.offset, np.int64)) * np.asarray(
            self.multiplier, np.int64) + (np.int64(1) << np.int64(self.shift - 1))
        q = self.input_zero_point + (acc >> np.int64(self.shift))
        return np.clip(q, -128, 127).astype(np.int8)

    def to_card(self, input_scale: float, counts_per_unit: float) -> dict[str, Any]:
        return {"kind": "affine_int", "offset": list(self.offset), "multiplier": list(self.multiplier),
                "shift": self.shift, "input_scale": float(input_scale),
                "input_zero_point": self.input_zero_point, "counts_per_unit": float(counts_per_unit)}


# ---------------------------------------------------------------- C4 score
@dataclass(frozen=True)
class Score:
    kind: str                 # "class_prob" | "recon_error"
    output_zero_point: int
    output_index: int = 0
    input_zero_point: int = 0
    in_mult: int = 0
    out_mult: int = 0
    shift: int = 0

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> "Score":
        s = card["score"]
        return cls(kind=s["kind"], output_zero_point=int(card["output"]["zero_point"]),
                   output_index=int(s.get("output_index", 0)),
                   input_zero_point=int(card["input"]["zero_point"]),
                   in_mult=int(s.get("in_mult", 0)), out_mult=int(s.get("out_mult", 0)),
                   shift=int(s.get("shift", 0)))

    def __call__(self, out_q: np.ndarray, in_q: np.ndarray | None = None) -> np.ndarray:
        """out_q: int8 outputs [N, ...]; in_q: int8 inputs [N, ...] (recon_error). -> int64 [N]."""
        out = np.asarray(out_q).astype(np.int64).reshape(len(out_q), -1)
        if self.kind == "class_prob":
            return out[:, self.output_index] - self.output_zero_point
        if self.kind == "recon_error":
            if in_q is None:
                raise ValueError("recon_error score needs the input tensor")
            inp = np.asarray(in_q).astype(np.int64).reshape(len(in_q), -1)
            d = (out - self.output_zero_point) * self.out_mult - (inp - self.input_zero_point) * self.in_mult
            e = np.sum(d * d, axis=1) >> np.int64(self.shift)  # fits int64 for W*C <= 2^16 elements
            return np.minimum(e, INT32_MAX)
        raise ValueError(f"unknown score kind {self.kind!r}")


# ---------------------------------------------------------------- C5 decision
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
        if not (1 <= self.k <= self.n <= 32):
            raise ValueError(f"decision needs 1 <= k <= n <= 32, got k={self.k} n={self.n}")
        if self.threshold_off > self.threshold_on:
            raise ValueError("decision threshold_off must be <= threshold_on")
        self._history = deque(maxlen=self.n)

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> "Decider":
        d = card["decision"]
        return cls(int(d["threshold_on"]), int(d["threshold_off"]), int(d["k"]), int(d["n"]))

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


def window_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start sample of every complete window of a stream (C2)."""
    if n_samples < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - window + 1, hop, dtype=np.int64)


def stream_windows(counts: np.ndarray, window: int, hop: int) -> np.ndarray:
    """int16 stream [T, C] -> windows [N, W, C] exactly as the firmware assembles them."""
    starts = window_starts(len(counts), window, hop)
    idx = starts[:, None] + np.arange(window)[None, :]
    return np.asarray(counts)[idx]


# ---------------------------------------------------------------- the whole host answer
@dataclass
class StreamReference:
    """What every firmware target must reproduce for one stream (from window 0)."""
    outputs: np.ndarray                  # int8 [N, n_out], raw output tensor per window
    scores: np.ndarray                   # int64 [N]
    states: list[int]
    events: list[tuple[int, int, int]]   # (window, kind, score)


def stream_reference(model: bytes, card: Mapping[str, Any], counts: np.ndarray) -> StreamReference:
    """TFLM Python interpreter (reset before every window) + C2-C5, for an int16 stream [T, C]."""
    from .deploy.interpreters import run_tflm  # needs tflite_micro; imported only here

    W, H = int(card["window"]), int(card["hop"])
    X = stream_windows(np.asarray(counts, np.int16), W, H)
    n_out = int(np.prod(card["output"]["shape"][1:]))
    if len(X) == 0:
        return StreamReference(np.zeros((0, n_out), np.int8), np.zeros(0, np.int64), [], [])
    xq = Preprocess.from_card(card).apply(X)
    out = np.asarray(run_tflm(bytes(model), xq)).reshape(len(X), -1).astype(np.int8)
    scores = np.asarray(Score.from_card(card)(out, xq), np.int64)
    states, _, events = Decider.from_card(card).run(scores)
    return StreamReference(out, scores, [int(s) for s in states], [e.as_tuple() for e in events])
