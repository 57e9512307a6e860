"""The `qemu-xt` / `qemu-xt-nn` targets: imuad-fw-qemu-xt, the firmware compiled for the ESP32
(xtensa-esp32-elf, build-table board esp32-qemu), bare metal on QEMU's `sim` machine with an
`esp32` CPU core.

No core shipped with qemu-system-xtensa runs esp32 code (none has MUL32_HIGH: MULSH/MULUH, which
every 32x32->64 multiply of the requantization compiles to), so the esp32 core is imported from
Espressif's xtensa_esp32 overlay into Debian's QEMU 7.2 source: build-table row
`qemu-xtensa-esp32` (sim/boards/esp32-qemu/qemu/build-qemu-esp32.sh, built on first use), or
any such binary named by $IMUAD_QEMU_XTENSA.

Frames: the sim machine has no UART. Its SIMCALL read(0)/write(1) go to QEMU's serial_hd(0),
here a TCP server chardev reached with pyserial `socket://` as for `qemu` (no mux, no escaping;
QEMU buffers 16 input bytes, the firmware naps 2 us while none is there). QEMU runs with
`-icount shift=0`: 1 instruction = 1 ns, and the core clock is 1 GHz, so CCOUNT counts
instructions; WINDOW_RESULT.infer_us is CCOUNT/40 (C7's "instructions/40", as on mps2-an386;
the `icount` artefact reports single instructions). Semihosting (SIMCALL) gives the exit code
and fatal messages (QEMU's stderr). `rx="semihost"` sends host->device bytes through a FIFO the
firmware reads with a blocking SIMCALL read (`-semihosting-config arg=rx=PATH`); device->host
frames stay on the console.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..build import TARGETS, artefact, missing_tools
from ..build.drivers import xtensa_toolchain_bin
from ..errors import ImuadError
from .qemu import QemuTarget, QemuTransport, uart_sink

INSTR_PER_TICK = 40           # CCOUNT (1 GHz core clock, 1 instruction per ns) / 40
XT_TARGETS = ("qemu-xt", "qemu-xt-nn")  # the esp32-qemu rows of the build table
EMULATOR = "qemu-xtensa-esp32"          # the build-table row of the emulator
# exit codes of sim/boards/esp32-qemu/esp32q.h
EXIT_MEANING = {0: "clean exit after BYE", 2: "main() returned", 3: "CPU exception (see the FATAL line)",
                4: "stack overflow (the DBREAK0 guard at the bottom of the thread stack fired)",
                5: "abort / out of memory (tensor arena does not fit the DRAM budget?)"}


def firmware_elf(target: str = "qemu-xt", role: str = "firmware") -> Path:
    """An ELF of the qemu-xt / qemu-xt-nn build (roles: firmware, test-firmware, icount,
    tinystack, hang, hello, uart-sink), built first."""
    if target not in XT_TARGETS:
        raise ImuadError(f"'{target}' is not an esp32-qemu target ({', '.join(XT_TARGETS)})")
    return artefact(target, role)


def qemu_binary(build: bool = True) -> str | None:
    """qemu-system-xtensa with the esp32 core: $IMUAD_QEMU_XTENSA, else the build-table row's
    (built on first use when build=True)."""
    env = os.environ.get("IMUAD_QEMU_XTENSA")
    if env:
        return env if Path(env).exists() else None
    path = artefact(EMULATOR, "emulator", build=build)
    return str(path) if path.exists() else None


def qemu_argv(binary: str, elf: Path, port: int, rx_path: Path | None = None) -> list[str]:
    semi = "enable=on,target=native" + (f",arg=rx={rx_path}" if rx_path else "")
    return [binary, "-M", "sim", "-cpu", "esp32", "-m", "4M", "-display", "none", "-monitor", "none",
            "-icount", "shift=0,align=off,sleep=on", "-semihosting-config", semi,
            "-chardev", f"socket,id=con0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on",
            "-serial", "chardev:con0", "-kernel", str(elf)]


class QemuXtTransport(QemuTransport):
    """qemu-system-xtensa -M sim -cpu esp32 + its console socket."""

    binary_hint = f"imuad build {EMULATOR}, or set IMUAD_QEMU_XTENSA"
    mux = False
    exit_meaning = EXIT_MEANING

    def __init__(self, elf: Path, start_timeout: float = 10.0, rx: str = "uart") -> None:
        self.binary = qemu_binary() or "qemu-system-xtensa (esp32 core: not built)"
        super().__init__(elf, start_timeout=start_timeout, rx=rx)

    def argv(self, port: int, rx_path: Path | None) -> list[str]:
        # IMUAD_QEMU_XT_ARGS: extra QEMU options for debugging, e.g. "-d in_asm -D /tmp/tb.log"
        # (the opcode census of sim/boards/esp32-qemu/qemu/isa_check.py --trace)
        return qemu_argv(self.binary, self.elf, port, rx_path) + os.environ.get("IMUAD_QEMU_XT_ARGS", "").split()


def console_sink(elf: Path, data: bytes, timeout: float | None = None) -> float:
    """Send `data` to imuad-qemu-xt-uart-sink.elf over the console; seconds taken. Raises
    TargetError unless the probe saw exactly these bytes (count and FNV-1a hash)."""
    return uart_sink(elf, data, timeout, transport=QemuXtTransport, link="console")


class QemuXtTarget(QemuTarget):
    """imuad-fw-qemu-xt on QEMU sim/esp32: TFLM reference kernels ('qemu-xt') or ESP-NN
    ('qemu-xt-nn'). firmware: the ELF's role in the build table (test-firmware also carries the
    fixture models; icount reports single instructions)."""

    board = "QEMU sim machine, esp32 core (Xtensa LX6)"
    instr_per_tick = INSTR_PER_TICK
    clock_hz = 1_000_000_000        # core clock 1 GHz and -icount shift=0: CCOUNT = instructions
    size_tool = "xtensa-esp32-elf-size"
    flash_budget = 2 * 1024 * 1024  # sim/boards/esp32-qemu/esp32_qemu.ld: the factory app partition
    ram_budget = 320 * 1024         # DRAM (IRAM, 128 KiB, holds only the vectors)
    text_sections = (".iram.vectors", ".iram.text", ".flash.text", ".flash.rodata")
    stack_sections = (".stack", ".fault_stack")
    transport_class = QemuXtTransport

    def __init__(self, target: str = "qemu-xt", elf: str | Path | None = None, firmware: str = "firmware",
                 hello_timeout: float | None = None, idle_timeout: float | None = None,
                 rx: str = "uart", test_models: bool = False) -> None:
        if target not in XT_TARGETS:
            raise ImuadError(f"'{target}' is not an esp32-qemu target ({', '.join(XT_TARGETS)})")
        super().__init__("qemu", elf=elf, firmware=firmware, hello_timeout=hello_timeout,
                         idle_timeout=idle_timeout, rx=rx, test_models=test_models)
        self.name = target
        self.kernels = TARGETS[target].kernels
        tc = xtensa_toolchain_bin()
        if tc is not None:
            self.size_tool = str(tc / "xtensa-esp32-elf-size")
        self.last_transport: QemuXtTransport | None = None

    def executable(self) -> Path:
        elf = self.elf or firmware_elf(self.name, self.firmware)
        qemu_binary()  # the emulator too (built once), not inside the first session's timing
        return elf

    def available(self) -> tuple[bool, str]:
        why = missing_tools(self.name)
        if why:
            return False, why
        if not os.environ.get("IMUAD_QEMU_XTENSA") and qemu_binary(build=False) is None:
            why = missing_tools(EMULATOR)
            if why:
                return False, f"the esp32 QEMU ({EMULATOR}) cannot be built here: {why}"
        elif os.environ.get("IMUAD_QEMU_XTENSA") and qemu_binary(build=False) is None:
            return False, f"IMUAD_QEMU_XTENSA={os.environ['IMUAD_QEMU_XTENSA']} does not exist"
        return True, ""
