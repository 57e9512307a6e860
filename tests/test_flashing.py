"""`imuad flash` end to end without a board: the real esptool (through `imuad flash`, run as a
subprocess like a user runs it) against esp32-mock-bootloader, a mock of Espressif's ROM serial
bootloader (PyPI, Apache-2.0) that keeps what is written in an in-memory 4 MB flash.

The build is a small fake ESP-IDF esp32 build (flasher_args.json, a bootloader and an app that
are valid ESP32 images made with esptool's own image writer, a partition table in ESP-IDF's
binary format) until the real ESP32 build lands in build/esp32.

Read-back goes through the ROM's READ_FLASH_SLOW (esptool without the stub): the mock's stub
READ_FLASH stream gives up when esptool's ack takes longer than 50 ms, which happens every
time on a loaded 2-core machine; the ROM command is request/response and has no such window.
Keep the images small, too: the mock ends a session 3 s after a FLASH_END (esptool then says
"Lost connection, retrying", reconnects and writes the image again).
"""
from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest.importorskip("esptool", reason="esptool is in the 'device' extra: pip install -e '.[device]'")
pytest.importorskip("esp32_mock_bootloader", reason="the mock is in the 'test' extra: pip install -e '.[test]'")

from esptool.bin_image import ImageSegment  # noqa: E402
from esptool.targets import CHIP_DEFS  # noqa: E402

pytestmark = pytest.mark.timeout(120)

BOOTLOADER_OFF, PTABLE_OFF, APP_OFF = 0x1000, 0x8000, 0x10000   # ESP32 (ESP-IDF defaults)
MOCK_FLASH = 4 * 1024 * 1024                                    # the mock's flash; its JEDEC id says 4MB
# esptool sends random data uncompressed (zlib cannot shrink it), else "(N compressed)"
WROTE = re.compile(r"Wrote (\d+) bytes (?:\((\d+) compressed\) )?at (0x[0-9a-f]+) in ([\d.]+) seconds "
                   r"\(([\d.]+) kbit/s\)")


# -- a fake ESP-IDF build ----------------------------------------------------------------------

def _esp_image(chip: str, segments: list[tuple[int, bytes]], entry: int, flash_size: str) -> bytes:
    """A valid ESP image (header, extended header, checksum, SHA-256) written by esptool."""
    rom = CHIP_DEFS[chip]
    img = rom.BOOTLOADER_IMAGE()
    img.entrypoint = entry
    img.flash_mode = 2                                           # dio
    img.flash_size_freq = rom.FLASH_SIZES.get(flash_size, rom.FLASH_SIZES["4MB"]) + rom.FLASH_FREQUENCY["40m"]
    img.chip_id = rom.IMAGE_CHIP_ID
    img.segments = []
    for i, (addr, data) in enumerate(segments):
        seg = ImageSegment(addr, data)
        seg.name = f".seg{i}"                                    # save() wants the ELF section name
        img.segments.append(seg)
    data = img.save(None)
    return data if isinstance(data, bytes) else data[-1]


def _partition_table() -> bytes:
    """nvs, phy_init, factory app: ESP-IDF's gen_esp32part binary (32-byte entries + MD5 row)."""
    rows = [(b"nvs", 0x01, 0x02, 0x9000, 0x6000), (b"phy_init", 0x01, 0x01, 0xF000, 0x1000),
            (b"factory", 0x00, 0x00, APP_OFF, 0x300000)]
    table = b"".join(struct.pack("<2sBBLL16sL", b"\xaa\x50", t, st, off, size, name, 0)
                     for name, t, st, off, size in rows)
    table += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(table).digest()
    return table + b"\xff" * (0xC00 - len(table))


def fake_build(root: Path, app_bytes: int = 64 * 1024, flash_size: str = "4MB", chip: str = "esp32",
               raw_app: bytes | None = None) -> dict[int, bytes]:
    """An ESP-IDF-shaped build dir; returns {offset: image bytes} as flashed."""
    rnd = os.urandom   # incompressible: esptool's kbit/s is then the wire rate, not zlib's
    images = {
        BOOTLOADER_OFF: _esp_image(chip, [(0x3FFF0000, rnd(2048)), (0x40078000, rnd(14000))], 0x40080400,
                                   flash_size),
        PTABLE_OFF: _partition_table(),
        APP_OFF: raw_app if raw_app is not None else _esp_image(chip, [(0x3FFB0000, rnd(app_bytes))],
                                                                0x40080000, flash_size),
    }
    names = {BOOTLOADER_OFF: "bootloader/bootloader.bin", PTABLE_OFF: "partition_table/partition-table.bin",
             APP_OFF: "imuad_device.bin"}
    for off, rel in names.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(images[off])
    settings = {"flash_mode": "dio", "flash_size": flash_size, "flash_freq": "40m"}
    (root / "flasher_args.json").write_text(json.dumps({
        "write_flash_args": ["--flash_mode", "dio", "--flash_size", flash_size, "--flash_freq", "40m"],
        "flash_settings": settings,
        "flash_files": {f"0x{off:x}": rel for off, rel in names.items()},
        "bootloader": {"offset": f"0x{BOOTLOADER_OFF:x}", "file": names[BOOTLOADER_OFF], "encrypted": "false"},
        "app": {"offset": f"0x{APP_OFF:x}", "file": names[APP_OFF], "encrypted": "false"},
        "partition-table": {"offset": f"0x{PTABLE_OFF:x}", "file": names[PTABLE_OFF], "encrypted": "false"},
        "extra_esptool_args": {"after": "hard_reset", "before": "default_reset", "stub": True, "chip": chip},
    }, indent=4))
    return images


# -- processes ---------------------------------------------------------------------------------

def _children() -> set[int]:
    """Live child processes of this pytest process (zombies are not left behind: they are reaped)."""
    me, kids = os.getpid(), set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                kids.add(int(d.name))
    return kids


def imuad_flash(port: str, build: Path, *extra: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imuad.cli", "flash", "--port", port, "--build", str(build),
                           *extra], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """mock(chip, pty=False) -> the port of a fresh mock bootloader (socket:// URL or a PTY path).
    Its registry stays in tmp_path; every mock is stopped afterwards, and the test fails if any
    process it started (mock, imuad) is still alive."""
    monkeypatch.setenv("ESP32_MOCK_BOOTLOADER_STATE_DIR", str(tmp_path / "mock-state"))
    before = _children()
    procs: list[subprocess.Popen] = []

    def start(chip: str = "esp32", use_pty: bool = False) -> str:
        pf = tmp_path / f"mock{len(procs)}.port"
        cmd = [sys.executable, "-m", "esp32_mock_bootloader.cli", "run", "--chip", chip, "--port-file", str(pf),
               "--timeout", "110"]  # a mock never outlives the test, even if teardown is skipped
        cmd += ["--pty"] if use_pty else ["--port", "0"]
        log = open(tmp_path / f"mock{len(procs)}.log", "w")
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
        log.close()
        deadline = time.monotonic() + 30
        while not (pf.exists() and pf.read_text().strip()):
            assert procs[-1].poll() is None, (tmp_path / f"mock{len(procs) - 1}.log").read_text()
            assert time.monotonic() < deadline, "mock bootloader did not start"
            time.sleep(0.05)
        endpoint = pf.read_text().strip()
        return endpoint if use_pty else f"socket://127.0.0.1:{endpoint}"

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    assert _children() - before == set(), "processes left behind"


def read_back(port: str, images: dict[int, bytes], tmp_path: Path) -> dict[int, bytes]:
    """Read each image's range back through esptool (ROM loader, see the module docstring)."""
    from esptool import cmds
    esp = cmds.detect_chip(port, connect_attempts=2)
    got = {}
    try:
        cmds.attach_flash(esp)
        for off, data in images.items():
            out = tmp_path / f"readback-{off:x}.bin"
            cmds.read_flash(esp, off, len(data), str(out), no_progress=True)
            got[off] = out.read_bytes()
    finally:
        esp._port.close()
    return got


# -- the tests ---------------------------------------------------------------------------------

def test_flash_writes_every_image_and_reads_back(mock, tmp_path, artifacts_dir):
    port = mock("esp32")
    build = tmp_path / "build"
    images = fake_build(build, app_bytes=96 * 1024)
    r = imuad_flash(port, build, "--baud", "921600", "--verify")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Detecting chip type... ESP32" in out and "flash: connected to ESP32" in out
    assert "Stub flasher running" in out
    assert "Changing baud rate to 921600" in out and "Changed." in out
    wrote = {int(m[2], 16): m for m in WROTE.findall(out)}
    assert sorted(wrote) == sorted(images), out
    for off, data in images.items():
        assert int(wrote[off][0]) == len(data)
    assert out.count("Hash of data verified.") == 3
    assert "flash: verifying" in out and "flash: done, board reset" in out

    got = read_back(port, images, tmp_path)
    for off, data in images.items():
        assert hashlib.sha256(got[off]).hexdigest() == hashlib.sha256(data).hexdigest(), f"0x{off:x}"

    rates = {f"0x{off:x}": {"bytes": int(m[0]), "compressed": int(m[1]) if m[1] else None,
                            "seconds": float(m[3]), "kbit_s": float(m[4])} for off, m in wrote.items()}
    (artifacts_dir / "flash-mock.json").write_text(json.dumps(
        {"esptool_reported": rates, "baud": 921600, "transport": "socket://"}, indent=1))


def test_flash_over_a_pty(mock, tmp_path):
    """A device path (what a USB-serial adapter looks like), not a URL."""
    port = mock("esp32", use_pty=True)
    assert port.startswith("/dev/")
    build = tmp_path / "build"
    images = fake_build(build, app_bytes=16 * 1024)
    r = imuad_flash(port, build)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Hash of data verified.") == len(images)


def test_wrong_chip(mock, tmp_path):
    port = mock("esp32s3")
    build = tmp_path / "build"
    fake_build(build)
    r = imuad_flash(port, build)
    assert r.returncode == 2
    assert f"{port} has an ESP32-S3, but {build} was built for esp32" in r.stderr
    assert "idf.py set-target esp32s3" in r.stderr
    assert "Wrote" not in r.stdout


def _silent_tcp_port() -> tuple[str, Callable[[], None]]:
    """A TCP port that accepts and reads but never answers (a bridge without a board)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    stop = threading.Event()

    def sink() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.2)
                while not stop.is_set():
                    try:
                        if not conn.recv(4096):
                            break
                    except OSError:
                        continue

    t = threading.Thread(target=sink, daemon=True)
    t.start()

    def close() -> None:
        stop.set()
        t.join(5)
        srv.close()
    return f"socket://127.0.0.1:{srv.getsockname()[1]}", close


def test_port_that_never_syncs_tcp(tmp_path):
    build = tmp_path / "build"
    fake_build(build)
    port, close = _silent_tcp_port()
    try:
        t0 = time.monotonic()
        r = imuad_flash(port, build, "--connect-attempts", "2")
        elapsed = time.monotonic() - t0
    finally:
        close()
    assert r.returncode == 2
    assert f"no ESP ROM bootloader answered on {port} (2 connection attempts)" in r.stderr
    assert "does not speak the bootloader protocol" in r.stderr
    assert "Traceback" not in r.stderr
    assert elapsed < 30


def test_pty_that_never_answers(tmp_path):
    build = tmp_path / "build"
    fake_build(build)
    master, slave = pty.openpty()
    port = os.ttyname(slave)
    stop = threading.Event()

    def drain() -> None:  # read what esptool sends so its writes never block; answer nothing
        import select
        while not stop.is_set():
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 4096)
                except OSError:
                    return
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        r = imuad_flash(port, build, "--connect-attempts", "2")
    finally:
        stop.set()
        t.join(5)
        os.close(master)
        os.close(slave)
    assert r.returncode == 2
    assert f"no ESP ROM bootloader answered on {port}" in r.stderr
    assert "hold BOOT, tap EN/RESET" in r.stderr


def test_port_refusing_connections(tmp_path):
    build = tmp_path / "build"
    fake_build(build)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = f"socket://127.0.0.1:{s.getsockname()[1]}"
    s.close()   # nothing listens there now
    r = imuad_flash(port, build, "--connect-attempts", "1")
    assert r.returncode == 2
    assert f"cannot open {port}" in r.stderr and "Connection refused" in r.stderr


def test_image_larger_than_the_builds_flash_is_refused_before_connecting(tmp_path):
    build = tmp_path / "build"
    fake_build(build, raw_app=b"\xe9" + os.urandom(MOCK_FLASH - APP_OFF))   # one byte too many for 4MB
    r = imuad_flash("socket://127.0.0.1:9", build)   # discard port: would fail if it were opened
    assert r.returncode == 2
    assert (f"imuad_device.bin ({MOCK_FLASH - APP_OFF + 1} bytes at 0x10000) ends at 0x400001, past the "
            f"end of the 4MB flash this build is for") in r.stderr


def test_image_larger_than_the_boards_flash(mock, tmp_path):
    """The build leaves the size to the board (flash_size detect); the board has 4MB."""
    port = mock("esp32")
    build = tmp_path / "build"
    fake_build(build, flash_size="detect", raw_app=b"\xe9" + os.urandom(MOCK_FLASH - APP_OFF))
    r = imuad_flash(port, build)
    assert r.returncode == 2
    assert "will not fit in 4194304 bytes of flash" in r.stderr
    assert "The board's flash is smaller than the build expects" in r.stderr
    assert "Traceback" not in r.stderr


def test_build_for_a_larger_flash_than_the_board_has(mock, tmp_path):
    port = mock("esp32")
    build = tmp_path / "build"
    fake_build(build, flash_size="16MB")
    r = imuad_flash(port, build)
    assert r.returncode == 2
    assert f"the ESP32 on {port} has 4MB of flash, but {build} was built for 16MB" in r.stderr
    assert "Wrote" not in r.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_during_write(mock, tmp_path, sig):
    """Ctrl-C (and SIGTERM, which imuad unwinds the same way) while esptool writes the app."""
    port = mock("esp32")
    build = tmp_path / "build"
    fake_build(build, app_bytes=3 * 1024 * 1024)   # 1-10 s on the wire: the interrupt lands mid-write
    # Ctrl-C at a terminal: SIGINT at its default. A shell without job control (CI scripts that
    # start jobs with `&`) hands SIGINT down ignored, and Python then installs no KeyboardInterrupt.
    proc = subprocess.Popen([sys.executable, "-m", "imuad.cli", "flash", "--port", port, "--build", str(build)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        seen = []
        for line in proc.stdout:   # esptool names each image as it starts writing it
            seen.append(line)
            if "imuad_device.bin' at 0x00010000" in line:
                break
        assert proc.poll() is None, "".join(seen) + proc.stderr.read()
        time.sleep(0.2)
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert f"imuad flash: interrupted while writing on {port}" in err
    assert "partly written image" in err and "Run imuad flash again" in err
    assert "Traceback" not in err
    assert "flash: done" not in out
    assert stopped_in < 10
    if sig != signal.SIGINT:
        return
    # what the message promises: flashing again works
    small = tmp_path / "again"
    images = fake_build(small, app_bytes=16 * 1024)
    r = imuad_flash(port, small)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Hash of data verified.") == len(images)


@pytest.mark.timeout(1800)  # the first use builds the esp32 image (toolchain, ESP-IDF, app)
def test_flash_the_real_esp32_build_and_read_it_back(mock, tmp_path):
    """The images `imuad build esp32` makes (bootloader, partition table, app with the models),
    flashed through `imuad flash` and read back byte for byte."""
    from imuad.build import artefact, missing_tools
    from imuad.errors import ImuadError
    why = missing_tools("esp32")
    if why:
        pytest.skip(f"esp32 build unavailable: {why}")
    try:
        build = artefact("esp32", "flash-dir")
    except ImuadError as exc:
        pytest.fail(str(exc))
    files = json.loads((build / "flasher_args.json").read_text())["flash_files"]
    images = {int(off, 16): (build / rel).read_bytes() for off, rel in files.items()}
    assert len(images) == 3 and max(len(d) for d in images.values()) > 100_000  # the app, with TFLM
    port = mock("esp32")
    r = imuad_flash(port, build, "--baud", "921600", timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert out.count("Hash of data verified.") == 3 and "flash: done, board reset" in out
    got = read_back(port, images, tmp_path)
    for off, data in images.items():
        assert hashlib.sha256(got[off]).hexdigest() == hashlib.sha256(data).hexdigest(), f"0x{off:x}"
