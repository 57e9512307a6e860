#!/usr/bin/env bash
# The model zoo with `imuad zoo` DEFAULTS (window 128, hop from the recording length, split mode
# chosen from the label runs) on the three SmartManuAD recordings and one synthetic machine,
# seeds 0 1 2, every deep model quantized (--int8 all); then one table, mean and spread over seeds.
# Long (about an hour on 2 shared cores): a benchmark, not a test.
# Usage: benchmarks/zoo.sh [extra imuad zoo args]   (SEEDS="0" for one seed)
set -uo pipefail
cd "$(dirname "$0")/.."
DATA="${IMUAD_SHARED:-../shared}/datasets/smartmanuad"
SEEDS="${SEEDS:-0 1 2}"
IMUAD="${IMUAD:-imuad}"
mkdir -p runs
[ -f runs/synth-s1.npz ] || $IMUAD synth --seed 1 --duration 60 --out runs/synth-s1.npz
dirs=()
for name in 54_CNCMachining 76_UCIAccelerometer 68_FurnaceVibration synth-s1; do
  data="$DATA/$name.npz"; [ "$name" = synth-s1 ] && data=runs/synth-s1.npz
  for seed in $SEEDS; do
    out="runs/zoo-$name-s$seed"
    $IMUAD zoo --data "$data" --seed "$seed" --int8 all --out "$out" "$@" > "$out.log" 2>&1
    echo "$name seed $seed: exit $? ($(python3 -c "import json;print(json.load(open('$out/zoo.json'))['wall_seconds'])") s)"
    dirs+=("$out")
  done
done
PYTHONPATH=host python3 benchmarks/zoo_table.py "${dirs[@]}"
