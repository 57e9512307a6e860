"""Child processes that never outlive imuad (emulators, firmware builds, host apps, builds).

Every child starts in its own process group with PR_SET_PDEATHSIG=SIGKILL (Linux): if imuad
dies however it dies (SIGKILL included) the kernel kills the child, and `stop` kills the
child's whole group (ninja's compilers, QEMU's helpers). The CLI turns SIGTERM and SIGHUP
into SystemExit (`install_signal_handlers`), so `with`/`finally` blocks close transports and
write nothing half-done; whatever is still registered at exit is stopped by an atexit hook.
PDEATHSIG follows the *thread* that started the child: start long-lived children from the
thread that owns them (the CLI's main thread does).
"""
from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import threading
from typing import Any

_PR_SET_PDEATHSIG = 1
_live: set[subprocess.Popen] = set()
_lock = threading.Lock()


def _child_setup(parent: int) -> None:
    """Runs in the child between fork and exec."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the atexit hook and stop() remain
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen:
    """subprocess.Popen in a new process group that dies with imuad."""
    parent = os.getpid()
    proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=lambda: _child_setup(parent), **kwargs)
    with _lock:
        _live.add(proc)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 3.0) -> int | None:
    """SIGTERM to the child's group, SIGKILL after `timeout`; returns the exit code."""
    try:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        else:
            _signal_group(proc, signal.SIGKILL)  # leftovers of a child that exited first
        return proc.returncode
    finally:
        with _lock:
            _live.discard(proc)


def forget(proc: subprocess.Popen) -> None:
    """The child has been reaped by its owner."""
    with _lock:
        _live.discard(proc)


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """subprocess.run for tools (cmake, ninja, size): the group is killed if imuad is interrupted."""
    proc = spawn(argv, **{k: v for k, v in kwargs.items() if k not in ("check", "timeout", "input")})
    try:
        out, err = proc.communicate(input=kwargs.get("input"), timeout=kwargs.get("timeout"))
    except BaseException:
        stop(proc, timeout=1.0)
        raise
    forget(proc)
    result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if kwargs.get("check"):
        result.check_returncode()
    return result


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _stop_all() -> None:
    with _lock:
        procs = list(_live)
    for p in procs:
        stop(p, timeout=1.0)


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """SIGTERM / SIGHUP unwind the main thread like Ctrl-C does (cleanup runs, children stop)."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _raise_exit)


def rss_mib(pid: int) -> float:
    """Resident memory of a live process (VmRSS), MiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(f"no VmRSS for pid {pid} (exited?)")
