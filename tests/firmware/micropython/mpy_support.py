"""Helpers of the MicroPython tests: the unix-port binary with the imuad module, the models
(committed models/* and the core's small fixture models), a recording per model, and the host
reference (imuad.evaluation.reference: TFLM Python + the integer contracts) of every window."""
from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imuad.paths import REPO_ROOT
from imuad.contracts.card import load_model_dir
from imuad.evaluation.reference import stream_reference

MP_DIR = Path(__file__).parent / "mp"
MAX_SAMPLES = 40_000  # enough windows (hundreds) and events, a few seconds of CI


def run_mpy(mpy: Path, script: Path, *args: str, heap: str = "2m", timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(mpy), "-X", f"heapsize={heap}", str(script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)
    return proc


def model_dirs() -> list[Path]:
    dirs = sorted(p.parent for p in (REPO_ROOT / "models").glob("*/model_card.json"))
    dirs += sorted(p.parent for p in (REPO_ROOT / "tests/firmware/fixtures/models").glob("*/model_card.json"))
    return [d for d in dirs if (d / "model.tflite").is_file()]


def synthetic_counts(n: int, channels: int, seed: int) -> np.ndarray:
    """The fixture models' own stream (quiet and loud stretches; for cards without a recording)."""
    spec = importlib.util.spec_from_file_location("make_fixture_models",
                                                  REPO_ROOT / "tests/firmware/fixtures/make_fixture_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.synthetic_counts(n, channels, seed)


def recording_counts(card: dict, model_dir: Path) -> np.ndarray:
    """The card's own recording (C1 counts) when it is here, else a seeded synthetic stream."""
    from imuad.errors import ImuadError
    from imuad.evaluation.recordings import load_for
    try:
        rec = load_for(load_model_dir(model_dir).card, None)
        counts = rec.counts(float(card["dataset"]["counts_per_unit"]))
    except ImuadError:  # fixture models carry no dataset
        counts = synthetic_counts(12_000, len(card["channels"]), seed=7)
    return np.ascontiguousarray(counts[:MAX_SAMPLES].astype("<i2"))


@dataclass
class Reference:
    outputs: np.ndarray   # int8 [N, n_out]
    scores: list[int]
    states: list[int]
    events: list[tuple[int, int, int]]


def host_reference(model_dir: Path, counts: np.ndarray) -> Reference:
    ref = stream_reference(load_model_dir(model_dir), counts)
    return Reference(ref.outputs, [int(v) for v in ref.scores], ref.states, ref.events)
