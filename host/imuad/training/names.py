"""Architecture names, importable without TensorFlow (the CLI parser uses them)."""
from __future__ import annotations

ARCHITECTURES: tuple[str, ...] = ("spectral", "cnn", "cnn_lstm", "cnn_gru", "transformer", "autoencoder",
                                  "classical")
SUPERVISED = ("spectral", "cnn", "cnn_lstm", "cnn_gru", "transformer")
DEEP = SUPERVISED + ("autoencoder",)
