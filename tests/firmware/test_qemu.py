"""What only the QEMU targets have (qemu, qemu-nn; the common behaviour is test_replay.py):
deterministic instruction counts, the semihosting rx channel, the bare-metal board drivers, and
firmware that overflows its stack or hangs failing fast with a message."""
from __future__ import annotations

import re
import shutil
import time

import numpy as np
import pytest

from fw_support import noise_counts
from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT
from imuad.targets import ReplaySession

pytestmark = [pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                 reason="qemu-system-arm / arm-none-eabi-gcc not installed"),
              pytest.mark.timeout(900)]
MODEL = REPO_ROOT / "models" / "synth"


@pytest.fixture(scope="module", params=["qemu", "qemu-nn"])
def qemu(request) -> str:
    from imuad.build import ensure_built
    ensure_built(request.param)  # once per target and run
    return request.param


def _target(name: str, **kw):
    from imuad.targets.qemu import QemuTarget
    return QemuTarget(name, **kw)


def test_instruction_counts_stable_and_repeatable_over_semihost_rx(qemu):
    """The fast host->device channel (FIFO + semihosting SYS_READ) gives the UART's outputs, and
    per-window instruction counts (SysTick ticks of 40) are stable within a run and repeat to
    within 1 tick between runs (how many bytes one read returns shifts the tick phase)."""
    counts = noise_counts(MODEL)
    runs = []
    for rx in ("uart", "semihost", "semihost"):
        with ReplaySession.open(_target(qemu, rx=rx)) as s:
            runs.append(s.replay(counts, model="synth"))
    np.testing.assert_array_equal(runs[1].outputs, runs[0].outputs)
    ticks = [np.array([w.infer_us for w in r.windows], np.int64) for r in runs]
    for t in ticks:
        assert t.min() > 0 and t.max() - t.min() <= max(4, t.min() // 20), f"{t.min()}..{t.max()} ticks"
    assert np.abs(ticks[1] - ticks[2]).max() <= 1
    assert 0 < runs[0].stats.stack_hwm_bytes < 16 * 1024
    print(f"\n{qemu}/synth: {int(np.median(ticks[0])) * 40:,} instructions/inference")


def test_board_hello_deterministic_and_exit_code(qemu):
    """Bare-metal drivers: UART TX/RX, SysTick = 40 instructions/tick exactly, semihosting exit.
    The echo carries 0x00 (the muxed chardev's escape byte, doubled on the wire by the
    transport) and 0x01 (QEMU's default escape): both must arrive as sent, once each."""
    from imuad.targets.qemu import QemuTransport, firmware_elf
    t = QemuTransport(firmware_elf(qemu, "hello"))
    try:
        buf = b""
        deadline = time.monotonic() + 10
        while b"\n" not in buf and time.monotonic() < deadline:
            buf += t.read(0.5)
        m = re.search(rb"ticks=(\d+) fpu=4 stack_hwm=(\d+)", buf)
        assert m, buf
        assert int(m.group(1)) == 15000  # 100 000 loop iterations x 6 instructions / 40
        line = b"p\x00i\x00\x00\x01n\x01xg\n"  # 0x01 'x' would quit QEMU were 0x01 the escape
        t.write(line)
        echo = buf[buf.index(b"\n") + 1:]
        deadline = time.monotonic() + 10
        while not echo.endswith(b"\n") and time.monotonic() < deadline:
            echo += t.read(0.5)
        assert echo == line
        assert t.exit_code(timeout=10) == 0
    finally:
        t.close()


def test_uart_path_carries_every_byte_value(qemu):
    """The muxed UART0 chardev with its doubled escape byte delivers any byte sequence intact:
    every value, runs of 0x00 (the escape), 0x01 followed by 'x' (QEMU's default quit command)."""
    from imuad.targets.qemu import firmware_elf, uart_sink
    rng = np.random.default_rng(5)
    data = (bytes(range(256)) + b"\x00" * 40 + b"\x01x\x01c\x00\x00\x01" + b"\x00\x01" * 50
            + rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    uart_sink(firmware_elf(qemu, "uart-sink"), data, timeout=30)  # raises unless count and FNV-1a match


@pytest.mark.parametrize("firmware, windows, timeouts, why", [
    ("tinystack", 2, (15, 15), r"stack overflow"),   # 1 KiB thread stack: BusFault on stacking, exit 4
    ("hang", 30, (10, 3), r"no answer|timed out"),   # stops answering after 600 bytes
], ids=["stack-overflow", "hang"])
def test_broken_firmware_fails_fast_with_message(qemu, firmware, windows, timeouts, why):
    t0 = time.monotonic()
    target = _target(qemu, firmware=firmware, hello_timeout=timeouts[0], idle_timeout=timeouts[1])
    with ReplaySession.open(target) as session:
        with pytest.raises(ImuadError, match=why):
            session.replay(noise_counts(MODEL, windows), model="synth")
    assert time.monotonic() - t0 < 30


def test_production_firmware_carries_no_fixture_model(qemu):
    from imuad.targets.qemu import firmware_elf
    assert b"fixture_cnn" not in firmware_elf(qemu).read_bytes()
    assert b"fixture_cnn" in firmware_elf(qemu, "test-firmware").read_bytes()


def test_missing_rx_file_is_a_named_fatal_exit(qemu, tmp_path):
    """`rx=PATH` naming no file: exit code 5 (abort) and a line naming the path, at once."""
    from fw_support import run_with_missing_rx_file
    from imuad.targets.qemu import QemuTransport, firmware_elf
    code, out = run_with_missing_rx_file(QemuTransport, firmware_elf(qemu), tmp_path / "no-such-fifo")
    assert code == 5, out
    assert f"FATAL cannot open semihosting rx file {tmp_path / 'no-such-fifo'}" in out
