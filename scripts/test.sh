#!/usr/bin/env bash
# The README's test command: set up, build every firmware target once, run CTest and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONHASHSEED=0 TF_CPP_MIN_LOG_LEVEL=2 TF_ENABLE_ONEDNN_OPTS=0
mkdir -p artifacts
exec "${IMUAD_VENV:-.venv}/bin/python" -m pytest "$@"
