"""`imuad flash`: write an ESP-IDF build (bootloader, partition table, app) with esptool and
verify it. The flash plan comes from the build's flasher_args.json, checked file by file and
against the flash size it names before any port is opened; every esptool failure becomes an
ImuadError that says what happened and what to try."""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ImuadError
from .targets.esp32 import check_port

FLASH_BAUD = 460800
ROM_BAUD = 115200          # the ROM bootloader's baud rate; the stub then switches to --baud
CONNECT_ATTEMPTS = 7       # esptool's default


@dataclass
class FlashPlan:
    chip: str
    images: list[tuple[int, Path]]
    flash_mode: str = "keep"
    flash_freq: str = "keep"
    flash_size: str = "keep"


def size_bytes(size: str) -> int | None:
    """'4MB' / '512KB' -> bytes; 'keep' / 'detect' -> None (esptool's vocabulary)."""
    if size in ("keep", "detect"):
        return None
    m = re.fullmatch(r"(\d+)(MB|KB)", size)
    if not m:
        raise ValueError(size)
    return int(m.group(1)) * (1024 * 1024 if m.group(2) == "MB" else 1024)


def _chip_key(name: str) -> str:
    return name.replace("-", "").lower()   # esptool's "ESP32-S3" vs ESP-IDF's "esp32s3"


def flash_plan(build: Path) -> FlashPlan:
    """What ESP-IDF's build/flasher_args.json says to write where, checked file by file."""
    fa = build / "flasher_args.json"
    if not build.is_dir():
        raise ImuadError(f"build dir {build} does not exist: build the firmware first "
                         f"(cd device && idf.py set-target esp32 build), or pass --build DIR")
    if not fa.exists():
        raise ImuadError(f"{fa} not found: {build} is not a finished ESP-IDF esp32 build "
                         f"(run idf.py build; a linux-target build cannot be flashed)")
    try:
        data = json.loads(fa.read_text())
    except json.JSONDecodeError as exc:
        raise ImuadError(f"{fa}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ImuadError(f"{fa}: not a JSON object")
    extra = data.get("extra_esptool_args", {})
    chip = str(extra.get("chip", "auto"))
    if chip == "linux":
        raise ImuadError(f"{build} was built for the linux target: nothing to flash")
    files = data.get("flash_files")
    if not isinstance(files, dict) or not files:
        raise ImuadError(f"{fa}: no flash_files")
    s = data.get("flash_settings", {})
    plan = FlashPlan(chip, [], s.get("flash_mode", "keep"), s.get("flash_freq", "keep"),
                     s.get("flash_size", "keep"))
    try:
        limit = size_bytes(plan.flash_size)
    except ValueError:
        raise ImuadError(f"{fa}: flash_settings.flash_size {plan.flash_size!r} is not a size "
                         f"like '4MB' (or 'keep' / 'detect')") from None
    try:
        entries = sorted((int(off, 16), rel) for off, rel in files.items())
    except (TypeError, ValueError):
        raise ImuadError(f"{fa}: flash_files keys must be hex offsets like \"0x10000\"") from None
    prev_end, prev_rel = 0, ""
    for off, rel in entries:
        path = build / rel
        if not path.is_file():
            raise ImuadError(f"{fa}: {rel} (at 0x{off:x}) is missing in {build}: rebuild")
        n = path.stat().st_size
        if n == 0:
            raise ImuadError(f"{path}: empty image (at 0x{off:x}): rebuild")
        if off < prev_end:
            raise ImuadError(f"{fa}: {rel} at 0x{off:x} overlaps {prev_rel}, which ends at 0x{prev_end:x}")
        if limit is not None and off + n > limit:
            raise ImuadError(
                f"{rel} ({n} bytes at 0x{off:x}) ends at 0x{off + n:x}, past the end of the "
                f"{plan.flash_size} flash this build is for (flash_settings.flash_size in {fa}): "
                f"make the image smaller or the partition table / flash size larger "
                f"(idf.py menuconfig: Serial flasher config, Partition Table) and rebuild")
        prev_end, prev_rel = off + n, rel
        plan.images.append((off, path))
    return plan


def _esptool() -> Any:
    try:
        from esptool import cmds
    except ImportError as exc:
        raise ImuadError("flashing needs esptool >= 5: pip install -e '.[device]'") from exc
    if not hasattr(cmds, "write_flash"):
        raise ImuadError("esptool < 5 has no Python API (esptool.cmds.write_flash): pip install 'esptool>=5'")
    return cmds


def _explain(exc: Exception, port: str, stage: str, attempts: int) -> str:
    """esptool's / pyserial's message, first line, plus what to try."""
    msg = str(exc).strip()
    first = msg.splitlines()[0] if msg else type(exc).__name__
    url = "://" in port
    if "Permission denied" in msg:
        return f"no permission to open {port}: sudo usermod -aG dialout $USER, then log in again"
    if "Could not open" in msg or "Connection refused" in msg:
        errno = re.search(r"\[Errno \d+\] ([^)\n]+)", msg)   # pyserial's cause, e.g. Connection refused
        return (f"cannot open {port} ({errno.group(1) if errno else first}): " +
                ("is the serial bridge / emulator listening there?" if url else
                 "is the board plugged in and no other program (idf.py monitor, imuad monitor) using it?"))
    if "Failed to connect" in msg or "No serial data" in msg:
        return (f"no ESP ROM bootloader answered on {port} ({attempts} connection attempts): " +
                ("whatever listens there does not speak the bootloader protocol" if url else
                 "hold BOOT, tap EN/RESET, release BOOT and retry; check the USB cable carries data"))
    if "will not fit" in msg:
        return (f"{first} The board's flash is smaller than the build expects: set the flash size "
                f"(idf.py menuconfig: Serial flasher config) and partition table for this board and rebuild")
    if "does not match" in msg or "Verification failed" in msg:
        return f"{first} (the flash does not hold what was written: retry, or a lower --baud)"
    return f"{stage} failed on {port}: {first}"


def flash(port: str, build: Path, baud: int = FLASH_BAUD, verify: bool = False,
          log: Callable[[str], None] = print, connect_attempts: int = CONNECT_ATTEMPTS) -> FlashPlan:
    """Connect, check the chip, write every image of the plan (esptool verifies each image's
    MD5 after writing), optionally verify again, hard-reset the board."""
    plan = flash_plan(build)
    if port.startswith("exec:"):
        raise ImuadError("flash needs a serial port or an rfc2217:// / socket:// URL, not exec:")
    check_port(port)
    cmds = _esptool()
    total = sum(p.stat().st_size for _, p in plan.images)
    log(f"flash: {len(plan.images)} images, {total / 1024:.0f} KB to {port} ({plan.chip}, "
        f"{plan.flash_mode}/{plan.flash_freq}/{plan.flash_size})")
    for off, path in plan.images:
        log(f"  0x{off:06x}  {path.relative_to(build)}  ({path.stat().st_size} bytes)")
    addr_data = [(off, str(path)) for off, path in plan.images]
    settings = dict(flash_freq=plan.flash_freq, flash_mode=plan.flash_mode, flash_size=plan.flash_size)
    esp = None
    stage = "connecting"
    try:
        esp = cmds.detect_chip(port, baud=ROM_BAUD, connect_attempts=connect_attempts)
        name = getattr(esp, "CHIP_NAME", "?")
        if plan.chip not in ("auto", "") and _chip_key(name) != _chip_key(plan.chip):
            raise ImuadError(f"{port} has an {name}, but {build} was built for {plan.chip}: connect an "
                             f"{plan.chip} board, or build for this one (idf.py set-target "
                             f"{_chip_key(name)} build)")
        log(f"flash: connected to {name}")
        stage = "starting the flasher stub"
        esp = cmds.run_stub(esp)
        if baud != ROM_BAUD:
            stage = f"changing the baud rate to {baud}"
            esp.change_baud(baud)
        stage = "attaching the SPI flash"
        cmds.attach_flash(esp)
        want = size_bytes(plan.flash_size)
        have = None if esp.secure_download_mode else cmds.detect_flash_size(esp)
        if want is not None and have is not None and size_bytes(have) < want:
            raise ImuadError(f"the {name} on {port} has {have} of flash, but {build} was built for "
                             f"{plan.flash_size}: set the flash size (idf.py menuconfig: Serial flasher "
                             f"config) and partition table for this board and rebuild")
        stage = "writing"
        log(f"flash: writing {len(plan.images)} images at {baud} baud")
        # esptool writes every image, then checks each one's MD5 against the flash
        cmds.write_flash(esp, addr_data, **settings, no_progress=not sys.stdout.isatty())
        if verify:
            stage = "verifying"
            log("flash: verifying")
            cmds.verify_flash(esp, addr_data, **settings)
        stage = "resetting the board"
        cmds.reset_chip(esp, "hard-reset")
    except ImuadError:
        raise
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C; SIGTERM / SIGHUP (imuad.procs)
        partial = stage in ("writing", "verifying")
        print(f"imuad flash: interrupted while {stage} on {port}" +
              ("; the flash now holds a partly written image that will not boot. Run imuad flash "
               "again: the ROM bootloader is not in flash, so the board stays flashable" if partial
               else "; nothing was written"), file=sys.stderr, flush=True)
        raise
    except Exception as exc:  # esptool FatalError, pyserial SerialException, OSError
        raise ImuadError(_explain(exc, port, stage, connect_attempts)) from exc
    finally:
        if esp is not None:
            try:
                esp._port.close()
            except Exception:  # noqa: BLE001 - closing a dead port must not hide the real error
                pass
    log("flash: done, board reset")
    return plan
