#!/usr/bin/env bash
# Train the whole model zoo on the three SmartManuAD recordings and write the tables
# (runs/zoo-<name>/zoo.md + zoo.json); docs/zoo.md collects them.
# Long (tens of minutes on 2 cores): a benchmark, not a test. Usage: benchmarks/zoo.sh [extra imuad zoo args]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${IMUAD_SHARED:-../shared}/datasets/smartmanuad"
export TF_CPP_MIN_LOG_LEVEL=2
# CNC: 2 kHz, ~99 k samples -> W=128 (64 ms), hop 64 gives ~1.5 k windows
imuad zoo --data "$DATA/54_CNCMachining.npz" --window 128 --hop 64 --out runs/zoo-cnc "$@"
# UCI: 12 k samples -> hop 8 for ~1.5 k windows
imuad zoo --data "$DATA/76_UCIAccelerometer.npz" --window 128 --hop 8 --out runs/zoo-uci "$@"
# Furnace: 4 k samples, injected anomalies mostly 1-4 samples long: with the >=50 % window
# rule only the few longer runs label a window anomalous, so short windows (16, hop 2)
imuad zoo --data "$DATA/68_FurnaceVibration.npz" --window 16 --hop 2 --out runs/zoo-furnace "$@"
python benchmarks/zoo_table.py runs/zoo-cnc runs/zoo-uci runs/zoo-furnace
