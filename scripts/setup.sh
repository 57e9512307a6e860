#!/usr/bin/env bash
# Installs everything imuad needs on a fresh Debian/Ubuntu machine (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

mapfile -t pkgs < <(grep -v -E '^\s*(#|$)' scripts/apt-packages.txt)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! $PY -c "import imuad, tensorflow, tflite_micro, bumble, fastapi, selenium, serial" 2>/dev/null; then
  echo "setup: pip install -e '.[all]'"
  $PY -m pip install -q --disable-pip-version-check -e '.[all]'
else
  $PY -m pip install -q --disable-pip-version-check --no-deps -e . >/dev/null
fi
echo "setup: ok"
