"""C3: int16 sensor counts -> int8 input tensor, integer only (mirror of `imuad/preprocess.h`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

SHIFT_RANGE = (1, 40)


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
