"""Recordings, validation, windows, time-block splits, seed dataset rules, synthetic machine."""
from .recording import Recording, auto_counts_per_unit, label_runs, load_recording, save_recording
from .splits import (Block, Normalizer, SplitPlan, Splits, make_splits, plan_split, split_blocks, split_windows,
                     time_block_split)
from .windows import LABEL_RULES, WindowSet, make_windows, n_windows, window_label, window_labels

__all__ = ["Recording", "auto_counts_per_unit", "label_runs", "load_recording", "save_recording",
           "Block", "Normalizer", "SplitPlan", "Splits", "make_splits", "plan_split", "split_blocks",
           "split_windows", "time_block_split",
           "LABEL_RULES", "WindowSet", "make_windows", "n_windows", "window_label", "window_labels"]
