"""C4: the int32 score of a window from the model's int8 output (mirror of `imuad/score.h`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

INT32_MAX = 2**31 - 1
KINDS = ("class_prob", "recon_error")


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
