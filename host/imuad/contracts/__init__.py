"""The contracts of docs/contracts.md, once each, in Python: no TensorFlow, no hardware.

windows (C2) · preprocess (C3) · score (C4) · decision (C5) · card (C6) · frames (C7) ·
ble_payload (C8) · ranges (the integer and float widths every interface checks its numbers
against). Every other part of imuad (training, deployment, targets, gateway, dashboard)
builds on these modules; they import nothing from the rest of the package except
`imuad.errors`. decision, ranges and ble_payload import no numpy either: the gateway and the
dashboard use them on a Raspberry Pi.
"""
