"""The contracts of docs/contracts.md, once each, in Python: no TensorFlow, no hardware.

windows (C2) · preprocess (C3) · score (C4) · decision (C5) · card (C6) · frames (C7) ·
ble_payload (C8). Every other part of imuad (training, deployment, targets, gateway,
dashboard) builds on these modules; they import nothing from the rest of the package
except `imuad.errors`.
"""
