"""The `host` target: imuad-fw-host (the firmware's ReplayApp on POSIX) over pipes or a pty."""
from __future__ import annotations

import collections
import os
import select
import subprocess
import threading
import tty
from pathlib import Path

from .. import procs
from ..build import artefact
from .base import Target, TargetError, Transport


class PipeTransport(Transport):
    """stdin/stdout of a child process; its stderr is kept (tail) for error messages."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = procs.spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                                env=env)
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._err_thread = threading.Thread(target=self._pump_stderr, daemon=True)
        self._err_thread.start()

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        try:
            for line in iter(self.proc.stderr.readline, b""):
                self._stderr.append(line.decode(errors="replace").rstrip())
        except (ValueError, OSError):  # close() closed the pipe under us: the process is gone
            pass

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ValueError) as exc:
            raise EOFError(f"firmware stdin closed (exit code {self.proc.poll()})") from exc

    def read(self, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return b""
        data = os.read(fd, 65536)
        if not data:
            raise EOFError(f"firmware exited (code {self.proc.poll()})")
        return data

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()  # EOF: imuad-fw-host exits
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        procs.stop(self.proc)  # also the group's leftovers
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()

    def diagnostics(self) -> str:
        rc = self.proc.poll()
        lines = "\n".join(self._stderr)
        return (f"imuad-fw-host exit code {rc}\n" if rc is not None else "") + (f"stderr:\n{lines}" if lines else "")


class PtyTransport(PipeTransport):
    """imuad-fw-host --pty: the firmware prints its pseudo-terminal path; we talk through it."""

    def __init__(self, argv: list[str], start_timeout: float = 10.0) -> None:
        super().__init__(argv + ["--pty"])
        assert self.proc.stdout is not None
        r, _, _ = select.select([self.proc.stdout], [], [], start_timeout)
        line = self.proc.stdout.readline().decode().strip() if r else ""
        if not line.startswith("/dev/"):
            procs.stop(self.proc)
            raise TargetError(f"imuad-fw-host --pty printed no pty path ({line!r})")
        self.path = line
        self.fd = os.open(line, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def read(self, timeout: float) -> bytes:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            if self.proc.poll() is not None:
                raise EOFError(f"firmware exited (code {self.proc.returncode})")
            return b""
        try:
            data = os.read(self.fd, 65536)
        except OSError as exc:  # EIO once the master side is gone
            raise EOFError(str(exc)) from exc
        if not data:
            raise EOFError("pty closed")
        return data

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        procs.stop(self.proc)
        super().close()


class HostTarget(Target):
    """Firmware core + TFLM reference kernels built for this machine (build target `host`);
    test_models: the -test firmware, which also carries the core's fixture models."""

    name = "host"
    hello_timeout = 10.0
    idle_timeout = 20.0
    max_inflight_chunks = 8

    def __init__(self, preset: str = "host", pty: bool = False, binary: str | Path | None = None,
                 extra_args: list[str] | None = None, test_models: bool = False) -> None:
        self.preset = preset
        self.test_models = test_models
        self.pty = pty
        self.binary = Path(binary) if binary else None
        self.extra_args = list(extra_args or [])
        if preset != "host":
            self.name = preset

    def executable(self) -> Path:
        return self.binary or artefact(self.preset, "test-firmware" if self.test_models else "firmware")

    def open(self) -> Transport:
        argv = [str(self.executable()), *self.extra_args]
        return PtyTransport(argv) if self.pty else PipeTransport(argv)
