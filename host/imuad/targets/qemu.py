"""The `qemu` / `qemu-nn` targets: imuad-fw-qemu on QEMU mps2-an386 (Cortex-M4F), frames on UART0.

QEMU runs with `-icount shift=0` (1 instruction = 1 ns of virtual time, SysTick = 40
instructions per tick, so WINDOW_RESULT.infer_us x 40 is the instruction count), UART0 on a
TCP server chardev that we reach with pyserial `socket://`, semihosting for the exit code and
fatal messages (QEMU's stderr). Every wait has a timeout; close() always stops QEMU.

Throughput of the UART path. QEMU's CMSDK UART model holds one received byte; a plain chardev
hands it the next byte only after the guest read the last one and the I/O thread went round
its loop again (~13 KB/s, about 1x real time for 2 kHz x 3 axes). UART0's chardev is therefore
created with `mux=on`: the mux keeps a 32-byte buffer that the I/O thread fills while the
guest computes, and each guest read of DATA pulls the next byte from it at once. The mux
treats its escape character as a command prefix, so we set it to 0x00 (`-echr 0`) and send
every 0x00 twice (C7 frames carry one 0x00, their delimiter); the mux passes an escaped escape
as one byte. The firmware sleeps in WFI while no byte is waiting (polling would take QEMU's
global lock on every register read), hence `sleep=on`: idle time advances the virtual clock
with the host clock, which never touches a window's instruction count. Measured ceiling of the
path (a bare-metal reader doing nothing else): 96-133 KB/s, 8-11x real time before framing.
`rx="semihost"` sends the host->device bytes through a FIFO that the firmware reads with
semihosting SYS_READ instead (device->host frames stay on UART0): faster, but not the contract.
"""
from __future__ import annotations

import collections
import errno
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path

from .. import procs
from ..build import TARGETS, artefact
from ..errors import ImuadError
from .base import Target, TargetError, Transport

INSTR_PER_TICK = 40          # SysTick on the 25 MHz CPU clock under -icount shift=0
SYSCLK_HZ = 25_000_000
# semihosting exit codes of sim/boards/mps2-an386/mps2.h
EXIT_MEANING = {0: "clean exit after BYE", 2: "main() returned", 3: "HardFault",
                4: "stack overflow (thread stack ran into unmapped memory)",
                5: "abort / out of memory (tensor arena does not fit the RAM budget?)"}
QEMU_TARGETS = ("qemu", "qemu-nn")  # the mps2-an386 rows of the build table
MUX_ESCAPE = 0x00  # -echr: the mux's command prefix; doubled on the wire (see module doc)


def firmware_elf(target: str = "qemu", role: str = "firmware") -> Path:
    """An ELF of the qemu / qemu-nn build (roles of the build table: firmware, test-firmware,
    tinystack, hang, hello, uart-sink), built first."""
    if target not in QEMU_TARGETS:
        raise ImuadError(f"'{target}' is not a QEMU target ({', '.join(QEMU_TARGETS)})")
    return artefact(target, role)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_argv(elf: Path, port: int, rx_path: Path | None = None) -> list[str]:
    extra = ["-append", f"rx={rx_path}"] if rx_path else []
    return ["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-display", "none", "-monitor", "none",
            "-icount", "shift=0,align=off,sleep=on", "-semihosting-config", "enable=on,target=native",
            "-chardev", f"socket,id=uart0,host=127.0.0.1,port={port},server=on,wait=on,mux=on",
            "-serial", "chardev:uart0", "-echr", str(MUX_ESCAPE), "-kernel", str(elf), *extra]


def mux_escape(data: bytes) -> bytes:
    """Host->UART0 bytes as the muxed chardev needs them: its escape byte doubled."""
    esc = bytes([MUX_ESCAPE])
    return data.replace(esc, esc + esc)


class QemuTransport(Transport):
    """QEMU process + its UART0 socket (pyserial socket://).

    Subclasses (qemu_xtensa.py) change the command line (`argv`), the binary, whether the
    chardev is muxed (`mux`: 0x00 doubled on the wire) and the exit-code table."""

    binary = "qemu-system-arm"
    binary_hint = "apt-get install qemu-system-arm"
    mux = True
    exit_meaning = EXIT_MEANING

    def argv(self, port: int, rx_path: Path | None) -> list[str]:
        return qemu_argv(self.elf, port, rx_path)

    def __init__(self, elf: Path, start_timeout: float = 10.0, rx: str = "uart") -> None:
        import serial  # pyserial (extra `device`)
        if shutil.which(self.binary) is None:
            raise TargetError(f"{self.binary} not found ({self.binary_hint})")
        self.elf = Path(elf)
        self._stderr: collections.deque[str] = collections.deque(maxlen=30)
        self._eof = False
        self.rx = rx
        self._rx_fd: int | None = None
        self._tmp = None
        rx_path = None
        if rx == "semihost":  # host->device bytes through a FIFO read with semihosting SYS_READ
            self._tmp = tempfile.TemporaryDirectory(prefix="imuad-qemu-")
            rx_path = Path(self._tmp.name) / "rx.fifo"
            os.mkfifo(rx_path)
        elif rx != "uart":
            raise TargetError(f"unknown rx channel '{rx}' (uart | semihost)")
        last_err = ""
        for _attempt in range(3):  # the free port may be taken between probe and QEMU's bind
            self.port = _free_port()
            self.proc = procs.spawn(self.argv(self.port, rx_path), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self._finalizer = weakref.finalize(self, procs.stop, self.proc)
            threading.Thread(target=self._pump, daemon=True).start()
            self.ser = None
            deadline = time.monotonic() + start_timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    self.ser = serial.serial_for_url(f"socket://127.0.0.1:{self.port}", timeout=0.1)
                    break
                except (serial.SerialException, OSError) as exc:
                    last_err = str(exc)
                    time.sleep(0.05)
            if self.ser is not None:
                self.t_start = time.monotonic()
                if rx_path is not None:
                    self._open_rx(rx_path, deadline)
                return
            procs.stop(self.proc)
        raise TargetError(f"could not connect to QEMU's UART0 ({last_err}); {self.diagnostics()}")

    def _open_rx(self, path: Path, deadline: float) -> None:
        while self._rx_fd is None:
            try:  # ENXIO until the firmware has opened the FIFO for reading
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline or self.proc.poll() is not None:
                    procs.stop(self.proc)
                    raise TargetError(f"firmware did not open its semihosting rx FIFO ({exc}); "
                                      f"{self.diagnostics()}") from None
                time.sleep(0.02)
                continue
            os.set_blocking(fd, True)
            self._rx_fd = fd

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            text = line.decode(errors="replace").rstrip()
            if "QEMU waiting for connection" not in text:
                self._stderr.append(text)

    def write(self, data: bytes) -> None:
        if self.proc.poll() is not None:
            raise EOFError(f"QEMU exited (code {self.proc.returncode})")
        if self._rx_fd is not None:
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._rx_fd, view):]
            except OSError as exc:
                raise EOFError(f"rx FIFO closed: {exc}") from exc
            return
        try:
            self.ser.write(mux_escape(data) if self.mux else data)
        except Exception as exc:  # noqa: BLE001 - pyserial raises SerialException/OSError
            raise EOFError(f"UART0 socket closed: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        if self._eof:
            raise EOFError(f"UART0 socket closed; QEMU exit code {self.exit_code(timeout=2.0)}")
        self.ser.timeout = timeout
        data = b""
        try:
            # pyserial's socket in_waiting is 1 for "readable" (also at EOF), and a read that
            # hits EOF raises and drops what it got: read 1 byte at a time, keep what arrived.
            data = self.ser.read(1)
            while data and self.ser.in_waiting and len(data) < 65536:
                more = self.ser.read(1)
                if not more:
                    break
                data += more
        except Exception:  # noqa: BLE001 - pyserial raises SerialException on EOF
            self._eof = True
            if not data:
                raise EOFError(f"UART0 socket closed; QEMU exit code {self.exit_code(timeout=2.0)}") from None
        if not data and self.proc.poll() is not None:
            raise EOFError(f"QEMU exited (code {self.proc.returncode})")
        return data

    def exit_code(self, timeout: float = 0.0) -> int | None:
        try:
            return self.proc.wait(timeout=timeout) if timeout > 0 else self.proc.poll()
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        try:
            if self._rx_fd is not None:
                os.close(self._rx_fd)
                self._rx_fd = None
            if self.ser is not None:
                self.ser.close()
        finally:
            procs.stop(self.proc)
            self._finalizer.detach()
            if self._tmp is not None:
                self._tmp.cleanup()

    def diagnostics(self) -> str:
        rc = self.proc.poll()
        lines = "\n".join(self._stderr)
        head = ""
        if rc is not None:
            head = f"QEMU exit code {rc}: {self.exit_meaning.get(rc, 'unexpected')}\n"
        return head + (f"QEMU/semihosting output:\n{lines}" if lines else "")


def fnv1a32(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def uart_sink(elf: Path, data: bytes, timeout: float | None = None, transport: type | None = None,
              link: str = "UART0") -> float:
    """Send `data` to a board's byte-sink probe (imuad-qemu-uart-sink.elf over UART0; the
    esp32-qemu one passes its transport and link); seconds taken. Raises TargetError unless the
    probe saw exactly these bytes (count and FNV-1a hash)."""
    t = (transport or QemuTransport)(elf)
    try:
        t0 = time.monotonic()
        t.write(struct.pack("<I", len(data)))
        for i in range(0, len(data), 1 << 16):
            t.write(data[i:i + (1 << 16)])
        out = b""
        deadline = time.monotonic() + (timeout if timeout is not None else 30 + len(data) / 20_000)
        while b"\n" not in out and time.monotonic() < deadline:
            out += t.read(0.5)
        dt = time.monotonic() - t0
        m = re.search(rb"sink (\d+) (\d+)", out)
        want = (len(data), fnv1a32(data))
        if not m or (int(m.group(1)), int(m.group(2))) != want:
            raise TargetError(f"{link} probe answered {out[:80]!r}, expected 'sink {want[0]} {want[1]}'; "
                              f"{t.diagnostics()}")
        return dt
    finally:
        t.close()


class QemuTarget(Target):
    """imuad-fw-qemu on QEMU mps2-an386: TFLM reference kernels ('qemu') or CMSIS-NN ('qemu-nn').
    firmware: the ELF's role in the build table (test-firmware also carries the fixture models)."""

    hello_timeout = 20.0
    idle_timeout = 30.0
    max_inflight_chunks = 4
    transport_class: type[QemuTransport] = QemuTransport  # the board's byte link (esp32-qemu: its console)
    board = "QEMU mps2-an386 Cortex-M4F"
    instr_per_tick = INSTR_PER_TICK
    clock_hz = 1_000_000_000      # -icount shift=0: one instruction per ns of virtual time
    size_tool = "arm-none-eabi-size"
    flash_budget = 1024 * 1024    # sim/boards/mps2-an386/mps2_an386.ld
    ram_budget = 320 * 1024
    # `size -A` sections for evaluation.sim.elf_sizes: flash = text + the .data image
    text_sections: tuple[str, ...] = (".text", ".ARM.extab", ".ARM.exidx")
    stack_sections: tuple[str, ...] = (".stack", ".handler_stack")

    def __init__(self, target: str = "qemu", elf: str | Path | None = None, firmware: str = "firmware",
                 hello_timeout: float | None = None, idle_timeout: float | None = None,
                 rx: str = "uart", test_models: bool = False) -> None:
        if target not in QEMU_TARGETS:
            raise ImuadError(f"'{target}' is not a QEMU target ({', '.join(QEMU_TARGETS)})")
        self.name = target
        self.kernels = TARGETS[target].kernels
        self.rx = rx
        self.elf = Path(elf) if elf else None
        self.firmware = "test-firmware" if test_models and firmware == "firmware" else firmware
        if hello_timeout is not None:
            self.hello_timeout = hello_timeout
        if idle_timeout is not None:
            self.idle_timeout = idle_timeout
        self.last_transport: QemuTransport | None = None

    def executable(self) -> Path:
        return self.elf or firmware_elf(self.name, self.firmware)

    def available(self) -> tuple[bool, str]:
        for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
            if shutil.which(tool) is None:
                return False, f"{tool} not installed"
        return True, ""

    def open(self) -> Transport:
        ok, why = self.available()
        if not ok:
            raise ImuadError(f"target '{self.name}' unavailable: {why}")
        try:
            self.last_transport = self.transport_class(self.executable(), rx=self.rx)
        except TargetError as exc:
            raise ImuadError(f"target '{self.name}': {exc}") from exc
        return self.last_transport
