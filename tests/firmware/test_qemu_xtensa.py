"""What only the esp32-qemu targets have (qemu-xt, qemu-xt-nn: the firmware compiled for the
ESP32 on QEMU's sim machine with the esp32 core; the common behaviour is test_replay.py): exact,
repeatable instruction counts (CCOUNT), the semihosting rx channel, the bare-metal board drivers
(console, CCOUNT, FPU, MULSH, exit code), and firmware that overflows its stack (DBREAK0 guard)
or hangs failing fast with a message."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest

from fw_support import noise_counts
from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT
from imuad.targets import ReplaySession

pytestmark = pytest.mark.timeout(1200)  # the first test may build the emulator and the firmware
MODEL = REPO_ROOT / "models" / "synth"


@pytest.fixture(scope="module", params=["qemu-xt", "qemu-xt-nn"])
def xt(request) -> str:
    from imuad.targets.qemu_xtensa import QemuXtTarget
    target = QemuXtTarget(request.param)
    ok, why = target.available()
    if not ok:
        pytest.skip(f"{request.param}: {why}")
    target.executable()  # firmware + emulator, once per target and run
    return request.param


def _target(name: str, **kw):
    from imuad.targets.qemu_xtensa import QemuXtTarget
    return QemuXtTarget(name, **kw)


def test_instruction_counts_exact_and_repeatable(xt):
    """The icount build reports CCOUNT (= instructions under -icount shift=0, 1 GHz core) per
    inference: identical whatever the input channel and its timing; the standard build's ticks
    of 40 agree with it, and the semihosting rx channel gives the console's outputs."""
    counts = noise_counts(MODEL)
    runs = {}
    for firmware, rx in (("icount", "uart"), ("icount", "semihost"), ("firmware", "uart")):
        with ReplaySession.open(_target(xt, firmware=firmware, rx=rx)) as s:
            runs[firmware, rx] = s.replay(counts, model="synth")
    exact = [np.array([w.infer_us for w in r.windows], np.int64)
             for k, r in runs.items() if k[0] == "icount"]
    np.testing.assert_array_equal(exact[0], exact[1])
    np.testing.assert_array_equal(runs["icount", "semihost"].outputs, runs["firmware", "uart"].outputs)
    ticks = np.array([w.infer_us for w in runs["firmware", "uart"].windows], np.int64)
    # one tick of quantization plus the two clock reads' own few instructions, which differ
    assert np.abs(ticks * 40 - exact[0]).max() <= 80
    assert exact[0].min() > 100_000 and exact[0].max() - exact[0].min() < exact[0].min() // 100
    assert 0 < runs["firmware", "uart"].stats.stack_hwm_bytes < 16 * 1024
    print(f"\n{xt}/synth: {int(np.median(exact[0])):,} instructions/inference")


def test_board_hello_instruction_clock_and_exit_code(xt):
    """Bare-metal drivers: console TX/RX (any byte value, no escaping), CCOUNT = 1 per
    instruction exactly, FPU (CP0 enabled), MULL/MULSH, semihosting exit code."""
    from imuad.targets.qemu_xtensa import QemuXtTransport, firmware_elf
    t = QemuXtTransport(firmware_elf(xt, "hello"))
    try:
        buf = b""
        deadline = time.monotonic() + 10
        while b"\n" not in buf and time.monotonic() < deadline:
            buf += t.read(0.5)
        m = re.search(rb"instr=(\d+) fpu=4 mul=-28389653:67153019 stack_hwm=(\d+)", buf)
        assert m, buf
        assert int(m.group(1)) == 600018  # 100 000 loop iterations x 6 instructions + 18
        line = b"p\x00i\x00\x00\x01n\x01xg\n"
        t.write(line)
        echo = buf[buf.index(b"\n") + 1:]
        deadline = time.monotonic() + 10
        while not echo.endswith(b"\n") and time.monotonic() < deadline:
            echo += t.read(0.5)
        assert echo == line
        assert t.exit_code(timeout=10) == 0
    finally:
        t.close()


def test_console_carries_every_byte_value(xt):
    from imuad.targets.qemu_xtensa import console_sink, firmware_elf
    rng = np.random.default_rng(5)
    data = bytes(range(256)) + b"\x00" * 40 + b"\x01x\x01c" + rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    console_sink(firmware_elf(xt, "uart-sink"), data, timeout=30)  # raises unless count and FNV-1a match


@pytest.mark.parametrize("firmware, windows, timeouts, why", [
    ("tinystack", 2, (15, 15), r"stack overflow"),   # 1 KiB thread stack: DBREAK0 guard, exit 4
    ("hang", 30, (10, 3), r"no answer|timed out"),   # stops answering after 600 bytes
], ids=["stack-overflow", "hang"])
def test_broken_firmware_fails_fast_with_message(xt, firmware, windows, timeouts, why):
    t0 = time.monotonic()
    target = _target(xt, firmware=firmware, hello_timeout=timeouts[0], idle_timeout=timeouts[1])
    with ReplaySession.open(target) as session, pytest.raises(ImuadError, match=why):
        session.replay(noise_counts(MODEL, windows), model="synth")
    assert time.monotonic() - t0 < 30


def test_production_firmware_carries_no_fixture_model(xt):
    from imuad.targets.qemu_xtensa import firmware_elf
    assert b"fixture_cnn" not in firmware_elf(xt).read_bytes()
    assert b"fixture_cnn" in firmware_elf(xt, "test-firmware").read_bytes()


def test_missing_rx_file_is_a_named_fatal_exit(xt, tmp_path):
    """`rx=PATH` naming no file: exit code 5 (abort) and a line naming the path, at once."""
    from fw_support import run_with_missing_rx_file
    from imuad.targets.qemu_xtensa import QemuXtTransport, firmware_elf
    code, out = run_with_missing_rx_file(QemuXtTransport, firmware_elf(xt), tmp_path / "no-such-fifo")
    assert code == 5, out
    assert f"FATAL cannot open semihosting rx file {tmp_path / 'no-such-fifo'}" in out
