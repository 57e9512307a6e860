"""No child process outlives imuad, and no output is half written, however imuad ends
(imuad.procs): SIGTERM, SIGHUP and SIGKILL at random points of long-running commands."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from imuad.paths import REPO_ROOT

pytestmark = pytest.mark.timeout(900)


def tagged_processes(tag: str) -> list[int]:
    """Every live (non-zombie) process whose environment carries the tag: imuad and its children."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if tag.encode() not in (d / "environ").read_bytes():
                continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
        except OSError:
            continue
        pids.append(int(d.name))
    return pids


def run_and_kill(argv: list[str], sig: int, after: float, cwd: Path) -> tuple[str, list[int]]:
    tag = f"IMUAD_FAULT_TAG={uuid.uuid4().hex}"
    env = dict(os.environ, IMUAD_FAULT_TAG=tag.split("=", 1)[1])
    proc = subprocess.Popen([sys.executable, "-m", "imuad.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    time.sleep(after)
    if proc.poll() is None:
        proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    deadline = time.monotonic() + 10  # PDEATHSIG and SIGTERM handlers act at once; QEMU needs a moment
    left = tagged_processes(tag.split("=", 1)[1])
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = tagged_processes(tag.split("=", 1)[1])
    for pid in left:  # leave nothing behind for the next test, whatever this one concludes
        os.kill(pid, signal.SIGKILL)
    return out, left


@pytest.fixture(scope="module")
def stream(tmp_path_factory) -> Path:
    """40 s of the synthetic machine: long enough to be killed in the middle of a replay."""
    from imuad.data.recording import save_recording
    from imuad.data.synth import PRESETS, synth_machine
    rec = synth_machine(replace(PRESETS["default"](seed=5), duration_s=40.0, faults=()))
    return save_recording(rec, tmp_path_factory.mktemp("rec") / "r.npz")


def _complete_json(path: Path) -> None:
    if path.exists():
        json.loads(path.read_text())  # never a half-written report


RNG = random.Random(20261128)
CASES = [(name, sig, round(RNG.uniform(0.5, 6.0), 2)) for name in ("replay", "sim")
         for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGKILL)]


@pytest.mark.parametrize("command, sig, after", CASES, ids=[f"{c}-{signal.Signals(s).name}-{a}s" for c, s, a in CASES])
def test_killed_command_leaves_no_process_and_no_partial_output(command, sig, after, stream, tmp_path):
    from imuad.build import artefact
    artefact("host")
    artefact("qemu")  # built beforehand: the kill must land in the run, not in a build
    out_dir = tmp_path / "out"
    argv = {"replay": ["replay", "--model", "synth", "--recording", str(stream), "--chunk", "16"],
            "sim": ["sim", "--model", "synth", "--recording", str(stream), "--out", str(out_dir)]}[command]
    out, left = run_and_kill(argv, sig, after, REPO_ROOT)
    assert left == [], f"processes left after {signal.Signals(sig).name} at {after} s: {left}\n{out[-2000:]}"
    assert "Traceback" not in out, out[-3000:]
    _complete_json(out_dir / "report.json")


@pytest.mark.parametrize("sig, after", [(signal.SIGTERM, 2.0), (signal.SIGKILL, 4.0)])
def test_killed_demo_leaves_no_process_and_no_partial_output(sig, after, tmp_path):
    out_dir = tmp_path / "demo"
    out, left = run_and_kill(["demo", "--out", str(out_dir), "--epochs", "1"], sig, after, REPO_ROOT)
    assert left == [], out[-2000:]
    for path in out_dir.rglob("*"):
        if path.suffix == ".json":
            _complete_json(path)
        if path.suffix == ".npz":
            np.load(path).files  # a recording is whole or absent


def test_gateway_run_dies_with_its_parent(tmp_path):
    """`imuad gateway run` scanning a virtual radio (Bumble) ends cleanly on SIGTERM, leaves nothing."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    radio = subprocess.Popen([sys.executable, "-m", "imuad.cli", "gateway", "vlink", "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2.0)
        out, left = run_and_kill(["gateway", "run", "--backend", "bumble", "--transport",
                                  f"tcp-client:127.0.0.1:{port}", "--db", str(tmp_path / "g.db"),
                                  "--scan-timeout", "600"], signal.SIGTERM, 3.0, REPO_ROOT)
    finally:
        radio.kill()
        radio.wait()
    assert left == [], out[-2000:]
    assert "Traceback" not in out, out[-3000:]
