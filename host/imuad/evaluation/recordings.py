"""Which samples a model is checked on: the card's recording (made again if it was synthetic),
split into the same time blocks as in training, as windows (parity) or as streams (replay)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..contracts.card import ModelCard
from ..contracts.windows import WindowSet, make_windows
from ..data.recording import Recording, load_recording, save_recording
from ..data.splits import SPLITS, SplitPlan, make_splits, split_blocks
from ..errors import ImuadError
from ..paths import REPO_ROOT

SPLIT_CHOICES = (*SPLITS, "all")


def resolve_recording(card: ModelCard, recording: str | Path | None) -> Path:
    """The recording given, else the card's dataset (regenerated when it was `imuad synth` output)."""
    if recording is not None:
        path = Path(recording)
        if not path.is_file():
            raise ImuadError(f"{recording}: no such recording")
        return path
    ds = card.dataset
    if not ds.get("path"):
        raise ImuadError(f"{card.path}: the card names no dataset; pass --recording FILE")
    path = Path(ds["path"])
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    if not path.is_file() and ds.get("synth"):
        path = regenerate_synth(ds["synth"], path)
    if not path.is_file():
        raise ImuadError(f"the card's dataset {ds['path']} is not here; pass --recording FILE")
    return path


def regenerate_synth(spec: dict, path: Path) -> Path:
    """The synthetic recording of a card, made again (deterministic for a preset and seed)."""
    from ..data.synth import PRESETS, synth_machine
    cfg = PRESETS[spec.get("preset", "default")](seed=int(spec.get("seed", 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_recording(synth_machine(cfg), path)
    return path


def load_for(card: ModelCard, recording: str | Path | None, check_sha: bool = True) -> Recording:
    path = resolve_recording(card, recording)
    rec = load_recording(path)
    if rec.n_channels != card.n_channels:
        raise ImuadError(f"{path}: {rec.n_channels} channels, model '{card.name}' expects {card.n_channels} "
                         f"({', '.join(card.channels)})")
    if recording is None and check_sha and card.dataset.get("sha256") and rec.sha256() != card.dataset["sha256"]:
        if not card.dataset.get("synth"):
            raise ImuadError(f"{path}: its content's SHA-256 differs from the card's dataset (the recording changed)")
        # remade by the generator: another CPU's libm may round a sample differently
        print(f"imuad: note: {path} (remade by `imuad synth`) differs from the training recording's SHA-256; "
              f"parity compares engines on these samples all the same", file=sys.stderr)
    return rec


def plan_of(card: ModelCard) -> SplitPlan:
    """The split the model was trained with (C2: mode, label rule, fractions)."""
    return SplitPlan.from_dict(dict(card.split))


def load_windows(card: ModelCard, recording: str | Path | None = None, split: str = "test",
                 max_windows: int | None = None) -> tuple[WindowSet, Path]:
    """Windows of one split (each block its own stream) or of the whole recording ("all")."""
    if split not in SPLIT_CHOICES:
        raise ImuadError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
    if max_windows is not None and max_windows < 1:
        raise ImuadError(f"--max-windows must be >= 1, got {max_windows}")
    rec = load_for(card, recording)
    plan = plan_of(card)
    if split == "all":
        ws = make_windows(rec.counts(card.counts_per_unit), rec.y, card.window, card.hop,
                          rule=plan.label_rule)
    else:
        ws = make_splits(rec, card.window, card.hop, card.counts_per_unit, plan.fractions, mode=plan)[split]
    if max_windows is not None and max_windows < len(ws):
        ws = ws.subset(np.arange(max_windows))
    if len(ws) == 0:
        raise ImuadError(f"{rec.path}: the {split} split has no window of {card.window} samples "
                         f"({rec.n_samples} samples in the recording)")
    return ws, Path(rec.path)


def segments(card: ModelCard, recording: str | Path, split: str | None = None,
             max_samples: int | None = None) -> tuple[Recording, list[tuple[int, np.ndarray]]]:
    """(first sample, int16 counts) of every stretch to replay: the whole file, or each block of a split."""
    if max_samples is not None and max_samples < 1:
        raise ImuadError(f"--max-samples must be >= 1, got {max_samples}")
    rec = load_for(card, recording)
    counts = rec.counts(card.counts_per_unit)
    if split in (None, "all"):
        segs = [(0, counts)]
    else:
        if split not in SPLITS:
            raise ImuadError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
        blocks = split_blocks(plan_of(card), rec.y, rec.n_samples, card.window)
        segs = [(b.start, counts[b.start:b.stop]) for b in blocks if b.split == split and len(b) >= card.window]
        if not segs:
            raise ImuadError(f"{recording}: split '{split}' has no block of at least {card.window} samples")
    if max_samples:
        segs = [(first, c[:max_samples]) for first, c in segs[:1]]
    return rec, segs
