"""Ceiling of the emulator's data path: bytes/s into QEMU mps2-an386 UART0, without the firmware.

    python benchmarks/qemu_uart.py [--mbytes 1.0] [--target qemu-nn]   (or `imuad bench qemu_uart`)

Streams random bytes (zeros included, so the mux escape is exercised) through the same
QemuTransport that `imuad sim` uses into imuad-qemu-uart-sink.elf, which only counts and sums
them (FNV-1a), and prints KB/s and the equivalent real-time factor for a 2 kHz x 3-axis int16 stream
(12,000 B/s before framing). Compare with `imuad sim`'s replay speed to see how much of the
path the firmware itself costs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from imuad.targets.qemu import firmware_elf, uart_sink  # noqa: E402

STREAM_BYTES_PER_S = 2000 * 3 * 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mbytes", type=float, default=1.0, help="megabytes to send")
    ap.add_argument("--target", default="qemu-nn", choices=("qemu", "qemu-nn"), help="which QEMU build holds the probe")
    a = ap.parse_args()
    elf = firmware_elf(a.target, "uart-sink")
    n = int(a.mbytes * 1e6)
    data = np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()
    dt = uart_sink(elf, data)
    rate = n / dt
    print(f"QEMU mps2-an386 UART0 (muxed chardev, WFI reader): {n:,} bytes in {dt:.2f} s = "
          f"{rate / 1e3:.0f} KB/s = {rate / STREAM_BYTES_PER_S:.1f}x real time for 2 kHz x 3 axes int16 "
          f"(before framing); FNV-1a of the bytes matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
