"""imuad flash / monitor / hil command line: clear errors, exec: ports, the linux ELF over a pty."""
from __future__ import annotations

import io
import json
import subprocess

import pytest

from imuad.cli import main
from imuad.errors import ImuadError
from imuad.targets.device_cmd import TextAndFrames, flash, flash_plan, monitor
from imuad import protocol as P

from imuad.paths import REPO_ROOT

FIXTURE_MODEL = REPO_ROOT / "tests" / "core" / "fixtures" / "models" / "fixture_cnn"

pytestmark = pytest.mark.timeout(900)  # first use of a target may build it


def test_flash_missing_build(tmp_path, capsys):
    assert main(["flash", "--port", "/dev/ttyUSB0", "--build", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_flash_linux_build_is_refused(idf_linux_elf):
    with pytest.raises(ImuadError, match="flasher_args.json not found|linux"):
        flash_plan(idf_linux_elf.parent)


def test_flash_plan_and_missing_port(tmp_path):
    (tmp_path / "bootloader").mkdir()
    (tmp_path / "partition_table").mkdir()
    for rel in ("bootloader/bootloader.bin", "partition_table/partition-table.bin", "imuad_device.bin"):
        (tmp_path / rel).write_bytes(b"\xe9" + bytes(100))
    (tmp_path / "flasher_args.json").write_text(json.dumps({
        "flash_settings": {"flash_mode": "dio", "flash_size": "4MB", "flash_freq": "40m"},
        "flash_files": {"0x10000": "imuad_device.bin", "0x1000": "bootloader/bootloader.bin",
                        "0x8000": "partition_table/partition-table.bin"},
        "extra_esptool_args": {"chip": "esp32", "before": "default_reset", "after": "hard_reset"}}))
    plan = flash_plan(tmp_path)
    assert [off for off, _ in plan.images] == [0x1000, 0x8000, 0x10000]
    assert plan.chip == "esp32" and plan.flash_size == "4MB"
    with pytest.raises(ImuadError, match="does not exist"):
        flash("/dev/ttyNOPE0", tmp_path, log=lambda s: None)
    (tmp_path / "imuad_device.bin").unlink()
    with pytest.raises(ImuadError, match="missing"):
        flash_plan(tmp_path)


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
    from imuad.targets import get_target
    from imuad.targets.device_cmd import run_hil
    from imuad.targets.replay_cmd import load_card, recording_segments
    try:
        target = get_target("host", pty=True, test_models=True)
        transport = target.open()
    except (ImuadError, Exception) as exc:  # noqa: BLE001 - host build missing -> skip, not fail
        pytest.skip(f"host build over pty unavailable: {exc}")
    _, card = load_card(str(FIXTURE_MODEL))
    rep = run_hil(transport, FIXTURE_MODEL, card, recording_segments(str(recording), card, None), port="pty")
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
