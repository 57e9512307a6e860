"""Recordings, validation, time-block splits, seed dataset rules, synthetic machine (the
window maths they use is contract C2: `imuad.contracts.windows`)."""
from .recording import Recording, auto_counts_per_unit, label_runs, load_recording, save_recording
from .splits import (Block, Normalizer, SplitPlan, Splits, make_splits, plan_split, split_blocks, split_windows,
                     time_block_split)

__all__ = ["Recording", "auto_counts_per_unit", "label_runs", "load_recording", "save_recording",
           "Block", "Normalizer", "SplitPlan", "Splits", "make_splits", "plan_split", "split_blocks",
           "split_windows", "time_block_split"]
