"""`imuad flash`, `imuad monitor`, `imuad hil`: a device (ESP32 or any C7 firmware) on a serial line.

PORT is a device path, a pyserial URL (socket://HOST:PORT, rfc2217://, loop://) or `exec:CMD`
(runs the ESP-IDF linux ELF / imuad-fw-host and talks over its stdin/stdout).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..flashing import CONNECT_ATTEMPTS, FLASH_BAUD
from ..paths import REPO_ROOT, build_dir
from ..targets.esp32 import DEFAULT_BAUD
from .options import add_model, float_range, int_range, model_from, writable_file


def _hil(args: argparse.Namespace) -> int:
    from ..evaluation.hil import run_hil
    from ..evaluation.recordings import segments
    from ..fileio import write_json
    from ..targets.esp32 import open_port
    model = model_from(args)
    report = writable_file(args.report, "--report") if args.report else None
    _, segs = segments(model.card, args.recording, args.split)
    is_serial = not args.port.startswith("exec:") and "://" not in args.port
    transport = open_port(args.port, args.baud)
    rep = run_hil(transport, model, segs, port=args.port, recording=args.recording, split=args.split,
                  timeout=args.timeout, hello_timeout=max(args.timeout, 10.0), chunk=args.chunk,
                  max_inflight_chunks=2 if is_serial else 8, progress=sys.stderr.isatty())
    out = report or REPO_ROOT / "artifacts" / "hil" / f"{model.name}-{rep.device.get('target', 'device')}.json"
    write_json(out, rep.to_json(), indent=1)
    print(rep.summary())
    print(f"report: {out}")
    return 0 if rep.ok else 1


def _flash(args: argparse.Namespace) -> int:
    from ..flashing import flash
    flash(args.port, Path(args.build), baud=args.baud, verify=args.verify,
          connect_attempts=args.connect_attempts)
    return 0


def _monitor(args: argparse.Namespace) -> int:
    from ..monitor import monitor
    counters = monitor(args.port, args.baud, seconds=args.seconds, hello=args.hello)
    print(f"monitor: frames {counters['frames_ok']}, dropped "
          f"{sum(v for k, v in counters.items() if k != 'frames_ok')}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    baud = int_range(300, 16_000_000)
    p = sub.add_parser("flash", help="flash bootloader, partition table and app of an ESP-IDF build (esptool)")
    p.add_argument("--port", required=True,
                   help="serial port (/dev/ttyUSB0) or pyserial URL (rfc2217://HOST:PORT, socket://HOST:PORT)")
    p.add_argument("--build", default=str(build_dir() / "esp32"), help="ESP-IDF build dir (flasher_args.json)")
    p.add_argument("--baud", type=baud, default=FLASH_BAUD, help="baud rate for writing (the ROM talks 115200)")
    p.add_argument("--verify", action="store_true",
                   help="check every image's MD5 once more after all are written (esptool checks each already)")
    p.add_argument("--connect-attempts", type=int_range(1, 100), default=CONNECT_ATTEMPTS,
                   help=f"tries to reach the ROM bootloader before giving up (default {CONNECT_ATTEMPTS})")
    p.set_defaults(func=_flash)

    p = sub.add_parser("monitor", help="decode and print the device's frames and logs live")
    p.add_argument("--port", required=True, help="device path, pyserial URL or exec:CMD")
    p.add_argument("--baud", type=baud, default=DEFAULT_BAUD)
    p.add_argument("--seconds", type=float_range(0, lo_open=True), default=None, help="stop after this many seconds")
    p.add_argument("--hello", metavar="MODEL", nargs="?", const="", default=None,
                   help="send HELLO first (replay mode; prints DEVICE_INFO)")
    p.set_defaults(func=_monitor)

    p = sub.add_parser("hil", help="hardware-in-the-loop: device vs host reference, window by window")
    p.add_argument("--port", required=True, help="device path, pyserial URL or exec:CMD")
    add_model(p)
    p.add_argument("--recording", required=True, help="CSV or NPZ recording")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default=None)
    p.add_argument("--baud", type=baud, default=DEFAULT_BAUD)
    p.add_argument("--chunk", type=int_range(1, 4096), default=256, help="samples per SAMPLES frame")
    p.add_argument("--timeout", type=float_range(0, 3600, lo_open=True), default=10.0,
                   help="seconds without an answer = dead device")
    p.add_argument("--report", default=None, help="JSON report path (default artifacts/hil/MODEL-TARGET.json)")
    p.set_defaults(func=_hil)
