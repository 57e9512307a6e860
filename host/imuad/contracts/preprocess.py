"""C3: int16 sensor counts -> int8 input tensor, integer only (mirror of `imuad/preprocess.h`).

Two kinds (card `preprocessing.kind`):
- `affine_int`: per channel q = zp + ((raw - offset) * m + 2^(s-1)) >> s, the train split's
  mean and std folded into integers.
- `window_int`: per window and channel, centred on the window's own mean and scaled by its own
  RMS (at least `offset[c]` counts), so the model sees the shape of the vibration whatever its
  level: S = sum raw, d = W*raw - S, R = max(isqrt(sum d^2 // W), W * offset[c]),
  q = zp + floor((d * m + (R << (s-1))) / (R << s)). Windows of at most WINDOW_INT_MAX_W samples
  and s <= WINDOW_INT_MAX_SHIFT keep every product inside int64.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

SHIFT_RANGE = (1, 40)
KINDS = ("affine_int", "window_int")
WINDOW_INT_MAX_W = 1024
WINDOW_INT_MAX_SHIFT = 24


def isqrt64(n: np.ndarray) -> np.ndarray:
    """Exact floor(sqrt(n)) of int64 values 0 <= n < 2^62 (float estimate, then corrected)."""
    n = np.asarray(n, np.int64)
    r = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    for _ in range(2):
        r = np.where(r * r > n, r - 1, r)
        r = np.where((r + 1) * (r + 1) <= n, r + 1, r)
    return r


@dataclass(frozen=True)
class Preprocess:
    offset: tuple[int, ...]        # affine_int: the channel means; window_int: RMS floors (counts)
    multiplier: tuple[int, ...]
    shift: int
    input_zero_point: int
    kind: str = "affine_int"

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> "Preprocess":
        p = card["preprocessing"]
        kind = p.get("kind", "affine_int")
        off = p["min_rms"] if kind == "window_int" else p["offset"]
        return cls(tuple(int(v) for v in off), tuple(int(v) for v in p["multiplier"]),
                   int(p["shift"]), int(p["input_zero_point"]), kind)

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

    @classmethod
    def derive_window(cls, min_rms: np.ndarray, input_scale: float, input_zero_point: int,
                      shift: int = 16) -> "Preprocess":
        """window_int constants for q ~= (raw - window mean) / max(window RMS, min_rms) / scale + zp."""
        floors = [max(1, int(round(v))) for v in np.asarray(min_rms, np.float64).reshape(-1)]
        mult = round(2.0**shift / float(input_scale))
        if not 1 <= mult <= 2**31 - 1:
            raise ValueError(f"preprocessing multiplier out of int32 range: {mult}")
        return cls(tuple(floors), (int(mult),) * len(floors), int(shift), int(input_zero_point), "window_int")

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """raw: int16 counts [..., W, C] -> int8 input tensor of the same shape."""
        raw = np.asarray(raw)
        if raw.dtype != np.int16:
            raise TypeError(f"preprocess expects int16 counts, got {raw.dtype}")
        if self.kind == "window_int":
            return self._apply_window(raw)
        acc = (raw.astype(np.int64) - np.asarray(self.offset, np.int64)) * np.asarray(
            self.multiplier, np.int64) + (np.int64(1) << np.int64(self.shift - 1))
        q = self.input_zero_point + (acc >> np.int64(self.shift))
        return np.clip(q, -128, 127).astype(np.int8)

    def _apply_window(self, raw: np.ndarray) -> np.ndarray:
        if raw.ndim < 2:
            raise ValueError(f"window_int preprocessing needs windows [..., W, C], got shape {raw.shape}")
        W = raw.shape[-2]
        if not 1 <= W <= WINDOW_INT_MAX_W or not 1 <= self.shift <= WINDOW_INT_MAX_SHIFT:
            raise ValueError(f"window_int preprocessing: window {W} must be 1..{WINDOW_INT_MAX_W} and shift "
                             f"{self.shift} 1..{WINDOW_INT_MAX_SHIFT}")
        x = raw.astype(np.int64)
        d = W * x - x.sum(axis=-2, keepdims=True)
        R = isqrt64((d * d).sum(axis=-2, keepdims=True) // W)
        R = np.maximum(R, W * np.asarray(self.offset, np.int64))
        num = d * np.asarray(self.multiplier, np.int64) + (R << np.int64(self.shift - 1))
        q = self.input_zero_point + num // (R << np.int64(self.shift))  # floor division, as the C++
        return np.clip(q, -128, 127).astype(np.int8)

    def to_card(self, input_scale: float, counts_per_unit: float) -> dict[str, Any]:
        first = {"min_rms": list(self.offset)} if self.kind == "window_int" else {"offset": list(self.offset)}
        return {"kind": self.kind, **first, "multiplier": list(self.multiplier),
                "shift": self.shift, "input_scale": float(input_scale),
                "input_zero_point": self.input_zero_point, "counts_per_unit": float(counts_per_unit)}
