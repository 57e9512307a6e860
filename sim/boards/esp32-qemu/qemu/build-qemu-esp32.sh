#!/bin/bash
# Build qemu-system-xtensa with an `esp32` CPU core (Espressif's xtensa_esp32 configuration,
# imported with QEMU's own target/xtensa/import_core.sh) from Debian's QEMU 7.2 source.
#
#   build-qemu-esp32.sh QEMU_SRC_DIR|--fetch OUT_DIR [OVERLAY_DIR]
#
# QEMU_SRC_DIR: an unpacked QEMU 7.2 tree (e.g. `apt-get source qemu` on Debian 12; copied,
#               never modified). --fetch: download Debian 12's qemu source package (deb-src of
#               bookworm, bookworm-updates, bookworm-security through a private apt config in
#               OUT_DIR; the system's apt sources are not touched) and unpack it with dpkg-source
#               (needs dpkg-dev). OUT_DIR gets build/ and bin/qemu-system-xtensa.
# OVERLAY_DIR:  Espressif xtensa-overlays checkout (default: ../shared/vendor/xtensa-overlays
#               beside the project). core-matmap.h, absent from the overlay, comes from
#               ESP-IDF's components/xtensa/esp32/include (same Tensilica build 0x5fe96).
# Needs: gcc, ninja, meson, pkg-config, python3, libglib2.0-dev, libpixman-1-dev, zlib1g-dev
# (Debian: apt-get install meson libglib2.0-dev libpixman-1-dev zlib1g-dev; --fetch: dpkg-dev).
#
# Only the xtensa-softmmu target, only the `sim` machine and only two cores (esp32 and the
# machine's default dc232b) are compiled; everything optional is off.
# The core clock is set to 1 GHz (import_core.sh's frequency argument, in kHz): under
# `-icount shift=0` (1 instruction = 1 ns of virtual time) CCOUNT then counts instructions.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,30p' "$0"; exit 2; }
OUT=$(readlink -f "$2")
mkdir -p "$OUT"
if [ "$1" = "--fetch" ]; then
  A="$OUT/apt"
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$OUT/debian-src"
  k=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "deb-src [signed-by=$k] http://deb.debian.org/debian bookworm main"
    echo "deb-src [signed-by=$k] http://deb.debian.org/debian bookworm-updates main"
    echo "deb-src [signed-by=$k] http://deb.debian.org/debian-security bookworm-security main"
  } > "$A/sources.list"
  cat > "$A/apt.conf" <<APT
Dir::Etc::SourceList "$A/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$A/lists";
Dir::Cache "$A/cache";
APT
  export APT_CONFIG="$A/apt.conf"
  apt-get update -qq
  (cd "$OUT/debian-src" && apt-get source -qq --download-only qemu)
  dsc=$(ls "$OUT"/debian-src/qemu_7.2*.dsc | sort -V | tail -1)
  rm -rf "$OUT/debian-src/qemu-7.2"
  dpkg-source -x "$dsc" "$OUT/debian-src/qemu-7.2" > "$OUT/dpkg-source.log"
  SRC="$OUT/debian-src/qemu-7.2"
  echo "QEMU source: $(basename "$dsc")"
else
  SRC=$(readlink -f "$1")
fi
HERE=$(cd "$(dirname "$0")" && pwd)
VENDOR=$(readlink -f "$HERE/../../../../../shared/vendor" 2>/dev/null || true)
OVERLAY=${3:-$VENDOR/xtensa-overlays}
OV="$OVERLAY/xtensa_esp32"
MATMAP=${IMUAD_ESP32_MATMAP:-$VENDOR/esp-idf/components/xtensa/esp32/include/xtensa/config/core-matmap.h}
JOBS=${JOBS:-2}
FREQ_KHZ=1000000

[ -f "$SRC/target/xtensa/import_core.sh" ] || { echo "not a QEMU source tree: $SRC" >&2; exit 2; }
[ -f "$OV/binutils/bfd/xtensa-modules.c" ] || { echo "no xtensa_esp32 overlay in $OVERLAY" >&2; exit 2; }
[ -f "$MATMAP" ] || { echo "core-matmap.h not found ($MATMAP)" >&2; exit 2; }

T="$OUT/src"
rm -rf "$T" "$OUT/build"
cp -a "$SRC" "$T"

# 1. the overlay archive in the layout import_core.sh reads
ovl="$OUT/overlay"
rm -rf "$ovl"; mkdir -p "$ovl/xtensa/config" "$ovl/gdb" "$ovl/binutils"
cp "$OV/newlib/newlib/libc/sys/xtensa/include/xtensa/config/core-isa.h" "$ovl/xtensa/config/"
cp "$MATMAP" "$ovl/xtensa/config/core-matmap.h"
cp "$OV/gdb/gdb/xtensa-config.c" "$ovl/gdb/"
cp "$OV/binutils/bfd/xtensa-modules.c" "$ovl/binutils/"
tar -C "$ovl" -czf "$OUT/xtensa_esp32-overlay.tar.gz" xtensa gdb binutils

# 2. import; then name the opcode translators: import_core.sh leaves the core with only the
# base ISA's (no FPU). The ESP32's FPU is the pre-DFPU "FP coprocessor" (XCHAL_HAVE_DFP=0),
# whose QEMU model is xtensa_fpu2000_opcodes; it lacks the divide/sqrt step instructions the
# ESP32 also has (FP_DIV/FP_SQRT/FP_RECIP/FP_RSQRT: div0.s, nexp01.s, const.s, maddn.s,
# mkdadj.s, addexp(m).s, divn.s, sqrt0.s, ... that libgcc's __divsf3 uses), so those fall
# through to xtensa_fpu_opcodes, which models each such sequence as one IEEE operation
# (mkdadj.s divides, addexpm.s moves the result, the rest are no-ops): same instruction
# count, correctly rounded result, as the hardware sequence is designed to give.
# (import_core.sh prints "grep: core-esp32.c: No such file or directory": its cores.list check
# passes the name to grep -f; harmless, cores.list is rewritten below anyway)
(cd "$T" && bash target/xtensa/import_core.sh "$OUT/xtensa_esp32-overlay.tar.gz" esp32 $FREQ_KHZ)
python3 - "$T/target/xtensa/core-esp32.c" <<'PY'
import sys, re
p = sys.argv[1]
s = open(p).read()
s = s.replace("    DEFAULT_SECTIONS\n",
              "    .opcode_translators = (const XtensaOpcodeTranslators *[]){\n"
              "        &xtensa_core_opcodes,\n"
              "        &xtensa_fpu2000_opcodes,\n"
              "        &xtensa_fpu_opcodes,\n"
              "        NULL,\n"
              "    },\n"
              "    DEFAULT_SECTIONS\n", 1)
assert "xtensa_fpu2000_opcodes" in s
open(p, "w").write(s)
PY
# The ESP32 ties STATVECTORSEL high: it resets to RESET_VECTOR1 (0x40000400, in its ROM).
# QEMU's sim machine always takes static vector 0 (0x50000000 in this configuration), so
# make vector 0 the ESP32's too.
sed -i -e 's/^#define XCHAL_RESET_VECTOR0_VADDR.*/#define XCHAL_RESET_VECTOR0_VADDR\t0x40000400/' \
       -e 's/^#define XCHAL_RESET_VECTOR0_PADDR.*/#define XCHAL_RESET_VECTOR0_PADDR\t0x40000400/' \
       "$T/target/xtensa/core-esp32/core-isa.h"
grep -q 'RESET_VECTOR0_VADDR.*0x40000400' "$T/target/xtensa/core-esp32/core-isa.h"
printf 'core-dc232b.c\ncore-esp32.c\n' > "$T/target/xtensa/cores.list"
# sim machine only (no xtfpga/virt boards and their devices)
printf 'CONFIG_SEMIHOSTING=y\nCONFIG_XTENSA_SIM=y\n' > "$T/configs/devices/xtensa-softmmu/default.mak"

# 3. configure + build
mkdir -p "$OUT/build"
cd "$OUT/build"
"$T/configure" --target-list=xtensa-softmmu --without-default-features --without-default-devices \
  --disable-docs --disable-tools --disable-werror --disable-fdt --enable-tcg \
  --prefix="$OUT/install" > "$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
ninja -j"$JOBS" qemu-system-xtensa > "$OUT/ninja.log" 2>&1 || { tail -40 "$OUT/ninja.log"; exit 1; }
mkdir -p "$OUT/bin"
cp qemu-system-xtensa "$OUT/bin/"
"$OUT/bin/qemu-system-xtensa" -cpu help | grep -qx '  esp32' || { echo "esp32 core missing" >&2; exit 1; }
echo "built $OUT/bin/qemu-system-xtensa"
