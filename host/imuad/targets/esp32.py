"""The `esp32` target: a board running the imuad ESP-IDF firmware, over its serial port.

PORT is a device path (/dev/ttyUSB0, /dev/ttyACM0) or a pyserial URL (socket://host:port,
rfc2217://..., loop://). `exec:COMMAND` runs a local program and talks over its stdin/stdout
(the ESP-IDF linux ELF or imuad-fw-host), so the HIL code is tested without hardware.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from ..errors import ImuadError
from .base import Target, TargetError, Transport

DEFAULT_BAUD = 115200


def _serial():
    try:
        import serial  # pyserial
    except ImportError as exc:  # pragma: no cover - pyserial is a core dependency of [device]
        raise ImuadError("serial ports need pyserial: pip install -e '.[device]'") from exc
    return serial


def check_port(port: str) -> None:
    """Clear errors for the usual mistakes before pyserial's own messages."""
    if not port:
        raise ImuadError("no serial port given (--port /dev/ttyUSB0, or socket://HOST:PORT, or exec:CMD)")
    if port.startswith("exec:") or "://" in port:
        return
    p = Path(port)
    if not p.exists():
        raise ImuadError(f"serial port {port} does not exist: is the board plugged in? "
                         f"(ls /dev/ttyUSB* /dev/ttyACM*)")
    if not os.access(p, os.R_OK | os.W_OK):
        raise ImuadError(f"no permission to open {port}: add yourself to its group "
                         f"(sudo usermod -aG dialout $USER, then log in again)")


class SerialTransport(Transport):
    """A pyserial port. DTR/RTS stay released so opening the port does not reset the board."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD) -> None:
        serial = _serial()
        check_port(port)
        self.port = port
        try:
            self.ser = serial.serial_for_url(port, baudrate=baud, timeout=0, do_not_open=True)
            try:
                self.ser.dtr = False
                self.ser.rts = False
            except (AttributeError, OSError, ValueError):
                pass  # URLs without modem lines
            self.ser.open()
        except serial.SerialException as exc:
            msg = str(exc)
            if "Permission denied" in msg:
                raise ImuadError(f"no permission to open {port}: sudo usermod -aG dialout $USER") from exc
            if "Connection refused" in msg:
                raise ImuadError(f"{port}: connection refused (is the emulator/bridge running?)") from exc
            raise ImuadError(f"cannot open {port}: {msg}") from exc

    def write(self, data: bytes) -> None:
        serial = _serial()
        try:
            self.ser.write(data)
        except (serial.SerialException, OSError) as exc:
            raise EOFError(f"{self.port}: write failed ({exc})") from exc

    def read(self, timeout: float) -> bytes:
        serial = _serial()
        try:
            self.ser.timeout = timeout
            first = self.ser.read(1)
            if not first:
                return b""
            self.ser.timeout = 0
            return first + self.ser.read(65536)
        except (serial.SerialException, OSError) as exc:
            raise EOFError(f"{self.port}: {exc}") from exc

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception:  # noqa: BLE001 - closing a dead port must not mask the real error
            pass


def open_port(port: str, baud: int = DEFAULT_BAUD) -> Transport:
    """Transport for PORT: `exec:CMD` -> child process pipes; anything else -> pyserial."""
    if port.startswith("exec:"):
        from .host import PipeTransport
        argv = shlex.split(port[len("exec:"):])
        if not argv:
            raise ImuadError("exec: needs a command, e.g. exec:build/idflinux/imuad_device.elf")
        if not Path(argv[0]).exists() and "/" in argv[0]:
            raise ImuadError(f"{argv[0]}: no such program (build it first)")
        try:
            return PipeTransport(argv)
        except OSError as exc:
            raise ImuadError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    return SerialTransport(port, baud)


class Esp32Target(Target):
    """An ESP32 (or anything speaking C7 frames) behind a serial port / URL."""

    name = "esp32"
    hello_timeout = 10.0   # first HELLO may meet the tail of the boot log
    idle_timeout = 20.0    # 115200 baud, ~ms per window inference on the chip
    max_inflight_chunks = 2  # UART RX buffer on the chip is 4 KB

    def __init__(self, port: str | None = None, baud: int = DEFAULT_BAUD) -> None:
        self.port = port or os.environ.get("IMUAD_ESP32_PORT", "")
        self.baud = baud

    def available(self) -> tuple[bool, str]:
        if not self.port:
            return False, "no serial port given (--port /dev/ttyUSB0 or IMUAD_ESP32_PORT)"
        try:
            check_port(self.port)
        except ImuadError as exc:
            return False, str(exc)
        return True, ""

    def open(self) -> Transport:
        ok, why = self.available()
        if not ok:
            raise TargetError(why)
        return open_port(self.port, self.baud)
