#!/usr/bin/env bash
# Regenerate the committed reference models models/{synth,cnc,ucifan}:
#   train (imuad train) -> quantize (full int8, op check, C3-C5 constants, int8 vs float)
#   -> export (model.tflite, model_data.cc/.h, op_resolver.h, model_config.h, model_card.json)
#   -> parity on the test split (tflite-ref / tflite / tflm [+ firmware targets]) -> card.
# Run folders go to build/model-runs (not committed). About 5 minutes on 2 cores.
# IMUAD_PARITY_TARGETS="host qemu" adds firmware targets to the parity matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}" TF_ENABLE_ONEDNN_OPTS=0 PYTHONHASHSEED=0
RUNS=build/model-runs
DATA=../shared/datasets/smartmanuad
mkdir -p build/recordings "$RUNS"

targets=()
for t in ${IMUAD_PARITY_TARGETS:-}; do targets+=(--target "$t"); done

# name  arch  recording  extra train args  [export args]
make_model() {
  local name=$1 arch=$2 data=$3 train_args=$4 export_args=${5:-}
  local run="$RUNS/$name"
  echo "=== $name: $arch on $data"
  # shellcheck disable=SC2086
  imuad train --data "$data" --arch "$arch" --seed 0 --out "$run" $train_args
  imuad quantize "$run"
  # shellcheck disable=SC2086
  imuad export "$run" --name "$name" $export_args
  imuad parity "models/$name" --split test "${targets[@]}" --update-card
}

# the default device model: CNN on the synthetic bearing/imbalance machine
imuad synth --preset default --seed 0 --out build/recordings/synth_default.npz
make_model synth cnn build/recordings/synth_default.npz "" "--synth default:0"
# Bosch CNC milling (raw counts, 2 kHz): CNN + fused LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM)
make_model cnc cnn_lstm "$DATA/54_CNCMachining.npz" ""
# UCI cooler fan with blade weights: CNN, hop 8 (the recording is short: 12,000 samples)
make_model ucifan cnn "$DATA/76_UCIAccelerometer.npz" "--hop 8"
echo "models regenerated: $(ls -d models/*/ | tr '\n' ' ')"
python -m imuad.deploy.summary
