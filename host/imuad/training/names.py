"""Architecture names, importable without TensorFlow (the CLI parser uses them)."""
from __future__ import annotations

ARCHITECTURES: tuple[str, ...] = ("spectral", "cnn", "cnn_lstm", "cnn_gru", "transformer", "autoencoder",
                                  "spectral_gauss", "classical")
SUPERVISED = ("spectral", "cnn", "cnn_lstm", "cnn_gru", "transformer")
#: trained on normal windows only (labels, where present, pick those windows and evaluate)
NORMAL_ONLY = ("autoencoder", "spectral_gauss")
DEEP = SUPERVISED + NORMAL_ONLY
#: each window scaled by its own mean and RMS (C3 window_int) instead of the train statistics
WINDOW_NORMALISED = ("spectral_gauss",)
#: normal-only distances whose int8 calibration adds label-free probe windows (zoo.range_probes)
RANGE_PROBED = ("spectral_gauss",)
