#!/usr/bin/env bash
# Rebuilds the xtensa-esp32-elf cross toolchain (ESP32, Xtensa LX6) that toolchain.sh unpacks, from
# Debian's binutils/GCC source packages + ../shared/vendor/xtensa-overlays + ../shared/vendor/newlib-esp32.
# Not run in CI (25-60 min on 2 cores). The project's version of
# ../shared/toolchains/build-xtensa-esp32-elf.sh (same stages and configure options).
#
#   device/tools/esp32/build-toolchain.sh [options] [stage...]
#     --gcc 12|14      12: Debian 12 gcc-12-source 12.2.0 + binutils-source 2.40 (what the shared
#                          tarball is; ESP-IDF v6.2 then needs the idf-compat-bin/ -std wrappers)
#                      14: Debian 13 gcc-14-source 14.2.0 + binutils-source 2.44 (takes ESP-IDF v6.2's
#                          -std=gnu23 / -std=gnu++26 as they are: no wrappers)          (default 12)
#     --work DIR       scratch folder: Debian packages, sources, build trees, the install tree
#                      WORK/xtensa-esp32-elf                 (default /tmp/imuad-toolchain-gccN)
#     --out DIR        where xtensa-esp32-elf-gccX.Y.Z.tar.xz and its .sha256 go    (default WORK)
#     --jobs N         make -j (default 2); everything runs under nice -n 19
#     --shared DIR     ../shared of the machine (vendor/xtensa-overlays, vendor/newlib-esp32)
#                                                                    (default CHECKOUT/../shared)
#     --mirror URI     Debian archive to fetch the source packages from (default: the Debian
#                      archive this machine's apt configuration uses)
#     --install-deps   apt-get install the host build dependencies that are missing (otherwise the
#                      script only names them and stops)
#   stages (default: all, in this order; a stage can be re-run alone against the same --work):
#     fetch prep binutils gcc1 newlib gcclibs fixspecs idfcompat check pack
#
# Sources: the Debian binary packages that carry the sources (gcc-N-source, binutils-source) are taken
# from /usr/src when installed in the right version, else fetched with `apt-get download` through a
# private apt configuration in WORK/apt (its own source list, lists and cache: the system's apt
# sources and state are not touched) and unpacked with dpkg -x into WORK/debs/root.
# Writes only under WORK and OUT (and, with --install-deps, installs Debian packages).
#
# Newlib is Espressif's fork (vendor/newlib-esp32, tag esp-4.3.0_20240322; ESP-IDF v6.2 needs its
# libc/sys/esp dirent.h): its newlib/Makefile.in is missing from the vendored copy and is
# regenerated (autoconf 2.69 + automake). One source fix, needed by GCC 14 (which makes implicit
# function declarations errors): sys/unistd.h declares _getentropy() as upstream newlib 4.5 does.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$SCRIPT_DIR/../../.." && pwd)"
TARGET=xtensa-esp32-elf
GCC_MAJOR=12
WORK=""
OUT=""
JOBS=2
SHARED=""
MIRROR=""
INSTALL_DEPS=0
STAGES=()
ALL_STAGES=(fetch prep binutils gcc1 newlib gcclibs fixspecs idfcompat check pack)
while [ $# -gt 0 ]; do
  case "$1" in
    --gcc) GCC_MAJOR="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --shared) SHARED="$2"; shift 2 ;;
    --mirror) MIRROR="$2"; shift 2 ;;
    --install-deps) INSTALL_DEPS=1; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    -*) echo "build-toolchain: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) STAGES+=("$1"); shift ;;
  esac
done
for s in "${STAGES[@]}"; do
  [[ " ${ALL_STAGES[*]} " == *" $s "* ]] || { echo "build-toolchain: unknown stage $s (${ALL_STAGES[*]})" >&2; exit 2; }
done
[ ${#STAGES[@]} -gt 0 ] || STAGES=("${ALL_STAGES[@]}")
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "build-toolchain: --jobs needs a number" >&2; exit 2; }

case "$GCC_MAJOR" in
  12) SUITE=bookworm; GCC_VER=12.2.0; BINUTILS_VER=2.40 ;;   # Debian 12
  14) SUITE=trixie;   GCC_VER=14.2.0; BINUTILS_VER=2.44 ;;   # Debian 13
  *) echo "build-toolchain: --gcc must be 12 or 14" >&2; exit 2 ;;
esac
GCC_PKG=gcc-$GCC_MAJOR-source
NAME=$TARGET-gcc$GCC_VER

WORK="${WORK:-/tmp/imuad-toolchain-gcc$GCC_MAJOR}"
OUT="${OUT:-$WORK}"
mkdir -p "$WORK" "$OUT"
WORK="$(cd "$WORK" && pwd)"; OUT="$(cd "$OUT" && pwd)"
for d in "$WORK" "$OUT"; do
  case "$d" in /|/usr|/usr/*|/etc|/etc/*|/bin|/lib|/var|"$HOME") echo "build-toolchain: refusing to use $d" >&2; exit 2 ;; esac
done
SHARED="$(cd "${SHARED:-$CHECKOUT/../shared}" 2>/dev/null && pwd)" || {
  echo "build-toolchain: shared folder not found (expected $CHECKOUT/../shared, or --shared DIR)" >&2; exit 1; }
OVERLAY="$SHARED/vendor/xtensa-overlays/xtensa_esp32"
NEWLIB_SRC="$SHARED/vendor/newlib-esp32"

S=$WORK/src          # unpacked + patched sources
B=$WORK/build        # build trees
PREFIX=$WORK/$TARGET # install tree = the tarball's top folder
SYSROOT=$PREFIX/$TARGET
DEBS=$WORK/debs
NICE=(nice -n 19)
export PATH="$PREFIX/bin:$PATH"
export LC_ALL=C
T0=$(date +%s)
log() { echo "[build-toolchain $(date -u +%H:%M:%S) +$(( $(date +%s) - T0 ))s] $*"; }
run() { echo "+ $*"; "$@"; }
# runlog LOG cmd...: run cmd with its output in LOG (relative to the current folder); on failure show
# the first errors of LOG and stop
runlog() {
  local logf=$1; shift
  echo "+ $* > $PWD/$logf"
  "$@" > "$logf" 2>&1 && return 0
  echo "--- first errors in $PWD/$logf:"
  grep -m8 -B3 -A10 -E 'error:|Error [0-9]+|\*\*\* ' "$logf" || tail -40 "$logf"
  die "failed: $*"
}
die() { echo "build-toolchain: $*" >&2; exit 1; }

# Flags for the target libraries (libgcc, libstdc++, newlib). -mlongcalls matters on the ESP32:
# flash code (0x400Dxxxx) calling IRAM/ROM can be out of CALL8 range.
TFLAGS="-Os -mlongcalls -ffunction-sections -fdata-sections"
TDEFS="-D_POSIX_READER_WRITER_LOCKS"   # as ESP-IDF compiles (see gcclibs)

HOST_DEPS=(libgmp-dev libmpfr-dev libmpc-dev libisl-dev libzstd-dev zlib1g-dev texinfo flex bison
           autoconf2.69 automake xz-utils make gcc g++ patch)
check_deps() {
  local missing=() p
  for p in "${HOST_DEPS[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$INSTALL_DEPS" = 1 ]; then
    log "installing host build dependencies: ${missing[*]}"
    run apt-get install -y --no-install-recommends "${missing[@]}"
  else
    die "missing host packages: ${missing[*]} (apt-get install them, or pass --install-deps)"
  fi
}

# ------------------------------------------------------------------ fetch
# The Debian archive the private apt configuration reads: --mirror, else the one this machine's apt
# already uses for Debian's main suites.
debian_mirror() {
  if [ -n "$MIRROR" ]; then echo "$MIRROR"; return; fi
  apt-get indextargets --format '$(ORIGIN) $(RELEASE) $(COMPONENT) $(IDENTIFIER) $(REPO_URI)' 2>/dev/null |
    awk '$1=="Debian" && $2 ~ /^[a-z]+$/ && $3=="main" && $4=="Packages" {print $5; exit}'
}

fetch() {
  check_deps
  local gtar="usr/src/gcc-$GCC_MAJOR/gcc-$GCC_VER-dfsg.tar.xz" btar="usr/src/binutils/binutils-$BINUTILS_VER.tar.xz"
  if [ -f "/$gtar" ] && [ -f "/$btar" ] && [ -f "/usr/src/gcc-$GCC_MAJOR/debian/patches/gcc-gfdl-build.diff" ]; then
    log "fetch: using the installed $GCC_PKG and binutils-source (/usr/src)"
    mkdir -p "$DEBS"; ln -sfn / "$DEBS/root"
    return
  fi
  if [ -f "$DEBS/root/$gtar" ] && [ -f "$DEBS/root/$btar" ]; then
    log "fetch: already unpacked in $DEBS/root"; return
  fi
  local mirror; mirror="$(debian_mirror)"
  [ -n "$mirror" ] || die "no Debian archive found in the apt configuration: pass --mirror URI"
  local A=$WORK/apt
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$DEBS"
  cat > "$A/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $SUITE main
EOF
  local opts=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/none"
              -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o "Acquire::Languages=none"
              -o "APT::Sandbox::User=root")
  log "fetch: Debian $SUITE from $mirror with a private apt configuration ($A)"
  run apt-get "${opts[@]}" update
  # newlib-source: only for the one header the vendored fork lacks (prep, sys/config.h)
  (cd "$DEBS" && run apt-get "${opts[@]}" download "$GCC_PKG" binutils-source newlib-source)
  rm -rf "$DEBS/root"; mkdir -p "$DEBS/root"
  local deb
  for deb in "$DEBS/${GCC_PKG}_"*.deb "$DEBS"/binutils-source_*.deb "$DEBS"/newlib-source_*.deb; do
    log "fetch: $(basename "$deb") sha256 $(sha256sum "$deb" | cut -c1-64)"
    run dpkg -x "$deb" "$DEBS/root"
  done
  [ -f "$DEBS/root/$gtar" ] || die "$GCC_PKG from $SUITE has no $gtar (another GCC version?): $(ls "$DEBS/root/usr/src/gcc-$GCC_MAJOR")"
  [ -f "$DEBS/root/$btar" ] || die "binutils-source from $SUITE has no $btar: $(ls "$DEBS/root/usr/src/binutils")"
}

# ------------------------------------------------------------------ prep
# vendor/newlib-esp32 has the other architectures' machine/ and sys/ folders removed, but
# libc/acinclude.m4, libm/acinclude.m4 and the Makefile.inc lists still name them: aclocal and
# automake (which read every include, whatever its condition) fail on the missing files.
prune_newlib_tree() {   # $1 = the newlib/ folder of the writable copy
  local nl=$1 f inc
  # m4_include([libc/machine/X/acinclude.m4]) of removed machines
  for f in "$nl/libc/acinclude.m4" "$nl/libm/acinclude.m4"; do
    grep -o 'm4_include(\[[^]]*\])' "$f" | sed 's/m4_include(\[\(.*\)\])/\1/' | while read -r inc; do
      [ -e "$nl/$inc" ] || sed -i "\|^m4_include(\[$inc\])\$|d" "$f"
    done
  done
  # 'if COND / include %D%/X/Makefile.inc / endif' blocks of removed folders (automake reads every
  # include, whatever the condition)
  for f in $(grep -rl --include=Makefile.inc --include=Makefile.am '^include %D%/' "$nl"); do
    awk -v dir="$(dirname "$f")" '
      { line[NR] = $0 }
      END {
        for (i = 1; i <= NR; i++) {
          if (line[i] ~ /^if / && line[i+1] ~ /^include %D%\// && line[i+2] ~ /^endif/) {
            p = line[i+1]; sub(/^include %D%\//, "", p)
            if (system("test -e \"" dir "/" p "\"") != 0) { n++; i += 2; continue }
          } else if (line[i] ~ /^include %D%\//) {
            p = line[i]; sub(/^include %D%\//, "", p)
            if (system("test -e \"" dir "/" p "\"") != 0) { n++; continue }
          }
          print line[i]
        }
        if (n) print "prep: " n " includes of removed folders dropped from " FILENAME > "/dev/stderr"
      }' "$f" > "$f.pruned"
    mv "$f.pruned" "$f"
  done
}
prep() {
  check_deps
  local R=$DEBS/root
  [ -e "$R/usr/src/gcc-$GCC_MAJOR" ] || die "run the fetch stage first"
  [ -f "$OVERLAY/gcc/include/xtensa-config.h" ] || die "no xtensa_esp32 overlay at $OVERLAY"
  [ -f "$NEWLIB_SRC/newlib/configure.host" ] || die "no newlib fork at $NEWLIB_SRC"
  mkdir -p "$S"
  if [ -e "$S/gcc-$GCC_VER" ] || [ -e "$S/binutils-$BINUTILS_VER" ] || [ -e "$S/newlib-esp" ]; then
    log "prep: removing the previous sources (minutes on a slow disk)"
    rm -rf "$S/binutils-$BINUTILS_VER" "$S/gcc-$GCC_VER" "$S/newlib-esp"
  fi
  log "prep: unpacking binutils $BINUTILS_VER and GCC $GCC_VER"
  run tar -xf "$R/usr/src/binutils/binutils-$BINUTILS_VER.tar.xz" -C "$S"
  run tar -xf "$R/usr/src/gcc-$GCC_MAJOR/gcc-$GCC_VER-dfsg.tar.xz" -C "$S"
  # Debian's -dfsg tarball has an empty gcc/doc/tm.texi.in (GFDL text removed) -> genhooks fails
  # ("No place specified to document hook TARGET_ASM_OPEN_PAREN"). Debian's own fix:
  run patch -d "$S/gcc-$GCC_VER" -p2 --batch -i "$R/usr/src/gcc-$GCC_MAJOR/debian/patches/gcc-gfdl-build.diff"

  log "prep: newlib from $NEWLIB_SRC (a writable copy)"
  cp -r "$NEWLIB_SRC" "$S/newlib-esp"
  chmod -R u+w "$S/newlib-esp"
  if [ ! -f "$S/newlib-esp/newlib/Makefile.in" ]; then
    # the vendored copy lacks newlib/Makefile.in (6 MB generated file): regenerate it
    log "prep: regenerating newlib/Makefile.in (autoreconf2.69)"
    prune_newlib_tree "$S/newlib-esp/newlib"
    (cd "$S/newlib-esp/newlib" && AUTOCONF=autoconf2.69 AUTOHEADER=autoheader2.69 AUTOM4TE=autom4te2.69 \
       runlog ../../newlib-autoreconf.log autoreconf2.69 -v)
    # automake 1.16.5 (Debian) names per-target objects a-foo.o instead of 1.15's libm_a-foo.o;
    # the hand-written MATHOBJS_IN_LIBC list (libm objects copied into libc.a) must follow
    sed -i '/^MATHOBJS_IN_LIBC = /,/^$/ s/libm_a-/a-/g' "$S/newlib-esp/newlib/Makefile.in"
  fi
  # the 4.3 fork selects its 'esp' sys dir only for *-esp-* triplets (Espressif now builds
  # xtensa-esp-elf); ours is xtensa-esp32-elf
  sed -i 's/^  \*-esp-\*)$/  *-esp-* | *-esp32-*)/' "$S/newlib-esp/newlib/configure.host"
  grep -q -- '-esp32-\*)' "$S/newlib-esp/newlib/configure.host" || die "newlib configure.host: esp triplet edit did not apply"
  # The vendored fork lacks newlib/libc/include/sys/config.h (every libc/libm file includes it
  # through _ansi.h). The fork's file is upstream's plus one Espressif block (checked against the
  # GCC 12 tarball's installed header: identical to upstream 4.5's with the block added): take
  # upstream's from Debian's newlib-source and add the block where the fork has it.
  local cfg="$S/newlib-esp/newlib/libc/include/sys/config.h"
  if [ ! -f "$cfg" ]; then
    local ntar
    ntar="$(ls "$R"/usr/src/newlib/newlib-*.tar.* /usr/src/newlib/newlib-*.tar.* 2>/dev/null | head -1)"
    [ -n "$ntar" ] || die "newlib: sys/config.h is missing from $NEWLIB_SRC and no newlib-source tarball was found (run the fetch stage, or apt-get install newlib-source)"
    log "prep: newlib sys/config.h from $(basename "$ntar") + the fork's Espressif block"
    tar -xOf "$ntar" --wildcards '*/newlib/libc/include/sys/config.h' | awk '
      /^\/\* This block should be kept in sync with GCC.s limits.h/ && !done {
        print "/* Espressif-specific */"; print "#define __BUFSIZ__ 128"; print "#define __DYNAMIC_REENT__"
        print "#define _REENT_SMALL"; print "/* ~Espressif-specific */"; print ""; done = 1 }
      { print }
      END { if (!done) exit 1 }' > "$cfg" || die "newlib: could not place the Espressif block in sys/config.h"
  fi
  # _getentropy_r() (libc/reent/getentropyr.c) calls _getentropy() with no declaration in scope:
  # a warning up to GCC 13, an error with GCC 14. Upstream newlib 4.5 declares it in sys/unistd.h.
  if ! grep -q '_getentropy (void \*, size_t)' "$S/newlib-esp/newlib/libc/include/sys/unistd.h"; then
    sed -i 's/^int     _execve (const char \*__path, char \* const __argv\[\], char \* const __envp\[\]);$/&\nint     _getentropy (void *, size_t);/' \
      "$S/newlib-esp/newlib/libc/include/sys/unistd.h"
    grep -q '_getentropy (void \*, size_t)' "$S/newlib-esp/newlib/libc/include/sys/unistd.h" || die "newlib: _getentropy declaration edit did not apply"
  fi

  log "prep: xtensa_esp32 core configuration from $OVERLAY"
  # crosstool-NG style: copy the overlay files over the same paths of the source trees
  cp -v "$OVERLAY/binutils/bfd/xtensa-modules.c"    "$S/binutils-$BINUTILS_VER/bfd/xtensa-modules.c"
  cp -v "$OVERLAY/binutils/include/xtensa-config.h" "$S/binutils-$BINUTILS_VER/include/xtensa-config.h"
  cp -v "$OVERLAY/gcc/include/xtensa-config.h"      "$S/gcc-$GCC_VER/include/xtensa-config.h"
  # the overlay names the old (newlib <= 4.1) location; 4.3 moved it to libc/machine/xtensa
  local d n=0
  for d in sys machine; do
    if [ -d "$S/newlib-esp/newlib/libc/$d/xtensa/include/xtensa/config" ]; then
      cp -v "$OVERLAY/newlib/newlib/libc/sys/xtensa/include/xtensa/config/core-isa.h" \
        "$S/newlib-esp/newlib/libc/$d/xtensa/include/xtensa/config/core-isa.h"
      n=$((n + 1))
    fi
  done
  [ $n -gt 0 ] || die "newlib: no xtensa/config folder for core-isa.h"
}

# ------------------------------------------------------------------ binutils
binutils() {
  rm -rf "$B/binutils"; mkdir -p "$B/binutils"; cd "$B/binutils"
  runlog configure.log "${NICE[@]}" "$S/binutils-$BINUTILS_VER/configure" --target=$TARGET --prefix="$PREFIX" \
    --disable-nls --disable-werror --disable-gdb --disable-gdbserver --disable-sim \
    --disable-readline --disable-libdecnumber --disable-gprofng --disable-gold \
    --disable-multilib --with-system-zlib
  runlog make.log "${NICE[@]}" make -j"$JOBS"
  runlog install.log make install-strip
}

# ------------------------------------------------------------------ gcc (one compiler build)
# Instead of the classic stage1 (C only, --without-headers) + full rebuild: pre-seed the sysroot with
# newlib's *source* headers so GCC configures with inhibit_libc=false, build the compiler proper once
# (C and C++), build newlib with it, then libgcc + libstdc++ from the same build tree.
seed_headers() {
  mkdir -p "$SYSROOT/include"
  cp -r "$S/newlib-esp/newlib/libc/include/." "$SYSROOT/include/"
  local d
  for d in "$S/newlib-esp/newlib/libc/sys/xtensa/include" "$S/newlib-esp/newlib/libc/machine/xtensa/include" \
           "$S/newlib-esp/newlib/libc/sys/esp/include"; do
    [ -d "$d" ] && cp -r "$d/." "$SYSROOT/include/"
  done
  [ -f "$SYSROOT/include/newlib.h" ] || : > "$SYSROOT/include/newlib.h"   # the real one comes with newlib
}

gcc_configure() {
  local extra=()
  # GCC >= 12 can build libstdc++'s std::stacktrace support (libbacktrace): nothing for a bare-metal target
  [ "$GCC_MAJOR" -ge 14 ] && extra+=(--disable-libstdcxx-backtrace)
  rm -rf "$B/gcc"; mkdir -p "$B/gcc"; cd "$B/gcc"
  runlog configure.log "${NICE[@]}" "$S/gcc-$GCC_VER/configure" --target=$TARGET --prefix="$PREFIX" \
    --with-sysroot="$SYSROOT" --with-native-system-header-dir=/include \
    --with-newlib --enable-languages=c,c++ \
    --disable-shared --disable-nls --disable-multilib --disable-werror \
    --enable-threads=posix --enable-__cxa_atexit --enable-target-optspace \
    --disable-libgomp --disable-libssp --disable-libquadmath --disable-libquadmath-support \
    --disable-libsanitizer --disable-libvtv --disable-libitm --disable-libatomic --disable-libcc1 \
    --disable-libstdcxx-verbose --disable-libstdcxx-pch --enable-lto --with-gnu-as --with-gnu-ld \
    "${extra[@]}" \
    --with-pkgversion="imuad-debian-gcc-$GCC_VER+xtensa-overlays-esp32" \
    CFLAGS="-O2" CXXFLAGS="-O2" \
    CFLAGS_FOR_TARGET="$TFLAGS $TDEFS" CXXFLAGS_FOR_TARGET="$TFLAGS $TDEFS"
}

gcc1() {   # the compiler proper (cc1, cc1plus, driver, lto)
  seed_headers
  gcc_configure
  cd "$B/gcc"
  runlog make-gcc.log "${NICE[@]}" make -j"$JOBS" all-gcc
  runlog install-gcc.log make install-strip-gcc
  log "gcc1: $("$PREFIX/bin/$TARGET-gcc" --version | head -1)"
}

newlib() {
  rm -rf "$B/newlib"; mkdir -p "$B/newlib"; cd "$B/newlib"
  # no --enable-newlib-long-time_t: ESP-IDF >= 5 expects 64-bit time_t (newlib default)
  runlog configure.log "${NICE[@]}" "$S/newlib-esp/configure" --target=$TARGET --prefix="$PREFIX" \
    --disable-newlib-supplied-syscalls --enable-newlib-retargetable-locking \
    --enable-newlib-io-long-long --enable-newlib-io-c99-formats --enable-newlib-io-pos-args \
    --enable-newlib-io-long-double --enable-newlib-multithread --disable-libgloss \
    --disable-nls CFLAGS_FOR_TARGET="$TFLAGS"
  runlog make.log "${NICE[@]}" make -j"$JOBS"
  runlog install.log make install
  log "newlib: $(grep -c 'warning:' make.log) compiler warnings (log: $B/newlib/make.log)"
}

gcclibs() {  # libgcc + libstdc++ (+ libsupc++) against the installed newlib
  cd "$B/gcc"
  rm -rf "$B/gcc/$TARGET/libgcc" "$B/gcc/$TARGET/libstdc++-v3"   # from scratch if newlib changed
  # GCC 14's libgcc (unwind-dw2-fde.c via gthr-posix.h) uses pthread_rwlock_t, which newlib's
  # sys/_pthreadtypes.h declares only under _POSIX_READER_WRITER_LOCKS; ESP-IDF defines it for
  # every file it compiles (components/pthread: rwlocks are implemented there), so the target
  # libraries are built with it too. Passed here as well as at configure, so a resumed build has it.
  local tl=(CFLAGS_FOR_TARGET="$TFLAGS $TDEFS" CXXFLAGS_FOR_TARGET="$TFLAGS $TDEFS")
  runlog make-libgcc.log "${NICE[@]}" make -j"$JOBS" "${tl[@]}" all-target-libgcc
  runlog install-libgcc.log make install-target-libgcc
  runlog make-libstdcxx.log "${NICE[@]}" make -j"$JOBS" "${tl[@]}" all-target-libstdc++-v3
  runlog install-libstdcxx.log make install-target-libstdc++-v3
}

fixspecs() {
  # Upstream gcc/config/xtensa/elf.h: LIB_SPEC "-lc -lsim -lc -lhandlers-sim -lhal" and STARTFILE_SPEC
  # "crt1-sim%O%s crt0%O%s crti%O%s crtbegin%O%s _vectors%O%s" (the Xtensa simulator's libraries,
  # which do not exist here) -> every link fails, incl. CMake's "check for working C compiler" in
  # idf.py set-target. A 'specs' file next to libgcc.a overrides just *lib and *startfile.
  local d; d=$(dirname "$("$PREFIX/bin/$TARGET-gcc" -print-libgcc-file-name)")
  printf '*lib:\n-lc\n\n*startfile:\ncrti%%O%%s crtbegin%%O%%s\n\n' > "$d/specs"
  log "fixspecs: $d/specs"
}

idfcompat() {
  # 1) sys/statvfs.h: newer Espressif newlib ships it; ESP-IDF v6.2's esp_libc/src/syscalls.c includes it.
  mkdir -p "$SYSROOT/include/sys"
  cat > "$SYSROOT/include/sys/statvfs.h" <<'HDR'
/* SHIM: newer Espressif newlib (after esp-4.3.0_20240322) ships sys/statvfs.h; ESP-IDF v6.2 esp_libc needs it. */
#ifndef _SYS_STATVFS_H
#define _SYS_STATVFS_H
#include <sys/types.h>
#ifdef __cplusplus
extern "C" {
#endif
struct statvfs {
  unsigned long f_bsize, f_frsize;
  fsblkcnt_t f_blocks, f_bfree, f_bavail;
  fsfilcnt_t f_files, f_ffree, f_favail;
  unsigned long f_fsid, f_flag, f_namemax;
};
#define ST_RDONLY 0x0001
#define ST_NOSUID 0x0002
int statvfs(const char *__restrict path, struct statvfs *__restrict buf);
int fstatvfs(int fd, struct statvfs *buf);
#ifdef __cplusplus
}
#endif
#endif
HDR
  log "idfcompat: $SYSROOT/include/sys/statvfs.h"
  rm -rf "$PREFIX/idf-compat-bin"
  if [ "$GCC_MAJOR" -ge 14 ]; then
    log "idfcompat: GCC $GCC_VER takes -std=gnu23 / -std=gnu++26: no idf-compat-bin wrappers"
    return
  fi
  # 2) ESP-IDF v6.2 hard-codes -std=gnu23 / -std=gnu++26 (GCC >= 14). Wrappers in idf-compat-bin
  #    (first on PATH for idf.py) map them to gnu2x / gnu++2b and pre-include stdbool.h (C23's
  #    bool/true/false keywords).
  mkdir -p "$PREFIX/idf-compat-bin"
  local t
  for t in gcc g++ c++; do
    cat > "$PREFIX/idf-compat-bin/$TARGET-$t" <<WRAP
#!/bin/bash
args=(); extra=()
for a in "\$@"; do
  case "\$a" in
    -std=gnu23) a=-std=gnu2x; extra=(-include stdbool.h) ;;
    -std=c23) a=-std=c2x; extra=(-include stdbool.h) ;;
    -std=gnu++26) a=-std=gnu++2b ;;
    -std=c++26) a=-std=c++2b ;;
  esac
  args+=("\$a")
done
exec "\$(dirname "\$(readlink -f "\$0")")/../bin/$TARGET-$t" "\${extra[@]}" "\${args[@]}"
WRAP
    chmod +x "$PREFIX/idf-compat-bin/$TARGET-$t"
  done
  log "idfcompat: $PREFIX/idf-compat-bin (-std wrappers)"
}

# ------------------------------------------------------------------ check
# What ../shared/toolchains/README.md lists: windowed ABI, FPU, mull/quos, long calls, s32c1i atomics,
# C++ with exceptions links; plus the -std levels ESP-IDF v6.2 passes.
check() {
  local C=$WORK/check cc=$PREFIX/bin/$TARGET-gcc cxx=$PREFIX/bin/$TARGET-g++ od=$PREFIX/bin/$TARGET-objdump
  rm -rf "$C"; mkdir -p "$C"; cd "$C"
  cat > t.c <<'EOF'
extern void far_away(int);
float fma_(float a, float b, float c) { return a * b + c; }
int mul(int a, int b) { return a * b; }
unsigned quo(unsigned a, unsigned b) { return a / b; }
int quos_(int a, int b) { return a / b; }
int cas(int *p, int o, int n) { return __atomic_compare_exchange_n(p, &o, n, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
void call(int x) { far_away(x + 1); }
EOF
  "$cc" -O2 -mlongcalls -c t.c -o t.o
  "$od" -d t.o > t.dis
  local what pat ok=1
  for what in "entry:entry" "retw:retw(\\.n)?" "madd.s:madd\.s" "mull:mull" "quou:quou" "quos:quos" "s32c1i:s32c1i" "longcall (callx8):callx8"; do
    pat=${what#*:}
    if grep -qE "\s$pat(\s|$)" t.dis; then log "check: $(printf '%-18s' "${what%%:*}") ok"; else log "check: ${what%%:*} MISSING"; ok=0; fi
  done
  cat > t.cc <<'EOF'
#include <stdexcept>
#include <string>
#include <vector>
int main(int argc, char **) {
  std::vector<std::string> v{"a", "b"};
  try { if (argc > 5) throw std::runtime_error("x"); } catch (const std::exception &e) { return (int)v.size(); }
  return 0;
}
EOF
  if "$cxx" -O2 -mlongcalls -fexceptions t.cc -o t.elf -Wl,--gc-sections -Wl,--unresolved-symbols=ignore-all 2> cxx.log \
     && "$od" -t t.elf > t.syms && grep -q __cxa_throw t.syms; then   # (no pipe: grep -q + pipefail = SIGPIPE)
    log "check: C++ exceptions link ok ($(stat -c %s t.elf) B elf)"
  else
    log "check: C++ exceptions link FAILED"; cat cxx.log; ok=0
  fi
  local std
  for std in "c:gnu23" "c++:gnu++26"; do
    if echo 'int x;' | "$cc" -x "${std%%:*}" -std="${std#*:}" -c -o /dev/null - 2>/dev/null; then
      log "check: -std=${std#*:} accepted"
    else
      log "check: -std=${std#*:} NOT accepted by the compiler (ESP-IDF v6.2 needs idf-compat-bin/)"
      [ "$GCC_MAJOR" -ge 14 ] && ok=0
    fi
  done
  [ "$ok" = 1 ] || die "check failed (files in $C)"
}

# ------------------------------------------------------------------ pack
pack() {
  log "pack: $(du -sh "$PREFIX" | cut -f1) before stripping the target archives"
  find "$PREFIX" -name '*.a' -path "*$TARGET*" -exec "$PREFIX/bin/$TARGET-strip" --strip-debug {} + 2>/dev/null || true
  find "$PREFIX/lib/gcc" -name '*.a' -exec "$PREFIX/bin/$TARGET-strip" --strip-debug {} + 2>/dev/null || true
  {
    echo "$NAME: built by imuad device/tools/esp32/build-toolchain.sh --gcc $GCC_MAJOR on $(date -u +%Y-%m-%d)"
    echo "host: $(. /etc/os-release && echo "$PRETTY_NAME") $(uname -m), host gcc $(gcc -dumpfullversion)"
    echo "binutils $BINUTILS_VER, gcc $GCC_VER: Debian $SUITE source packages:"
    ls "$DEBS"/*.deb 2>/dev/null | while read -r f; do echo "  $(basename "$f") $(sha256sum "$f" | cut -c1-64)"; done
    [ -L "$DEBS/root" ] && dpkg-query -W -f='  ${Package} ${Version} (installed)\n' "$GCC_PKG" binutils-source 2>/dev/null
    echo "xtensa-overlays/xtensa_esp32 from $OVERLAY"
    echo "newlib: Espressif fork from $NEWLIB_SRC ($(grep -m1 -o 'PACKAGE_VERSION=.*' "$S/newlib-esp/newlib/configure" 2>/dev/null))"
    echo "specs (*lib: -lc, *startfile: crti crtbegin), include/sys/statvfs.h shim$([ -d "$PREFIX/idf-compat-bin" ] && echo ", idf-compat-bin/ -std wrappers")"
  } > "$PREFIX/BUILDINFO.txt"
  log "pack: $(du -sh "$PREFIX" | cut -f1) to xz (a few minutes)"
  local tmp="$OUT/.$NAME.tar.xz.tmp"
  run "${NICE[@]}" tar -C "$(dirname "$PREFIX")" -cJf "$tmp" "$(basename "$PREFIX")"
  mv "$tmp" "$OUT/$NAME.tar.xz"
  (cd "$OUT" && sha256sum "$NAME.tar.xz" > "$NAME.tar.xz.sha256")
  log "pack: $OUT/$NAME.tar.xz $(stat -c %s "$OUT/$NAME.tar.xz") B, sha256 $(cut -c1-64 "$OUT/$NAME.tar.xz.sha256")"
}

log "GCC $GCC_VER + binutils $BINUTILS_VER (Debian $SUITE) for $TARGET; work $WORK, out $OUT, -j$JOBS"
log "stages: ${STAGES[*]}"
for s in "${STAGES[@]}"; do
  ts=$(date +%s); log "stage $s"
  "$s"
  log "stage $s done in $(( $(date +%s) - ts )) s"
done
log "all done in $(( $(date +%s) - T0 )) s"
