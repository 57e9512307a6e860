#!/usr/bin/env bash
# The README's main job: set up, then synthesise -> train -> quantize -> parity -> emulator -> report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONHASHSEED=0 TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}" TF_ENABLE_ONEDNN_OPTS=0
exec "${IMUAD_VENV:-.venv}/bin/imuad" demo --out "${IMUAD_DEMO_OUT:-runs/demo}" "$@"
