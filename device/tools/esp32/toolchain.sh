#!/usr/bin/env bash
# The xtensa-esp32-elf toolchain every ESP32 build uses (the ESP-IDF app, sim/boards/esp32-qemu):
#   device/tools/esp32/toolchain.sh [--shared DIR] [--cache DIR]
# Prints the toolchain root (has bin/) on stdout, what it did on stderr.
#  - an `xtensa-esp32-elf-gcc` already on PATH (e.g. Espressif's own, from ESP-IDF's install.sh)
#    is used as is;
#  - otherwise SHARED/toolchains/xtensa-esp32-elf-gcc12.2.0.tar.xz (built here from Debian's GCC
#    12.2 / binutils 2.40 sources with Espressif's xtensa_esp32 overlay and newlib fork: its
#    README) is checked against its sha256 and unpacked once into CACHE/toolchains/.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARBALL=xtensa-esp32-elf-gcc12.2.0.tar.xz
SHA256=284e498fd8e2d4b7043acaee949a5317b7ce004eb5a8fc5dd903d774c1e34607
SHARED="$SCRIPT_DIR/../../../../shared"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/imuad"
while [ $# -gt 0 ]; do
  case "$1" in
    --shared) SHARED="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    *) echo "toolchain.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if gcc_path="$(command -v xtensa-esp32-elf-gcc 2>/dev/null)"; then
  root="$(cd "$(dirname "$(readlink -f "$gcc_path")")/.." && pwd)"
  echo "toolchain: xtensa-esp32-elf-gcc from PATH: $gcc_path ($("$gcc_path" --version | head -1))" >&2
  echo "$root"
  exit 0
fi
dir="$CACHE/toolchains/xtensa-esp32-elf"
if [ "$(cat "$dir/.imuad-sha256" 2>/dev/null)" != "$SHA256" ]; then
  tarball="$SHARED/toolchains/$TARBALL"
  [ -f "$tarball" ] || { echo "toolchain.sh: no xtensa-esp32-elf-gcc on PATH and no $tarball" >&2; exit 1; }
  echo "toolchain: checking the sha256 of $tarball" >&2
  echo "$SHA256  $tarball" | sha256sum -c --quiet - || { echo "toolchain.sh: sha256 mismatch: $tarball" >&2; exit 1; }
  mkdir -p "$CACHE/toolchains"
  tmp="$(mktemp -d "$CACHE/toolchains.tmp.XXXXXX")"
  tar -xJf "$tarball" -C "$tmp"
  [ -x "$tmp/xtensa-esp32-elf/bin/xtensa-esp32-elf-gcc" ] || { echo "toolchain.sh: unexpected layout of $tarball" >&2; exit 1; }
  echo "$SHA256" > "$tmp/xtensa-esp32-elf/.imuad-sha256"
  rm -rf "$dir.old"; [ -e "$dir" ] && mv "$dir" "$dir.old"
  mv "$tmp/xtensa-esp32-elf" "$dir"; rm -rf "$tmp" "$dir.old"
  echo "toolchain: unpacked into $dir" >&2
fi
echo "toolchain: $dir ($("$dir/bin/xtensa-esp32-elf-gcc" --version | head -1))" >&2
echo "$dir"
