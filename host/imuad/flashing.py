"""`imuad flash`: write an ESP-IDF build (bootloader, partition table, app) with esptool and
verify it. The flash plan comes from the build's flasher_args.json, checked file by file."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ImuadError
from .targets.esp32 import check_port

FLASH_BAUD = 460800


@dataclass
class FlashPlan:
    chip: str
    images: list[tuple[int, Path]]
    flash_mode: str = "keep"
    flash_freq: str = "keep"
    flash_size: str = "keep"


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
    extra = data.get("extra_esptool_args", {})
    chip = str(extra.get("chip", "auto"))
    if chip == "linux":
        raise ImuadError(f"{build} was built for the linux target: nothing to flash")
    files = data.get("flash_files")
    if not isinstance(files, dict) or not files:
        raise ImuadError(f"{fa}: no flash_files")
    images = []
    for off, rel in sorted(files.items(), key=lambda kv: int(kv[0], 16)):
        path = build / rel
        if not path.exists():
            raise ImuadError(f"{fa}: {rel} (at {off}) is missing in {build}: rebuild")
        images.append((int(off, 16), path))
    s = data.get("flash_settings", {})
    return FlashPlan(chip, images, s.get("flash_mode", "keep"), s.get("flash_freq", "keep"),
                     s.get("flash_size", "keep"))


def flash(port: str, build: Path, baud: int = FLASH_BAUD, verify: bool = False,
          log: Callable[[str], None] = print) -> FlashPlan:
    plan = flash_plan(build)
    check_port(port)
    if port.startswith("exec:"):
        raise ImuadError("flash needs a serial port or an rfc2217:// URL, not exec:")
    try:
        from esptool import cmds
    except ImportError as exc:
        raise ImuadError("flashing needs esptool >= 5: pip install -e '.[device]'") from exc
    if not hasattr(cmds, "write_flash"):
        raise ImuadError("esptool < 5 has no Python API (esptool.cmds.write_flash): pip install 'esptool>=5'")
    total = sum(p.stat().st_size for _, p in plan.images)
    log(f"flash: {len(plan.images)} images, {total / 1024:.0f} KB to {port} ({plan.chip}, "
        f"{plan.flash_mode}/{plan.flash_freq}/{plan.flash_size})")
    for off, path in plan.images:
        log(f"  0x{off:06x}  {path.relative_to(build)}  ({path.stat().st_size} bytes)")
    esp = None
    try:
        esp = cmds.detect_chip(port, baud=115200)  # ROM bootloader via DTR/RTS auto-reset
        name = getattr(esp, "CHIP_NAME", "?")
        if plan.chip not in ("auto", "") and name.replace("-", "").lower() != plan.chip.replace("-", "").lower():
            raise ImuadError(f"{port} has an {name}, but {build} was built for {plan.chip}")
        log(f"flash: connected to {name}")
        esp = cmds.run_stub(esp)
        if baud != 115200:
            esp.change_baud(baud)
        cmds.attach_flash(esp)
        addr_data = [(off, str(path)) for off, path in plan.images]
        # esptool prints its own per-image progress bar and the hash check of each image
        cmds.write_flash(esp, addr_data, flash_freq=plan.flash_freq, flash_mode=plan.flash_mode,
                         flash_size=plan.flash_size)
        if verify:
            log("flash: verifying")
            cmds.verify_flash(esp, addr_data, flash_freq=plan.flash_freq, flash_mode=plan.flash_mode,
                              flash_size=plan.flash_size)
        cmds.reset_chip(esp, "hard-reset")
    except ImuadError:
        raise
    except Exception as exc:  # esptool FatalError / SerialException: say what to try
        msg = str(exc)
        hint = ""
        if "Permission denied" in msg:
            hint = " (sudo usermod -aG dialout $USER, then log in again)"
        elif "Failed to connect" in msg or "No serial data" in msg:
            hint = " (hold BOOT, tap EN/RESET, release BOOT, retry; or a lower --baud)"
        raise ImuadError(f"flash failed on {port}: {msg}{hint}") from exc
    finally:
        if esp is not None:
            try:
                esp._port.close()
            except Exception:  # noqa: BLE001
                pass
    log("flash: done, board reset")
    return plan


