"""imuad monitor / hil command line: clear errors, exec: ports, the linux ELF over a pty (imuad flash:
tests/test_flashing.py, against a mock ROM bootloader)."""
from __future__ import annotations

import io
import json
import subprocess

import pytest

from imuad.cli import main
from imuad.errors import ImuadError
from imuad.contracts import frames as P
from imuad.monitor import TextAndFrames, monitor

from imuad.paths import REPO_ROOT

FIXTURE_MODEL = REPO_ROOT / "tests" / "firmware" / "fixtures" / "models" / "fixture_cnn"

pytestmark = pytest.mark.timeout(900)  # first use of a target may build it


def test_missing_port_message(capsys, recording):
    rc = main(["hil", "--port", "/dev/ttyNOPE0", "--model", str(FIXTURE_MODEL), "--recording", str(recording)])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_text_and_frames_splitter():
    s = TextAndFrames()
    stream = (b"rst:0x1 (POWERON_RESET)\r\nI (31) boot: ESP-IDF v5.3\r\n" + b"\0" +
              P.encode_frame(P.Log(2, "hello")) + b"\x13\x99garbage\0" + P.encode_frame(P.Event(3, 1, 200, 5)))
    got = s.feed(stream)
    kinds = [k for k, _ in got]
    assert kinds.count("text") == 2 and kinds.count("frame") == 2
    assert isinstance(got[-1][1], P.Event) and got[-1][1].window == 3


def test_monitor_linux_elf(idf_linux_elf):
    buf = io.StringIO()
    counters = monitor(f"exec:{idf_linux_elf}", seconds=3.0, hello="fixture_cnn", out=buf)
    text = buf.getvalue()
    assert "DEVICE_INFO idflinux" in text and "fixture_cnn" in text, text
    assert counters["frames_ok"] >= 1


def test_hil_cli_over_exec_linux_elf(idf_linux_elf, recording, tmp_path, capsys):
    report = tmp_path / "r.json"
    rc = main(["hil", "--port", f"exec:{idf_linux_elf}", "--model", str(FIXTURE_MODEL),
               "--recording", str(recording), "--report", str(report)])
    out = capsys.readouterr().out
    assert rc == 0, out
    rep = json.loads(report.read_text())
    assert rep["ok"] and rep["bit_exact_pct"] == 100.0 and rep["device"]["target"] == "idflinux"
    assert 0 < rep["infer_us"]["mean"] <= rep["infer_us"]["max"]  # microseconds around TFLM Invoke
    assert "bit-exact (100.0 %)" in out


def test_hil_host_build_over_pty(recording):
    """The host build behind a pseudo-terminal, as a USB serial port would be."""
    from imuad.contracts.card import load_model_dir
    from imuad.evaluation.hil import run_hil
    from imuad.evaluation.recordings import segments
    from imuad.targets import get_target
    try:
        target = get_target("host", pty=True, test_models=True)
        transport = target.open()
    except (ImuadError, Exception) as exc:  # noqa: BLE001 - host build missing -> skip, not fail
        pytest.skip(f"host build over pty unavailable: {exc}")
    model = load_model_dir(FIXTURE_MODEL)
    rep = run_hil(transport, model, segments(model.card, recording)[1], port="pty")
    assert rep.ok and rep.device["target"] == "host", rep.first_mismatch


def test_linux_elf_exits_on_eof_and_answers_garbage(idf_linux_elf):
    """Garbage never crashes the ESP-IDF app; closing stdin ends it cleanly."""
    junk = bytes(range(256)) * 8 + b"\0" * 3 + b"\xff" * 5000 + b"\0"
    req = b"\0" + P.encode_frame(P.Hello("")) + junk + P.encode_frame(P.StatsReq()) + P.encode_frame(P.Bye())
    res = subprocess.run([str(idf_linux_elf)], input=req, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr[-2000:]
    msgs = P.FrameDecoder().feed(res.stdout)
    stats = [m for m in msgs if isinstance(m, P.Stats)]
    assert isinstance(msgs[0], P.DeviceInfo) and len(stats) == 2
    assert stats[-1].cobs_error + stats[-1].oversized + stats[-1].crc_error > 0
