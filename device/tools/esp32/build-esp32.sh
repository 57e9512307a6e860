#!/usr/bin/env bash
# Offline build of the imuad ESP-IDF firmware (device/) for the esp32 (Xtensa LX6).
#
#   device/tools/esp32/build-esp32.sh [options] [-- extra idf.py args]
#     --checkout DIR   imuad checkout (default: this script's checkout)
#     --shared DIR     ../shared of the machine: vendor/ + toolchains/ (default: CHECKOUT/../shared)
#     --cache DIR      where the toolchain is unpacked (default: ${XDG_CACHE_HOME:-~/.cache}/imuad)
#     --build DIR      build folder (default: CHECKOUT/build/idf-esp32): esp-idf/ (writable ESP-IDF),
#                      app/ (the idf.py build dir, sdkconfig, images), size*.txt, image-info*.txt
#     --jobs N         parallel compile jobs (default 2)
#     --clean          fresh set-target + build (the app/ folder is deleted first)
#     --no-report      skip esptool image-info and esp-idf-size after the build
#
# What it does (each step is skipped when already done, so a re-run is a no-change rebuild):
#  1. Toolchain (toolchain.sh): an `xtensa-esp32-elf-gcc` already on PATH (e.g. Espressif's
#     esp-16.1.0 from install.sh, or one made by build-toolchain.sh) as is, else the self-built
#     GCC 12.2 one unpacked into CACHE/toolchains/ after a sha256 check. Decided from the compiler:
#     GCC < 14 lacks -std=gnu23/-std=gnu++26, so the toolchain's `idf-compat-bin/` -std wrappers
#     go first on PATH (GCC 14 and later: none); a toolchain without picolibc (`-print-file-name=
#     picolibc.specs` finds none: the self-built ones) gets device/tools/esp32/sdkconfig.gcc12-newlib
#     (CONFIG_LIBC_NEWLIB=y, no nano).
#     device/tools/esp32/sdkconfig.offline-idf is added in any case (settings the older vendored
#     submodules need).
#  2. Python venv for ESP-IDF (tools/requirements/requirements.core.txt from PyPI, incl.
#     esp-idf-size), shared with `imuad build idflinux`: CHECKOUT/build/idf-venv (or $IDF_VENV).
#  3. Writable ESP-IDF in BUILD/esp-idf: a symlink farm (`cp -as`) of the read-only, pruned
#     SHARED/vendor/esp-idf, with the missing submodules linked in from SHARED/vendor and the
#     patches of device/tools/esp32/patches/ applied to real copies of the files they touch.
#     Rebuilt only when this script, a patch or the vendor paths change (stamp file).
#  4. idf.py set-target esp32 (first time / --clean) and build, -j JOBS, niced.
#  5. esptool image-info of the three images, esp-idf-size summary and per-component table.
# Never writes outside BUILD, CACHE and the venv; never downloads anything but PyPI packages.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FARM_VERSION=3   # bump when the farm layout below changes
IDF_TARGET_CHIP=esp32

CHECKOUT="$(cd "$SCRIPT_DIR/../../.." && pwd)"
SHARED=""
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/imuad"
BUILD=""
JOBS=2
CLEAN=0
REPORT=1
EXTRA_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --checkout) CHECKOUT="$(cd "$2" && pwd)"; shift 2 ;;
    --shared) SHARED="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --clean) CLEAN=1; shift ;;
    --no-report) REPORT=0; shift ;;
    --) shift; EXTRA_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "build-esp32: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
SHARED="$(cd "${SHARED:-$CHECKOUT/../shared}" 2>/dev/null && pwd)" || {
  echo "build-esp32: shared folder not found (expected $CHECKOUT/../shared, or --shared DIR)" >&2; exit 1; }
BUILD="${BUILD:-$CHECKOUT/build/idf-esp32}"
mkdir -p "$BUILD" "$CACHE"
BUILD="$(cd "$BUILD" && pwd)"
CACHE="$(cd "$CACHE" && pwd)"
VENDOR="$SHARED/vendor"
PATCHES="$SCRIPT_DIR/patches"
APP="$BUILD/app"
T0=$(date +%s)
log() { echo "[build-esp32 +$(( $(date +%s) - T0 ))s] $*"; }
die() { echo "build-esp32: $*" >&2; exit 1; }
[ -f "$CHECKOUT/device/CMakeLists.txt" ] || die "no device/CMakeLists.txt in $CHECKOUT"
[ -f "$VENDOR/esp-idf/tools/idf.py" ] || die "no ESP-IDF at $VENDOR/esp-idf"

# ---------------------------------------------------------------- 1. toolchain
TC_ROOT="$(bash "$SCRIPT_DIR/toolchain.sh" --shared "$SHARED" --cache "$CACHE")" || die "no toolchain"
TC_GCC="$TC_ROOT/bin/xtensa-esp32-elf-gcc"
TC_GCC_VERSION="$("$TC_GCC" -dumpfullversion 2>/dev/null || "$TC_GCC" -dumpversion)"
if [ "${TC_GCC_VERSION%%.*}" -lt 14 ]; then
  # ESP-IDF v6.2 passes -std=gnu23 / -std=gnu++26, which GCC < 14 lacks: the self-built GCC 12
  # tarball's idf-compat-bin/ wrappers (mapping them to gnu2x / gnu++2b) go first on PATH
  [ -d "$TC_ROOT/idf-compat-bin" ] ||
    die "GCC $TC_GCC_VERSION lacks -std=gnu23/-std=gnu++26 and $TC_ROOT has no idf-compat-bin/ wrappers"
  export PATH="$TC_ROOT/idf-compat-bin:$TC_ROOT/bin:$PATH"
  TC_WRAPPERS="with the idf-compat-bin -std wrappers"
else
  export PATH="$TC_ROOT/bin:$PATH"
  TC_WRAPPERS="no -std wrappers"
fi
# sdkconfig defaults of this build environment, after the project's (device/CMakeLists.txt)
IMUAD_SDKCONFIG_DEFAULTS="$SCRIPT_DIR/sdkconfig.offline-idf"
if [ "$("$TC_GCC" -print-file-name=picolibc.specs)" = picolibc.specs ]; then
  # no picolibc (ESP-IDF v6's default libc) in the toolchain, as in the self-built ones (GCC 12 or
  # 14, device/tools/esp32/build-toolchain.sh): newlib, without newlib-nano
  IMUAD_SDKCONFIG_DEFAULTS="$IMUAD_SDKCONFIG_DEFAULTS:$SCRIPT_DIR/sdkconfig.gcc12-newlib"
  TC_LIBC="newlib (no picolibc in the toolchain)"
else
  TC_LIBC="picolibc available"
fi
log "toolchain: $TC_ROOT (GCC $TC_GCC_VERSION, $TC_WRAPPERS, $TC_LIBC)"
export IMUAD_SDKCONFIG_DEFAULTS
# ESP-IDF v6.2 wants toolchain esp-16.1.0_20260609: any other is only a warning with this set
export IDF_MAINTAINER=1

# ---------------------------------------------------------------- 2. venv
export IDF_PYTHON_ENV_PATH="${IDF_VENV:-$CHECKOUT/build/idf-venv}"
if [ ! -x "$IDF_PYTHON_ENV_PATH/bin/python" ] || [ ! -f "$IDF_PYTHON_ENV_PATH/.imuad-ok" ]; then
  log "venv: creating $IDF_PYTHON_ENV_PATH from ESP-IDF requirements.core.txt (PyPI)"
  python3 -m venv "$IDF_PYTHON_ENV_PATH"
  "$IDF_PYTHON_ENV_PATH/bin/pip" install -q --disable-pip-version-check \
    -r "$VENDOR/esp-idf/tools/requirements/requirements.core.txt" 2>&1 | { grep -v "is ignored: it is neither" || true; }
  touch "$IDF_PYTHON_ENV_PATH/.imuad-ok"
fi

# ---------------------------------------------------------------- 3. writable ESP-IDF
IDF="$BUILD/esp-idf"
# submodule path in ESP-IDF -> folder in SHARED/vendor
SUBMODULES=(
  "components/bt/controller/lib_esp32:esp32-bt-lib"
  "components/esp_phy/lib:esp-phy-lib"
  "components/esp_coex/lib:esp-coex-lib"
  "components/heap/tlsf:tlsf"
  "components/bt/host/nimble/nimble:esp-nimble"
  "components/bootloader/subproject/components/micro-ecc/micro-ecc:micro-ecc"
)
stamp="$( { echo "$FARM_VERSION $VENDOR"; printf '%s\n' "${SUBMODULES[@]}"; cat "$PATCHES"/*.patch; } | sha256sum | cut -c1-16)"
if [ "$(cat "$IDF/.imuad-farm" 2>/dev/null)" != "$stamp" ]; then
  log "esp-idf: assembling the writable ESP-IDF (symlink farm) in $IDF"
  rm -rf "$IDF" "$APP"   # the app was configured against the old farm
  cp -as "$VENDOR/esp-idf" "$IDF"
  for s in "${SUBMODULES[@]}"; do
    path="${s%%:*}"; src="$VENDOR/${s#*:}"
    [ -d "$src" ] || die "missing $src (submodule $path)"
    rm -rf "${IDF:?}/$path"
    cp -as "$src" "$IDF/$path"
  done
  chmod -R u+w "$IDF"   # dirs only matter (symlinks have no own mode)
  # The pruning dropped this (empty in upstream too, but listed as an include dir)
  mkdir -p "$IDF/components/esp_hw_support/include/soc"
  for p in "$PATCHES"/*.patch; do
    # files the patch touches become real, writable copies; new files are created by patch
    grep '^+++ b/' "$p" | sed 's|^+++ b/||; s|\t.*$||' | while read -r f; do
      if [ -L "$IDF/$f" ]; then cp --remove-destination "$(readlink -f "$IDF/$f")" "$IDF/$f"; chmod u+w "$IDF/$f"; fi
    done
    patch -d "$IDF" -p1 --forward --batch --quiet < "$p" || die "patch failed: $p"
  done
  echo "$stamp" > "$IDF/.imuad-farm"
  log "esp-idf: $(find "$IDF" -type l | wc -l) links, $(find "$IDF" -type f | wc -l) patched/added files"
fi

# ---------------------------------------------------------------- 4. build
export IDF_PATH="$IDF"
export IDF_SKIP_CHECK_SUBMODULES=1
export IDF_PYTHON_CHECK_CONSTRAINTS=0
export ESP_IDF_VERSION=6.2
export IDF_COMPONENT_MANAGER=0   # every dependency is local (device/CMakeLists.txt)
export IDF_PY_BUILD_JOBS="$JOBS"
export PATH="$IDF_PYTHON_ENV_PATH/bin:$IDF/tools:$PATH"
IDFPY=(nice -n 10 python "$IDF/tools/idf.py" -C "$CHECKOUT/device" -B "$APP" -DSDKCONFIG="$APP/sdkconfig")
# a build dir configured with another compiler (or another farm) cannot be reused
tc_id="$(command -v xtensa-esp32-elf-gcc) $(xtensa-esp32-elf-gcc --version | head -1)"
if [ "$CLEAN" = 1 ] || [ "$(cat "$BUILD/.imuad-toolchain" 2>/dev/null)" != "$tc_id" ]; then
  rm -rf "$APP"
fi
mkdir -p "$BUILD"; echo "$tc_id" > "$BUILD/.imuad-toolchain"
if [ ! -f "$APP/CMakeCache.txt" ] || ! grep -q "^IDF_TARGET:STRING=$IDF_TARGET_CHIP$" "$APP/CMakeCache.txt"; then
  log "idf.py set-target $IDF_TARGET_CHIP"
  ts=$(date +%s)
  "${IDFPY[@]}" set-target "$IDF_TARGET_CHIP" > "$BUILD/set-target.log" 2>&1 || {
    tail -40 "$BUILD/set-target.log"; die "set-target failed (log: $BUILD/set-target.log)"; }
  log "set-target done in $(( $(date +%s) - ts )) s (log: $BUILD/set-target.log)"
fi
log "idf.py build (-j$JOBS, load: $(cut -d' ' -f1-3 /proc/loadavg))"
ts=$(date +%s)
"${IDFPY[@]}" "${EXTRA_ARGS[@]}" build > "$BUILD/build.log" 2>&1 || {
  grep -E "error|FAILED|overflow|does not fit|too small" "$BUILD/build.log" | head -40
  die "build failed (log: $BUILD/build.log)"; }
log "build done in $(( $(date +%s) - ts )) s (log: $BUILD/build.log)"
grep -E "binary size|partition|bytes\. Smallest app partition" "$BUILD/build.log" | sed 's/^/  /' || true

# ---------------------------------------------------------------- 5. report
if [ "$REPORT" = 1 ]; then
  esptool=(python -m esptool)
  for img in "$APP/bootloader/bootloader.bin" "$APP/imuad_device.bin"; do
    name="$(basename "$img" .bin)"
    "${esptool[@]}" --chip "$IDF_TARGET_CHIP" image-info "$img" > "$BUILD/image-info-$name.txt" 2>&1 ||
      die "esptool image-info failed on $img (see $BUILD/image-info-$name.txt)"
    log "image-info $name: $(grep -iE "checksum|validation hash" "$BUILD/image-info-$name.txt" | tr '\n' ' ')"
  done
  python "$IDF/components/partition_table/gen_esp32part.py" "$APP/partition_table/partition-table.bin" \
    > "$BUILD/partition-table.csv" 2>&1 || die "partition table unreadable"
  log "partition table: $(grep -v '^#' "$BUILD/partition-table.csv" | tr '\n' ' ')"
  # esp-idf-size straight on the link map (what `idf.py size` / `size-components` run)
  COLUMNS=200 python -m esp_idf_size "$APP/imuad_device.map" > "$BUILD/size.txt" 2>&1 || true
  COLUMNS=200 python -m esp_idf_size --archives "$APP/imuad_device.map" > "$BUILD/size-components.txt" 2>&1 || true
  sed -n '/Memory Type Usage Summary/,$p' "$BUILD/size.txt" | head -20
  # nothing of the mbedtls stub (device/idf_stubs/mbedtls) may survive in the image
  stub_syms="$(xtensa-esp32-elf-nm "$APP/imuad_device.elf" | grep -E ' (psa_|mbedtls_)' || true)"
  if [ -n "$stub_syms" ]; then
    echo "$stub_syms" | sed 's/^/  /'
    log "WARNING: mbedtls/PSA symbols in the image (stub functions reachable?): see above"
  else
    log "mbedtls stub: no psa_*/mbedtls_* symbol in imuad_device.elf (all garbage-collected)"
  fi
  log "sizes: $BUILD/size.txt, $BUILD/size-components.txt"
fi
log "done: $APP/bootloader/bootloader.bin $APP/partition_table/partition-table.bin $APP/imuad_device.bin"
