"""`imuad flash`, `imuad monitor`, `imuad hil`: the ESP32 (or any C7 device) over a serial port.

PORT is a device path, a pyserial URL (socket://HOST:PORT, rfc2217://, loop://) or `exec:CMD`
(runs the ESP-IDF linux ELF / imuad-fw-host and talks over its stdin/stdout).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import protocol as P
from ..errors import ImuadError
from ..paths import REPO_ROOT
from ..reference import StreamReference, stream_reference
from .base import Transport
from .esp32 import DEFAULT_BAUD, check_port, open_port

# ====================================================================== flash
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


# ====================================================================== monitor
def describe(msg) -> str:
    if isinstance(msg, P.WindowResult):
        return (f"window {msg.window:6d} score {msg.score:8d} state {msg.state} hot {msg.hot} "
                f"infer {msg.infer_us} us")
    if isinstance(msg, P.Event):
        kind = {1: "ANOMALY ONSET", 2: "anomaly clear"}.get(msg.kind, f"kind {msg.kind}")
        return f"EVENT {kind} at window {msg.window} score {msg.score} uptime {msg.uptime_ms} ms"
    if isinstance(msg, P.Log):
        return f"LOG[{'EWID'[min(msg.level, 3)]}] {msg.text}"
    if isinstance(msg, P.DeviceInfo):
        return (f"DEVICE_INFO {msg.target} fw {msg.fw_version} model {msg.model_name} "
                f"sha256 {msg.model_sha256.hex()[:16]} W={msg.window} H={msg.hop} C={msg.channels} "
                f"arena {msg.arena_used}/{msg.arena_size}")
    return str(msg)


class TextAndFrames:
    """Splits a console stream into C7 frames and plain text lines (boot log, live-mode logs)."""

    def __init__(self) -> None:
        self.decoder = P.FrameDecoder()
        self._text = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        for b in data:
            self._text.append(b)
            if b == 0:
                seg = bytes(self._text)
                self._text.clear()
                msgs = self.decoder.feed(seg)
                if msgs:
                    out += [("frame", m) for m in msgs]
                elif _printable(seg[:-1]) and seg[:-1].strip():
                    out += [("text", line) for line in seg[:-1].decode(errors="replace").splitlines() if line]
            elif b == 0x0A and _printable(self._text):
                line = self._text.decode(errors="replace").rstrip("\r\n")
                self._text.clear()
                if line:
                    out.append(("text", line))
        return out


def _printable(data: bytes | bytearray) -> bool:
    return all(32 <= c < 127 or c in (9, 10, 13, 27) or c >= 0x80 for c in data)


def monitor(port: str, baud: int = DEFAULT_BAUD, seconds: float | None = None, hello: str | None = None,
            out=sys.stdout) -> dict:
    """Prints frames and text from PORT until Ctrl-C / `seconds`; returns the decoder counters."""
    transport = open_port(port, baud)
    splitter = TextAndFrames()
    deadline = time.monotonic() + seconds if seconds else None
    try:
        if hello is not None:
            transport.write(b"\0" + P.encode_frame(P.Hello(hello)))
        while deadline is None or time.monotonic() < deadline:
            try:
                data = transport.read(0.2)
            except EOFError as exc:
                print(f"monitor: line closed ({exc})", file=out, flush=True)
                break
            for kind, item in splitter.feed(data):
                stamp = time.strftime("%H:%M:%S")
                print(f"{stamp} {describe(item) if kind == 'frame' else item}", file=out, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()
    return dict(splitter.decoder.counters)


# ====================================================================== hil
def host_reference(model_dir: Path, card: dict, counts: np.ndarray) -> StreamReference:
    """The host's answer for one stream: TFLM Python + imuad.reference (C2-C5)."""
    return stream_reference((Path(model_dir) / "model.tflite").read_bytes(), card, counts)


@dataclass
class HilReport:
    port: str
    model: str
    recording: str
    split: str | None
    device: dict = field(default_factory=dict)
    segments: list[dict] = field(default_factory=list)
    windows: int = 0
    bit_exact: int = 0
    score_mismatch: int = 0
    state_mismatch: int = 0
    events_device: int = 0
    events_reference: int = 0
    events_equal: bool = True
    first_mismatch: dict | None = None
    infer_us: list[int] = field(default_factory=list)
    host_counters: dict = field(default_factory=dict)
    device_stats: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.windows > 0 and self.bit_exact == self.windows and self.events_equal

    def to_json(self) -> dict:
        inf = np.asarray(self.infer_us, np.float64)
        d = {k: v for k, v in self.__dict__.items() if k != "infer_us"}
        d["bit_exact_pct"] = 100.0 * self.bit_exact / self.windows if self.windows else 0.0
        d["ok"] = self.ok
        d["infer_us"] = {"per_window": self.infer_us,
                         "mean": float(inf.mean()) if inf.size else None,
                         "p50": float(np.percentile(inf, 50)) if inf.size else None,
                         "p95": float(np.percentile(inf, 95)) if inf.size else None,
                         "max": float(inf.max()) if inf.size else None}
        return d

    def summary(self) -> str:
        pct = 100.0 * self.bit_exact / self.windows if self.windows else 0.0
        inf = np.asarray(self.infer_us, np.float64)
        line = (f"hil {self.device.get('target', '?')} model {self.model}: {self.bit_exact}/{self.windows} windows "
                f"bit-exact ({pct:.1f} %), events {self.events_device} device / {self.events_reference} host "
                f"({'equal' if self.events_equal else 'DIFFERENT'}), infer mean "
                f"{inf.mean() if inf.size else 0:.0f} us (device clock), {self.seconds:.1f} s")
        if self.first_mismatch:
            line += f"\n  first mismatch: {json.dumps(self.first_mismatch)}"
        return line


def run_hil(transport: Transport, model_dir: Path, card: dict, segments: list[tuple[int, np.ndarray]],
            port: str = "?", recording: str = "?", split: str | None = None, timeout: float = 10.0,
            hello_timeout: float = 10.0, chunk: int = 256, max_inflight_chunks: int = 4,
            progress: bool = False) -> HilReport:
    """Streams every segment to the device and compares each window and event with the host."""
    from .session import ReplaySession
    rep = HilReport(port=port, model=card["name"], recording=recording, split=split)
    t0 = time.monotonic()
    session = ReplaySession(transport, target_name=port, hello_timeout=hello_timeout, idle_timeout=timeout,
                            max_inflight_chunks=max_inflight_chunks)
    with session:
        info = session.hello(card["name"])
        rep.device = {"target": info.target, "fw_version": info.fw_version, "model_name": info.model_name,
                      "model_sha256": info.model_sha256.hex(), "window": info.window, "hop": info.hop,
                      "channels": info.channels, "arena_used": info.arena_used, "arena_size": info.arena_size}
        want_sha = str(card.get("tflite_sha256", ""))
        if not want_sha or info.model_sha256.hex() != want_sha:
            raise ImuadError(f"device on {port} runs model '{info.model_name}' sha256 {info.model_sha256.hex()[:16]}…, "
                             f"but {model_dir}/model_card.json says {want_sha[:16] or '(none)'}…: flash the "
                             f"firmware built with this model (imuad flash) or pick the matching card")
        if (info.window, info.hop, info.channels) != (int(card["window"]), int(card["hop"]), len(card["channels"])):
            raise ImuadError(f"device model shape W={info.window} H={info.hop} C={info.channels} differs from "
                             f"the card's W={card['window']} H={card['hop']} C={len(card['channels'])}")
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=sum(len(c) for _, c in segments), unit="sample", desc="hil", leave=False)
        for si, (first, counts) in enumerate(segments):
            ref = host_reference(model_dir, card, counts)
            res = session.replay(counts, model=card["name"], chunk=chunk, bye=False,
                                 on_progress=(bar.update if bar is not None else None))
            dev_out = res.outputs
            n = len(ref.outputs)
            if len(res.windows) != n:
                raise ImuadError(f"segment {si}: device sent {len(res.windows)} windows, host expects {n}")
            same = np.all(dev_out.reshape(n, -1) == ref.outputs.reshape(n, -1), axis=1) if n else np.zeros(0, bool)
            rep.windows += n
            rep.bit_exact += int(same.sum())
            rep.score_mismatch += int(np.sum(res.scores != ref.scores))
            rep.state_mismatch += int(np.sum(res.states != np.asarray(ref.states, np.int64)))
            dev_events = res.event_tuples()
            rep.events_device += len(dev_events)
            rep.events_reference += len(ref.events)
            seg_events_equal = dev_events == ref.events
            rep.events_equal = rep.events_equal and seg_events_equal
            rep.infer_us += [int(w.infer_us) for w in res.windows]
            if rep.first_mismatch is None:
                bad = np.flatnonzero(~same)
                if bad.size:
                    j = int(bad[0])
                    rep.first_mismatch = {"segment": si, "window": j, "start_sample": first + j * int(card["hop"]),
                                          "device_out": dev_out[j].tolist(), "host_out": ref.outputs[j].tolist(),
                                          "device_score": int(res.scores[j]), "host_score": int(ref.scores[j])}
                elif not seg_events_equal:
                    rep.first_mismatch = {"segment": si, "events_device": dev_events[:8], "events_host": ref.events[:8]}
            rep.segments.append({"first_sample": first, "samples": int(len(counts)), "windows": n,
                                 "bit_exact": int(same.sum()), "events_device": len(dev_events),
                                 "events_host": len(ref.events), "errors": [str(e) for e in res.errors]})
            if res.stats is not None:
                rep.device_stats = dict(res.stats.__dict__)
        if bar is not None:
            bar.close()
        rep.host_counters = dict(session.decoder.counters)
    rep.seconds = time.monotonic() - t0
    return rep


def _hil(args: argparse.Namespace) -> int:
    from .replay_cmd import load_card, recording_segments
    model_dir, card = load_card(args.model)
    segments = recording_segments(args.recording, card, args.split)
    is_serial = not args.port.startswith("exec:") and "://" not in args.port
    transport = open_port(args.port, args.baud)
    rep = run_hil(transport, model_dir, card, segments, port=args.port, recording=args.recording, split=args.split,
                  timeout=args.timeout, hello_timeout=max(args.timeout, 10.0), chunk=args.chunk,
                  max_inflight_chunks=2 if is_serial else 8, progress=sys.stderr.isatty())
    out = Path(args.report) if args.report else REPO_ROOT / "artifacts" / "hil" / f"{card['name']}-{rep.device.get('target', 'device')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep.to_json(), indent=1))
    print(rep.summary())
    print(f"report: {out}")
    return 0 if rep.ok else 1


def _flash(args: argparse.Namespace) -> int:
    flash(args.port, Path(args.build), baud=args.baud, verify=args.verify)
    return 0


def _monitor(args: argparse.Namespace) -> int:
    counters = monitor(args.port, args.baud, seconds=args.seconds, hello=args.hello)
    print(f"monitor: frames {counters['frames_ok']}, dropped "
          f"{sum(v for k, v in counters.items() if k != 'frames_ok')}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flash", help="flash bootloader, partition table and app of an ESP-IDF build (esptool)")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--build", default=str(REPO_ROOT / "device" / "build"), help="ESP-IDF build dir (flasher_args.json)")
    p.add_argument("--baud", type=int, default=FLASH_BAUD)
    p.add_argument("--verify", action="store_true", help="read back and compare after writing")
    p.set_defaults(func=_flash)

    p = sub.add_parser("monitor", help="decode and print the device's frames and logs live")
    p.add_argument("--port", required=True, help="device path, pyserial URL or exec:CMD")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--hello", metavar="MODEL", nargs="?", const="", default=None,
                   help="send HELLO first (replay mode; prints DEVICE_INFO)")
    p.set_defaults(func=_monitor)

    p = sub.add_parser("hil", help="hardware-in-the-loop: device vs host reference, window by window")
    p.add_argument("--port", required=True, help="device path, pyserial URL or exec:CMD")
    p.add_argument("--model", required=True, help="model dir (models/NAME)")
    p.add_argument("--recording", required=True, help="CSV or NPZ recording")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default=None)
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    p.add_argument("--chunk", type=int, default=256, help="samples per SAMPLES frame")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds without an answer = dead device")
    p.add_argument("--report", default=None, help="JSON report path (default artifacts/hil/MODEL-TARGET.json)")
    p.set_defaults(func=_hil)
