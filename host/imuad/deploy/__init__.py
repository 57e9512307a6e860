"""Deployment: full-int8 quantization, TFLM op check, export (C array, op resolver, ModelSpec,
model card), and the parity matrix across TFLite reference / TFLM / firmware engines.

Modules: flatbuffer (read/check .tflite), tflm_ops (what TFLM can run), lstm_fuse (Keras LSTM ->
fused TFLM LSTM), quantize, calibrate (C4/C5 constants), interpreters, export, engines
(registry for parity), parity, commands (CLI)."""
