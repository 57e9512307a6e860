"""Checking a model against the reference: parity matrices, replays on firmware targets
(`imuad sim`, `imuad hil`, `imuad replay`) and their reports. Builds on `imuad.contracts`
(what the firmware must compute), `imuad.deploy.interpreters` (TFLM Python, the reference)
and `imuad.targets` (how bytes reach a firmware)."""
