"""How a build-table row is configured and built: CMake (the top-level CMakeLists + a board),
idf.py (ESP-IDF projects; the linux target offline, see ../shared/vendor/README.md) or make
(MicroPython's unix port). Each writes its log to build/<target>.log and raises ImuadError with
the log's tail on failure."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .. import procs
from ..errors import ImuadError
from ..paths import REPO_ROOT, build_dir, vendor_dir
from .table import BuildTarget

# gnu++17 for ESP-IDF on linux: Debian g++ 12 + the automatic -std=gnu++2b breaks nvs_flash.
IDF_STD_FLAGS = ("-Dver_gnu++26_supported=0", "-Dver_gnu++2b_supported=0", "-Dver_gnu++20_supported=0",
                 "-Dver_gnu++2a_supported=0")


def jobs() -> str:
    return os.environ.get("IMUAD_BUILD_JOBS", "2")


def expand(text: str) -> str:
    """{repo}, {vendor} and {build:TARGET} in table values."""
    text = text.replace("{repo}", str(REPO_ROOT)).replace("{vendor}", str(vendor_dir()))
    return re.sub(r"\{build:([\w-]+)\}", lambda m: str(build_dir() / m.group(1)), text)


def _log(row: BuildTarget) -> Path:
    return build_dir() / f"{row.name}.log"


def _run(cmd: list[str], row: BuildTarget, what: str, env: dict | None = None, cwd: Path = REPO_ROOT) -> None:
    log = _log(row)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        rc = procs.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise ImuadError(f"{what} of '{row.name}' failed (exit {rc}); last lines of {log}:\n{tail}")


# ---------------------------------------------------------------- CMake
def cmake_cache(row: BuildTarget) -> dict[str, str]:
    """Every -D of a cmake row (also what CMakePresets.json holds, with ${sourceDir} paths)."""
    cache = {"CMAKE_BUILD_TYPE": row.build_type, "IMUAD_BOARD": row.board or "", "IMUAD_TARGET": row.name}
    if row.kernels:
        cache["IMUAD_KERNELS"] = row.kernels
    cache.update(row.cache)
    return cache


def cmake_configure_cmd(row: BuildTarget, out: Path, extra: list[str]) -> list[str]:
    cmd = ["cmake", "-S", str(REPO_ROOT), "-B", str(out), "-G", "Ninja"]
    if row.toolchain:
        cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={REPO_ROOT / row.toolchain}")
    cmd += [f"-D{k}={expand(v)}" for k, v in cmake_cache(row).items()]
    return cmd + extra


def _cmake(row: BuildTarget, out: Path, extra: list[str]) -> None:
    cmd = cmake_configure_cmd(row, out, extra)
    stamp = out / ".imuad-configure"
    if not (out / "CMakeCache.txt").exists() or not stamp.exists() or stamp.read_text() != "\n".join(cmd):
        _run(cmd, row, "CMake configure")
        stamp.write_text("\n".join(cmd))
    _run(["cmake", "--build", str(out), "-j", jobs()], row, "build")


# ---------------------------------------------------------------- ESP-IDF
def idf_env() -> dict[str, str]:
    """ESP-IDF's linux target offline: never export.sh (it wants toolchains); a venv from ESP-IDF's
    tools/requirements/requirements.core.txt (PyPI, ~30 s once, build/idf-venv)."""
    idf = Path(os.environ.get("IDF_PATH") or vendor_dir() / "esp-idf")
    venv = build_dir() / "idf-venv"
    if not (venv / ".imuad-ok").exists():
        print(f"imuad: creating the ESP-IDF venv {venv} (PyPI, about 30 s)", file=sys.stderr, flush=True)
        log = build_dir() / "idf-venv.log"
        with open(log, "wb") as fh:
            ok = subprocess.run(["python3", "-m", "venv", str(venv)], stdout=fh,
                                stderr=subprocess.STDOUT).returncode == 0 and \
                subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", "-r",
                                str(idf / "tools/requirements/requirements.core.txt")], stdout=fh,
                               stderr=subprocess.STDOUT).returncode == 0
        if not ok:
            raise ImuadError(f"ESP-IDF venv creation failed; see {log}")
        (venv / ".imuad-ok").touch()
    env = dict(os.environ, IDF_PATH=str(idf), IDF_PYTHON_ENV_PATH=str(venv), IDF_SKIP_CHECK_SUBMODULES="1",
               IDF_PYTHON_CHECK_CONSTRAINTS="0", ESP_IDF_VERSION="6.2",
               # only local path:/override_path: dependencies, which resolve offline
               IDF_COMPONENT_MANAGER="1", IDF_COMPONENT_OVERWRITE_MANAGED_COMPONENTS="1")
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(idf / "tools"), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)  # idf.py runs in its own venv
    return env


def _idf(row: BuildTarget, out: Path, extra: list[str]) -> None:
    project = Path(expand(row.project or ""))
    project = project if project.is_absolute() else REPO_ROOT / project
    if row.idf_target == "linux":
        env = idf_env()
        idf = [str(build_dir() / "idf-venv/bin/python"), str(Path(env["IDF_PATH"]) / "tools/idf.py")]
        flags = list(IDF_STD_FLAGS)
    else:  # a chip: the user's own ESP-IDF environment (export.sh), online component manager
        env, idf, flags = dict(os.environ), ["idf.py"], []
    base = [*idf, "-C", str(project), "-B", str(out), f"-DSDKCONFIG={out / 'sdkconfig'}",
            *(expand(a) for a in row.idf_args)]
    if row.kernels:
        base.append(f"-DIMUAD_KERNELS={row.kernels}")
    if not (out / "CMakeCache.txt").exists():
        if out.exists():  # idf.py refuses to clean a dir that is not a CMake build dir
            shutil.rmtree(out)
        _run([*base, "--preview", "set-target", row.idf_target], row, f"idf.py set-target {row.idf_target}", env)
    _run([*base, *flags, *extra, "build"], row, "idf.py build", env)


# ---------------------------------------------------------------- MicroPython (make)
def _micropython(row: BuildTarget, out: Path, extra: list[str]) -> None:
    """MicroPython's unix port with USER_C_MODULES=device/micropython, linking the core and TFLM
    of the host build (not compiled a second time; imuad_build.mk says where they are). The
    vendor tree stays read-only: objects in build/micropython."""
    from . import artefact
    fragment = artefact("host", "make-fragment")
    prog = out / "micropython"
    libs = [Path(line.split(":=", 1)[1].strip()) for line in fragment.read_text().splitlines()
            if line.startswith(("IMUAD_CORE_LIB", "IMUAD_TFLM_LIB"))]
    if prog.exists() and any(lib.exists() and lib.stat().st_mtime > prog.stat().st_mtime for lib in libs):
        prog.unlink()  # make relinks only when its own objects change
    here = REPO_ROOT / "device" / "micropython"
    _run(["make", "-C", str(vendor_dir() / "micropython/ports/unix"), f"-j{jobs()}", f"BUILD={out}",
          "PROG=micropython", f"VARIANT_DIR={here / 'unix-variant'}", f"USER_C_MODULES={here}",
          f"IMUAD_BUILD_MK={fragment}", *extra], row, "make")


# ---------------------------------------------------------------- a build script of the repo
def _script(row: BuildTarget, out: Path, extra: list[str]) -> None:
    """A script that knows its own steps (the ESP32 app: toolchain + writable ESP-IDF + idf.py;
    QEMU with the esp32 core: Debian's QEMU source + the imported core), run with the row's
    script_args. Scripts that are not incremental themselves (row.rerun False) run again only when
    the script or its arguments changed (a stamp) or an artefact is missing."""
    import hashlib
    script = REPO_ROOT / (row.project or "")
    args = [expand(a).replace("{out}", str(out)).replace("{jobs}", jobs()) for a in row.script_args]
    stamp = out / ".imuad-script"
    digest = hashlib.sha256(script.read_bytes() + "\0".join(args).encode()).hexdigest()
    done = all((out / a).exists() for a in row.artefacts.values())
    if not row.rerun and done and stamp.exists() and stamp.read_text() == digest:
        return
    out.mkdir(parents=True, exist_ok=True)
    _run(["bash", str(script), *args, *extra], row, script.name, dict(os.environ, JOBS=jobs()))
    stamp.write_text(digest)


def build(row: BuildTarget, out: Path, extra: list[str]) -> None:
    {"cmake": _cmake, "idf": _idf, "micropython": _micropython, "script": _script}[row.driver](row, out, extra)


def configured(row: BuildTarget, out: Path) -> bool:
    if row.driver == "script":
        return (out / ".imuad-script").exists()
    return (out / ("micropython" if row.driver == "micropython" else "CMakeCache.txt")).exists()


def xtensa_toolchain_bin() -> Path | None:
    """bin/ of xtensa-esp32-elf, found as sim/boards/esp32-qemu/toolchain.cmake finds it."""
    for d in (os.environ.get("IMUAD_XTENSA_TOOLCHAIN", ""), str(Path.home() / ".cache/imuad/toolchains/xtensa-esp32-elf")):
        if d and (Path(d) / "bin" / "xtensa-esp32-elf-gcc").exists():
            return Path(d) / "bin"
    gcc = shutil.which("xtensa-esp32-elf-gcc")
    return Path(gcc).parent if gcc else None


def unavailable(row: BuildTarget) -> str:
    if row.name == "xtensa-toolchain" and shutil.which("xtensa-esp32-elf-gcc") is None and \
            not (vendor_dir().parent / "toolchains/xtensa-esp32-elf-gcc12.2.0.tar.xz").is_file():
        return "no xtensa-esp32-elf-gcc on PATH and no ../shared/toolchains/xtensa-esp32-elf-gcc12.2.0.tar.xz"
    if row.driver == "script" and row.name == "qemu-xtensa-esp32" and \
            not (vendor_dir() / "xtensa-overlays/xtensa_esp32").is_dir():
        return f"Espressif's xtensa-overlays not found at {vendor_dir() / 'xtensa-overlays'}"
    if row.driver == "idf" and row.idf_target == "linux":
        idf = Path(os.environ.get("IDF_PATH") or vendor_dir() / "esp-idf")
        if not (idf / "tools/idf.py").exists():
            return f"ESP-IDF not found at {idf}"
    if row.driver == "micropython" and not (vendor_dir() / "micropython/ports/unix").is_dir():
        return f"MicroPython not found at {vendor_dir() / 'micropython'}"
    if row.name == "esp32" and not (vendor_dir() / "esp-idf/tools/idf.py").exists():
        return f"ESP-IDF not found at {vendor_dir() / 'esp-idf'}"
    return ""
