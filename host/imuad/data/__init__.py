"""Recordings, validation, windows, time-block splits, seed dataset rules, synthetic machine."""
from .recording import Recording, auto_counts_per_unit, label_runs, load_recording, save_recording
from .splits import Block, Normalizer, make_splits, split_windows, time_block_split
from ..contracts.windows import WindowSet, make_windows, n_windows, window_label

__all__ = ["Recording", "auto_counts_per_unit", "label_runs", "load_recording", "save_recording",
           "Block", "Normalizer", "make_splits", "split_windows", "time_block_split",
           "WindowSet", "make_windows", "n_windows", "window_label"]
