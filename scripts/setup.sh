#!/usr/bin/env bash
# Installs everything imuad needs on a fresh Debian/Ubuntu machine (idempotent, fast when
# nothing changed): the Debian packages of scripts/apt-packages.txt, then a project virtual
# environment .venv/ (PEP 668: the distribution's Python refuses pip outside a venv) with
# `pip install -e '.[all]'`, keyed on pyproject.toml and the interpreter.
#   PYTHON=/path/to/python3   base interpreter for the venv (default: python3 on PATH)
#   IMUAD_VENV=DIR            venv folder (default: .venv in the checkout)
#   IMUAD_SKIP_SPACE_CHECK=1  install even with less than 4 GB free for the venv (1 GB in TMPDIR)
# Afterwards: `. .venv/bin/activate` puts `imuad` and `pytest` on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

mapfile -t pkgs < <(grep -v -E '^\s*(#|$)' scripts/apt-packages.txt)
mapfile -t missing < <(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null \
  | awk '$NF=="installed"{print $1}' | sort | comm -13 - <(printf '%s\n' "${pkgs[@]}" | sort))
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
VENV=${IMUAD_VENV:-.venv}
base=$(command -v "$PY") || { echo "setup: '$PY' not found" >&2; exit 1; }
# The stamp names everything the install depends on; equal stamp = nothing to do.
stamp="$(sha256sum pyproject.toml | cut -c1-64) $(readlink -f "$base") $(pwd)"
if [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/imuad" ] && [ "$(cat "$VENV/.imuad-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "setup: ok ($VENV up to date)"
  exit 0
fi
# Say so before pip fails half-way with "No space left on device": the venv holds TensorFlow
# (about 2.6 GB in all), pip unpacks wheels in TMPDIR, the firmware builds take about 1.5 GB.
if [ "${IMUAD_SKIP_SPACE_CHECK:-0}" != 1 ]; then
  mkdir -p "$VENV"
  for spec in "$VENV:4" "${TMPDIR:-/tmp}:1"; do
    dir=${spec%:*} need_gb=${spec##*:}
    free_kb=$(df -Pk "$dir" 2>/dev/null | awk 'NR == 2 {print $4}')
    if [ -n "$free_kb" ] && [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
      echo "setup: only $((free_kb / 1024)) MB free for $dir ($(df -P "$dir" | awk 'NR == 2 {print $6}')); installing needs about ${need_gb} GB there" >&2
      echo "setup: free some space, or put the venv on a larger disk (IMUAD_VENV=DIR; TMPDIR for pip's unpacking); IMUAD_SKIP_SPACE_CHECK=1 skips this check" >&2
      exit 1
    fi
  done
fi
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.imuad-base" 2>/dev/null)" != "$(readlink -f "$base")" ]; then
  echo "setup: creating $VENV with $base"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" || { echo "setup: '$PY -m venv' failed: apt-get install python3-venv" >&2; exit 1; }
  readlink -f "$base" > "$VENV/.imuad-base"
fi
echo "setup: pip install -e '.[all]' into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[all]'
echo "$stamp" > "$VENV/.imuad-stamp"
echo "setup: ok"
