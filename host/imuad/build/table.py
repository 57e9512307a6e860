"""THE build table: one row per firmware target. A row says how the target is configured and
built, which TFLM kernels it runs (the kernel-selection policy: reference / cmsis_nn / esp_nn),
and where its artefacts are. The target name is also its build dir (build/<name>), its CMake
preset (CMakePresets.json is generated from these rows: `imuad build --write-presets`) and, for
the firmware targets, the name `imuad.targets.get_target` and the tests use.

Adding a target = one folder (sim/boards/<board>/ or an ESP-IDF project) + one row here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: reference kernels = TFLM's portable C++; cmsis_nn = Arm CMSIS-NN (Cortex-M); esp_nn =
#: Espressif ESP-NN (esp-tflite-micro's component, ESP32 only). Names = TFLM kernel folders.
KERNELS = ("reference", "cmsis_nn", "esp_nn")


@dataclass(frozen=True)
class BuildTarget:
    name: str
    driver: str                     # "cmake" (top-level CMakeLists + board), "idf" (idf.py), "micropython" (make),
                                    # "script" (project = a repo script run with script_args)
    description: str
    board: str | None = None        # cmake: sim/boards/<board>
    kernels: str | None = None      # TFLM kernels (None: no TFLM in this target)
    toolchain: str | None = None    # cmake: toolchain file (repo-relative)
    project: str | None = None      # idf: the ESP-IDF project dir (repo-relative; {vendor}/ allowed)
    build_type: str = "Release"
    cache: dict[str, str] = field(default_factory=dict)   # extra -D; "{build:T}" = build dir of target T
    idf_args: tuple[str, ...] = ()  # idf: extra idf.py arguments before `build`
    idf_target: str = "linux"       # idf: set-target
    artefacts: dict[str, str] = field(default_factory=dict)  # role -> path in the build dir
    needs: tuple[str, ...] = ()     # targets built first
    tools: tuple[str, ...] = ()     # programs that must be on PATH
    script_args: tuple[str, ...] = ()  # script: arguments ({out} = build dir, {jobs}, {vendor}, {repo})
    rerun: bool = True              # script: run every time (False: only when it or its arguments change)


_POSIX = {"firmware": "sim/boards/posix/imuad-fw-host", "test-firmware": "sim/boards/posix/imuad-fw-host-test",
          "tflm": "sim/boards/posix/libimuad_tflm.a", "fuzz": "imuad_core/test/imuad-fuzz-frames",
          "codec-echo": "imuad_core/test/imuad-codec-echo",
          "calibration-echo": "imuad_core/test/imuad-calibration-echo", "make-fragment": "imuad_build.mk"}
_MPS2 = {role: f"sim/boards/mps2-an386/{elf}.elf" for role, elf in (
    ("firmware", "imuad-fw-qemu"), ("test-firmware", "imuad-fw-qemu-test"),
    ("tinystack", "imuad-fw-qemu-tinystack"), ("hang", "imuad-fw-qemu-hang"),
    ("hello", "imuad-qemu-hello"), ("uart-sink", "imuad-qemu-uart-sink"))}
_ARM = ("arm-none-eabi-gcc", "qemu-system-arm")
_ESP32Q = {role: f"sim/boards/esp32-qemu/{elf}.elf" for role, elf in (
    ("firmware", "imuad-fw-qemu-xt"), ("test-firmware", "imuad-fw-qemu-xt-test"),
    ("icount", "imuad-fw-qemu-xt-icount"), ("tinystack", "imuad-fw-qemu-xt-tinystack"),
    ("hang", "imuad-fw-qemu-xt-hang"), ("hello", "imuad-qemu-xt-hello"), ("uart-sink", "imuad-qemu-xt-uart-sink"))}
_XTENSA_TC = "sim/boards/esp32-qemu/toolchain.cmake"  # finds xtensa-esp32-elf-gcc (not on PATH: ~/.cache)

TARGETS: dict[str, BuildTarget] = {t.name: t for t in (
    BuildTarget("host", "cmake", "firmware core + TFLM reference kernels as a POSIX process; C++ unit tests",
                board="posix", kernels="reference", cache={"IMUAD_BUILD_TESTS": "ON"}, artefacts=_POSIX,
                tools=("cc", "c++")),
    BuildTarget("host-asan", "cmake", "the host target with ASan + UBSan on imuad code (TFLM linked from host)",
                board="posix", kernels="reference", artefacts=_POSIX, needs=("host",), tools=("cc", "c++"),
                cache={"IMUAD_BUILD_TESTS": "ON", "IMUAD_SANITIZE": "ON",
                       "IMUAD_TFLM_PREBUILT": "{build:host}/sim/boards/posix/libimuad_tflm.a"}),
    BuildTarget("qemu", "cmake", "QEMU mps2-an386 Cortex-M4F, TFLM reference kernels",
                board="mps2-an386", kernels="reference", toolchain="sim/boards/mps2-an386/toolchain.cmake",
                artefacts=_MPS2, tools=_ARM),
    BuildTarget("qemu-nn", "cmake", "QEMU mps2-an386 Cortex-M4F, CMSIS-NN kernels and every op of the op table "
                "(as esp-tflite-micro on the chip): the cost of any model loaded at run time",
                board="mps2-an386", kernels="cmsis_nn", toolchain="sim/boards/mps2-an386/toolchain.cmake",
                cache={"IMUAD_TFLM_OPS": "all"}, artefacts=_MPS2, tools=_ARM),
    BuildTarget("qemu-xt", "cmake", "QEMU sim machine, esp32 core: the firmware compiled for the ESP32 "
                "(xtensa-esp32-elf), TFLM reference kernels", board="esp32-qemu", kernels="reference",
                toolchain=_XTENSA_TC, artefacts=_ESP32Q, needs=("xtensa-toolchain", "qemu-xtensa-esp32")),
    BuildTarget("qemu-xt-nn", "cmake", "QEMU sim machine, esp32 core: the firmware compiled for the ESP32 "
                "(xtensa-esp32-elf), ESP-NN kernels (as on the chip)", board="esp32-qemu", kernels="esp_nn",
                toolchain=_XTENSA_TC, artefacts=_ESP32Q, needs=("xtensa-toolchain", "qemu-xtensa-esp32")),
    BuildTarget("xtensa-toolchain", "script", "the xtensa-esp32-elf toolchain: Espressif's on PATH, else the one "
                "built here from source (../shared/toolchains), checked and unpacked into ~/.cache/imuad",
                project="device/tools/esp32/toolchain.sh", rerun=False, artefacts={}, tools=("tar", "sha256sum")),
    BuildTarget("qemu-xtensa-esp32", "script", "qemu-system-xtensa with the esp32 core (Debian's QEMU 7.2 "
                "source + Espressif's xtensa_esp32 overlay) for qemu-xt / qemu-xt-nn",
                project="sim/boards/esp32-qemu/qemu/build-qemu-esp32.sh", script_args=("--fetch", "{out}",
                "{vendor}/xtensa-overlays"), rerun=False, artefacts={"emulator": "bin/qemu-system-xtensa"},
                tools=("cc", "meson", "ninja", "pkg-config", "python3", "apt-get", "dpkg-source")),
    BuildTarget("idflinux", "idf", "the ESP-IDF app (device/) on ESP-IDF's linux target; a test build "
                "(carries the fixture models)", project="device", kernels="reference",
                artefacts={"firmware": "imuad_device.elf", "test-firmware": "imuad_device.elf"},
                tools=("cc", "c++", "ruby")),
    BuildTarget("idflinux-unity", "idf", "the ESP-IDF Unity test app (device/test) on the linux target",
                project="device/test", artefacts={"tests": "imuad_device_test.elf"}, tools=("cc", "c++", "ruby")),
    BuildTarget("micropython", "micropython", "MicroPython unix port with the imuad module (links host's core "
                "and TFLM)", kernels="reference", needs=("host",), artefacts={"firmware": "micropython"},
                tools=("make", "cc")),
    BuildTarget("nimble-linux", "cmake", "the BLE GATT server (ble_alerts) on upstream NimBLE's Linux port",
                board="nimble-linux", build_type="RelWithDebInfo",
                artefacts={"firmware": "sim/boards/nimble-linux/imuad-ble-host",
                           "proto-test": "sim/boards/nimble-linux/ble_alerts_test_proto",
                           "c8-vectors": "sim/boards/nimble-linux/ble_alerts_c8_vectors"},
                tools=("cc",)),
    BuildTarget("esp32", "script", "the ESP-IDF app (device/) for the ESP32 (Xtensa LX6): BLE, ESP-NN kernels; "
                "toolchain and a writable ESP-IDF assembled offline", project="device/tools/esp32/build-esp32.sh",
                script_args=("--build", "{out}", "--jobs", "{jobs}"), kernels="esp_nn", needs=("xtensa-toolchain",),
                artefacts={"firmware": "app/imuad_device.bin", "elf": "app/imuad_device.elf",
                           "bootloader": "app/bootloader/bootloader.bin",
                           "partition-table": "app/partition_table/partition-table.bin",
                           "flash-dir": "app", "size": "size.txt", "size-components": "size-components.txt"},
                tools=("cc", "python3", "tar", "patch")),
    BuildTarget("micropython-esp32", "idf", "MicroPython's ESP32 port with the imuad module (needs an ESP-IDF "
                "with the Xtensa toolchain: not on the CI machines)", project="{vendor}/micropython/ports/esp32",
                kernels="esp_nn", idf_target="esp32",
                idf_args=("-DMICROPY_BOARD=ESP32_GENERIC",
                          "-DMICROPY_BOARD_DIR={vendor}/micropython/ports/esp32/boards/ESP32_GENERIC",
                          "-DUSER_C_MODULES={repo}/device/micropython/micropython.cmake",
                          "-DEXTRA_COMPONENT_DIRS={vendor}/esp-tflite-micro;{repo}/device/components/imuad_core",
                          "-DSDKCONFIG_DEFAULTS={vendor}/micropython/ports/esp32/boards/sdkconfig.base;"
                          "{vendor}/micropython/ports/esp32/boards/sdkconfig.ble;"
                          "{repo}/device/micropython/esp32/sdkconfig.imuad"),
                artefacts={"firmware": "micropython.bin"}, tools=("xtensa-esp32-elf-gcc",)),
)}
