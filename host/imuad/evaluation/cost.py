"""What a model costs on a board, measured: the model folder is loaded into a firmware target
(compiled in or uploaded at run time, C7 MODEL_*), a few windows run, and the board reports per
window its clock around TFLM Invoke (QEMU: SysTick ticks of 40 instructions under -icount
shift=0, so instructions per inference are exact and repeatable) and the arena TFLM used.
Every window is also checked bit for bit against the TFLM Python interpreter.

    from imuad.evaluation.cost import measure_cost
    c = measure_cost(load_model_dir("models/synth"), "qemu-nn")   # c.instructions, c.arena_used
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import targets
from ..contracts.card import ModelDir
from ..errors import ImuadError
from .reference import stream_reference


@dataclass
class Cost:
    model: str
    target: str
    windows: int
    bit_exact: int
    instructions: int | None        # median per inference (None: the target's clock is not instructions)
    infer_ticks: list[int]          # board clock per window (WINDOW_RESULT.infer_us)
    arena_used: int                 # bytes TFLM used, on the target (32-bit pointers on MCUs)
    arena_size: int
    tflite_bytes: int
    model_source: str               # "compiled in" | "uploaded"
    upload_s: float | None
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.windows > 0 and self.bit_exact == self.windows

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def probe_counts(model: ModelDir, n_windows: int, seed: int = 0) -> np.ndarray:
    """int16 counts [T, C] whose preprocessed values (C3) spread over the whole int8 range, for
    any card: the inverse of q = zp + ((raw - offset) * m + 2^(s-1)) >> s."""
    card = model.card
    p = card.preprocess
    n = card.window + card.hop * (n_windows - 1)
    rng = np.random.default_rng(seed)
    q = rng.normal(0, 40, (n, card.n_channels)).clip(-127, 127)
    if p.kind == "window_int":  # each window is scaled by its own RMS: any loud signal spreads
        return np.clip(np.rint(q * 64), -32768, 32767).astype(np.int16)
    mult = np.asarray(p.multiplier, np.float64)
    raw = np.asarray(p.offset, np.float64) + q * 2.0**p.shift / mult
    return np.clip(np.rint(raw), -32768, 32767).astype(np.int16)


def measure_cost(model: ModelDir, target_name: str = "qemu-nn", windows: int = 3, seed: int = 0,
                 **target_opts: Any) -> Cost:
    """Runs `windows` windows of probe_counts on the target (one session, the model provided by
    ReplaySession.provide_model) and checks them against TFLM Python."""
    target = targets.get_target(target_name, **target_opts)
    ok, why = target.available()
    if not ok:
        raise ImuadError(f"target '{target_name}' unavailable: {why}")
    counts = probe_counts(model, windows, seed)
    ref = stream_reference(model, counts)
    t0 = time.monotonic()
    with targets.ReplaySession.open(target) as session:
        name = session.provide_model(model)
        up = session.last_upload
        res = session.replay(counts, model=name, bye=False)
    if res.errors:
        raise ImuadError(f"target '{target_name}': firmware errors while measuring {model.name}: "
                         + "; ".join(str(e) for e in res.errors[:3]))
    ticks = [int(w.infer_us) for w in res.windows]
    exact = int(np.sum(np.all(res.outputs.reshape(len(ticks), -1) == ref.outputs.reshape(len(ref.outputs), -1)
                              [:len(ticks)], axis=1))) if len(ticks) == len(ref.outputs) else 0
    per_tick = getattr(target, "instr_per_tick", None)
    return Cost(model=model.name, target=target_name, windows=len(ticks), bit_exact=exact,
                instructions=int(np.median(ticks)) * per_tick if per_tick and ticks else None, infer_ticks=ticks,
                arena_used=int(res.device_info.arena_used), arena_size=int(res.device_info.arena_size),
                tflite_bytes=len(model.tflite), model_source="uploaded" if up and up.action == "uploaded"
                else "compiled in", upload_s=round(up.seconds, 3) if up and up.action == "uploaded" else None,
                wall_s=round(time.monotonic() - t0, 3))
