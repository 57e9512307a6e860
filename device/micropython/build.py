"""Build the MicroPython unix port with the `imuad` user C/C++ module: build/micropython/micropython.

    python3 device/micropython/build.py          # prints the binary's path
    from build import ensure_micropython         # (tests load this file by path)

Steps: (a) the core's host CMake build (`imuad.build.ensure_built("host")`) provides
libimuad_core.a and the TFLM kernel subset libimuad_tflm.a, which are linked, not recompiled;
(b) `make -C <vendor>/micropython/ports/unix` with USER_C_MODULES=device/micropython and
VARIANT_DIR=device/micropython/unix-variant, objects in build/micropython (the vendor tree is
read-only). Once per process; make is incremental afterwards.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO / "host") not in sys.path:
    sys.path.insert(0, str(REPO / "host"))

from imuad.build import ensure_built  # noqa: E402  (core engineer's host build)
from imuad.errors import ImuadError  # noqa: E402
from imuad.paths import build_dir, vendor_dir  # noqa: E402

_LOCK = threading.Lock()
_DONE: dict[str, Path] = {}


def _cmake_cache(build: Path) -> dict[str, str]:
    out = {}
    for line in (build / "CMakeCache.txt").read_text(errors="replace").splitlines():
        if line and not line.startswith(("#", "//")) and "=" in line and ":" in line.split("=", 1)[0]:
            key, value = line.split("=", 1)
            out[key.split(":", 1)[0]] = value
    return out


def _find_lib(build: Path, name: str) -> Path:
    hits = sorted(build.rglob(name))
    if not hits:
        raise ImuadError(f"{name} not found under {build} after the core build (target renamed?)")
    return hits[0]


def ensure_micropython(preset: str = "host", quiet: bool = False) -> Path:
    """Path of build/micropython/micropython, built (once per process) over the core's `preset` build."""
    with _LOCK:
        if preset in _DONE:
            return _DONE[preset]
        # Only the two libraries this build links (the rest of the firmware tree is not needed here).
        core = ensure_built(preset, targets=["imuad_core", "imuad_tflm"], quiet=quiet)
        if not list(core.rglob("libimuad_core.a")) or not list(core.rglob("libimuad_tflm.a")):
            # ensure_built() caches per preset: an earlier call in this process may have built
            # other targets only.
            subprocess.run(["cmake", "--build", str(core), "-j", os.environ.get("IMUAD_BUILD_JOBS", "2"),
                            "--target", "imuad_core", "imuad_tflm"], check=False, capture_output=True)
        cache = _cmake_cache(core)
        core_lib = _find_lib(core, "libimuad_core.a")
        tflm_lib = _find_lib(core, "libimuad_tflm.a")
        ops = cache.get("IMUAD_TFLM_OPS", "").replace(";", " ")
        tflm_dir = cache.get("IMUAD_TFLM_DIR") or str(vendor_dir() / "esp-tflite-micro")
        out = build_dir() / "micropython" / ("" if preset == "host" else preset)
        out.mkdir(parents=True, exist_ok=True)
        prog = out / "micropython"
        # make links only when objects change; relink when the core libraries are newer.
        if prog.exists() and max(core_lib.stat().st_mtime, tflm_lib.stat().st_mtime) > prog.stat().st_mtime:
            prog.unlink()
        cmd = ["make", "-C", str(vendor_dir() / "micropython" / "ports" / "unix"), f"-j{os.environ.get('IMUAD_BUILD_JOBS', '2')}",
               f"BUILD={out}", "PROG=micropython", f"VARIANT_DIR={HERE / 'unix-variant'}",
               f"USER_C_MODULES={HERE}", f"IMUAD_CORE_LIB={core_lib}", f"IMUAD_TFLM_LIB={tflm_lib}",
               f"IMUAD_TFLM_DIR={tflm_dir}", f"IMUAD_TFLM_OPS={ops}"]
        if preset.endswith("asan"):
            # Same sanitizers as the core libraries, or they do not link.
            cmd += ["CFLAGS_EXTRA=-fsanitize=address,undefined -fno-omit-frame-pointer",
                    "LDFLAGS_EXTRA=-fsanitize=address,undefined"]
        log = out / "imuad-mpy-build.log"
        t0 = time.monotonic()
        if not quiet:
            print(f"imuad: building MicroPython unix port with the imuad module in {out}...", file=sys.stderr,
                  flush=True)
        with open(log, "wb") as fh:
            fh.write((" ".join(cmd) + "\n").encode())
            fh.flush()
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
        if proc.returncode != 0 or not prog.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise ImuadError(f"MicroPython build failed (exit {proc.returncode}); last lines of {log}:\n{tail}")
        if not quiet:
            print(f"imuad: MicroPython ready ({time.monotonic() - t0:.0f} s): {prog}", file=sys.stderr, flush=True)
        _DONE[preset] = prog
        return prog


if __name__ == "__main__":
    try:
        print(ensure_micropython(sys.argv[1] if len(sys.argv) > 1 else "host"))
    except ImuadError as exc:
        sys.exit(f"error: {exc}")
