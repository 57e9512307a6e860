"""`imuad monitor`: a device's serial console split into C7 frames and plain text lines."""
from __future__ import annotations

import sys
import time

from .contracts import frames as P
from .targets.esp32 import DEFAULT_BAUD, open_port


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


