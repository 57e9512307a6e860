"""ReplaySession: HELLO -> DEVICE_INFO -> SAMPLES chunks -> WINDOW_RESULT/EVENT -> BYE -> STATS.

Works over any Transport. A reader thread decodes frames continuously so neither side blocks
on a full pipe; every wait has a timeout so a dead firmware fails fast with a message.
Garbage between frames is counted by the decoder and otherwise ignored.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..contracts import frames as P
from ..contracts.card import ModelDir
from ..contracts.windows import n_windows
from ..errors import ImuadError
from .base import Target, Transport

_EOF = object()
#: models at least this large report their upload on stderr
UPLOAD_NOTICE_BYTES = 64 * 1024


def model_begin(model: ModelDir) -> P.ModelBegin:
    """The MODEL_BEGIN frame of a model folder: its flatbuffer's size and SHA-256 and every
    constant of the card the firmware needs (what a compiled-in model's model_config.h holds)."""
    card = model.card
    sizes = card.raw.get("sizes") or {}
    arena = sizes.get("arena_bytes")
    if isinstance(arena, bool) or not isinstance(arena, int) or not 0 < arena < 2**32:
        raise ImuadError(f"{card.path}: field 'sizes.arena_bytes' must be a positive integer to load the model at "
                         f"run time, got {arena!r} (export or import the model again)")
    p, s, d = card.preprocess, card.score, card.decision
    return P.ModelBegin(size=len(model.tflite), sha256=bytes.fromhex(card.tflite_sha256), name=card.name,
                        window=card.window, hop=card.hop, channels=card.n_channels, n_outputs=card.n_outputs,
                        arena_bytes=arena, offset=tuple(p.offset), multiplier=tuple(p.multiplier), shift=p.shift,
                        input_zero_point=p.input_zero_point, score_kind=1 if s.kind == "class_prob" else 2,
                        output_index=s.output_index, output_zero_point=s.output_zero_point, in_mult=s.in_mult,
                        out_mult=s.out_mult, score_shift=s.shift, threshold_on=d.threshold_on,
                        threshold_off=d.threshold_off, k=d.k, n=d.n,
                        preprocess_kind=1 if p.kind == "window_int" else 0)


@dataclass
class Upload:
    """What provide_model did: 'present' (the firmware had this exact model) or 'uploaded'."""
    name: str
    action: str
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class ReplayResult:
    device_info: P.DeviceInfo
    windows: list[P.WindowResult] = field(default_factory=list)
    events: list[P.Event] = field(default_factory=list)
    errors: list[P.Error] = field(default_factory=list)
    logs: list[P.Log] = field(default_factory=list)
    calibrations: list[P.Calibration] = field(default_factory=list)
    stats: P.Stats | None = None
    host_counters: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def scores(self) -> np.ndarray:
        return np.array([w.score for w in self.windows], dtype=np.int64)

    @property
    def outputs(self) -> np.ndarray:
        """[N, n_outputs] int8 raw output tensors."""
        if not self.windows:
            return np.zeros((0, self.device_info.n_outputs), np.int8)
        return np.stack([w.out_int8() for w in self.windows])

    @property
    def states(self) -> np.ndarray:
        return np.array([w.state for w in self.windows], dtype=np.int64)

    def event_tuples(self) -> list[tuple[int, int, int]]:
        return [(e.window, e.kind, e.score) for e in self.events]


class ReplaySession:
    """One conversation with a running firmware. Use as a context manager or call close()."""

    def __init__(self, transport: Transport, target_name: str = "?", hello_timeout: float = 10.0,
                 idle_timeout: float = 10.0, max_inflight_chunks: int = 8) -> None:
        self.transport = transport
        self.target_name = target_name
        self.hello_timeout = hello_timeout
        self.idle_timeout = idle_timeout
        self.max_inflight_chunks = max(1, max_inflight_chunks)
        self.decoder = P.FrameDecoder()
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name=f"imuad-{target_name}-reader", daemon=True)
        self._reader.start()
        self.device_info: P.DeviceInfo | None = None
        self.last_upload: Upload | None = None

    @classmethod
    def open(cls, target: Target, **kw) -> "ReplaySession":
        kw.setdefault("hello_timeout", target.hello_timeout)
        kw.setdefault("idle_timeout", target.idle_timeout)
        kw.setdefault("max_inflight_chunks", getattr(target, "max_inflight_chunks", 8))
        return cls(target.open(), target.name, **kw)

    # ------------------------------------------------------------ plumbing
    def _read_loop(self) -> None:
        try:
            while not self._stop.is_set():
                data = self.transport.read(0.1)
                if data:
                    for msg in self.decoder.feed(data):
                        self._q.put(msg)
        except (EOFError, OSError):
            pass
        finally:
            self._q.put(_EOF)

    def _fail(self, what: str) -> ImuadError:
        diag = self.transport.diagnostics()
        return ImuadError(f"target '{self.target_name}': {what}" + (f"\n{diag}" if diag else ""))

    def _next(self, timeout: float, waiting_for: str):
        try:
            msg = self._q.get(timeout=timeout)
        except queue.Empty:
            raise self._fail(f"no answer within {timeout:.0f} s while waiting for {waiting_for} "
                             f"(dead firmware or wrong port?)") from None
        if msg is _EOF:
            self._q.put(_EOF)
            raise self._fail(f"firmware closed the line while waiting for {waiting_for}")
        return msg

    def write(self, data: bytes) -> None:
        try:
            self.transport.write(data)
        except (EOFError, OSError) as exc:
            raise self._fail(f"firmware closed the line while we were sending ({exc})") from None

    def send(self, msg) -> None:
        self.write(P.encode_frame(msg))

    def close(self) -> None:
        self._stop.set()
        try:
            self.transport.close()
        finally:
            self._reader.join(timeout=2)

    def __enter__(self) -> "ReplaySession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ protocol steps
    def hello(self, model: str = "", config: P.Config | None = None, barrier: bool = True) -> P.DeviceInfo:
        # A leading delimiter ends whatever partial frame the device may hold; STATS_REQ/STATS
        # first is a barrier: answers to earlier traffic (garbage, a previous run) are drained
        # and not mistaken for the answer to this HELLO.
        if barrier:
            self.write(b"\0")
            self.stats()
        self.write(b"\0" + P.encode_frame(P.Hello(model)))
        info = self._await(P.DeviceInfo, self.hello_timeout, "DEVICE_INFO after HELLO")
        if config is not None:
            self.send(config)
            info = self._await(P.DeviceInfo, self.idle_timeout, "DEVICE_INFO after CONFIG")
        self.device_info = info
        self.decoder.channels = info.channels
        return info

    def _await(self, kind: type, timeout: float, what: str, result: ReplayResult | None = None,
               fatal: bool = True):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"timed out after {timeout:.0f} s waiting for {what}")
            msg = self._next(left, what)
            if isinstance(msg, kind):
                return msg
            if fatal and isinstance(msg, P.Error) and msg.code in (P.ERR_MODEL, P.ERR_ARENA, P.ERR_NOT_READY):
                raise self._fail(f"firmware error {msg}")
            if result is not None:
                self._collect(msg, result, None)

    def _collect(self, msg, result: ReplayResult, on_event: Callable[[P.Event], None] | None) -> None:
        if isinstance(msg, P.WindowResult):
            result.windows.append(msg)
        elif isinstance(msg, P.Event):
            result.events.append(msg)
            if on_event is not None:
                on_event(msg)
        elif isinstance(msg, P.Error):
            result.errors.append(msg)
        elif isinstance(msg, P.Log):
            result.logs.append(msg)
        elif isinstance(msg, P.Calibration):
            result.calibrations.append(msg)

    def replay(self, counts: np.ndarray, model: str = "", config: P.Config | None = None,
               chunk: int | None = None, on_event: Callable[[P.Event], None] | None = None,
               on_progress: Callable[[int], None] | None = None, bye: bool = True,
               calibrate: P.Calibrate | None = None) -> ReplayResult:
        """Streams int16 counts [T, C] from sample 0 (after HELLO) and collects every window.
        `calibrate`: sent after HELLO, so the device calibrates on the first windows (C5b)."""
        counts = np.ascontiguousarray(counts, dtype=np.int16)
        if counts.ndim != 2:
            raise ImuadError(f"replay needs counts [samples, channels], got shape {counts.shape}")
        t0 = time.monotonic()
        info = self.hello(model, config)
        if counts.shape[1] != info.channels:
            raise self._fail(f"recording has {counts.shape[1]} channels, model '{info.model_name}' expects "
                             f"{info.channels}")
        result = ReplayResult(info)
        if calibrate is not None:
            self.send(calibrate)
        max_chunk = (P.MAX_PAYLOAD - 6) // (2 * info.channels)
        chunk = min(chunk or 256, max_chunk)
        total = len(counts)
        want_total = n_windows(total, info.window, info.hop)
        boundaries = list(range(0, total, chunk))
        for ci, start in enumerate(boundaries):
            block = counts[start:start + chunk]
            self.send(P.Samples(start, block))
            # flow control: at most max_inflight_chunks chunks not yet answered
            lag = ci + 1 - self.max_inflight_chunks
            if lag >= 0:
                sent_by_lag = min(total, boundaries[lag] + chunk)
                self._drain_until(result, n_windows(sent_by_lag, info.window, info.hop), on_event)
            else:
                self._drain_nowait(result, on_event)
            if on_progress is not None:
                on_progress(len(block))
        self._drain_until(result, want_total, on_event)
        if bye:
            self.send(P.Bye())
            result.stats = self._await(P.Stats, self.idle_timeout, "STATS after BYE", result, fatal=False)
        else:  # STATS_REQ as a barrier: everything before it has arrived when STATS does
            self.send(P.StatsReq())
            result.stats = self._await(P.Stats, self.idle_timeout, "STATS", result, fatal=False)
        # collect events/errors that raced with STATS (none expected: device is in order)
        self._drain_nowait(result, on_event)
        result.host_counters = dict(self.decoder.counters)
        result.seconds = time.monotonic() - t0
        return result

    def _drain_nowait(self, result: ReplayResult, on_event) -> None:
        while True:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                return
            if msg is _EOF:
                self._q.put(_EOF)
                return
            self._collect(msg, result, on_event)

    def _drain_until(self, result: ReplayResult, n_windows: int, on_event) -> None:
        while len(result.windows) < n_windows:
            msg = self._next(self.idle_timeout, f"WINDOW_RESULT {len(result.windows)} of {n_windows}")
            if isinstance(msg, P.Error) and msg.code in (P.ERR_MODEL, P.ERR_ARENA, P.ERR_NOT_READY):
                raise self._fail(f"firmware error {msg}")
            self._collect(msg, result, on_event)
        # an EVENT follows its WINDOW_RESULT: pick up what has already arrived
        self._drain_nowait(result, on_event)

    def provide_model(self, model: ModelDir, upload: bool = True) -> str:
        """Make sure the firmware runs exactly this model; returns the name to HELLO with.

        HELLO(name): when the firmware has a model of that name with the card's SHA-256 (compiled
        in, or loaded earlier) it is used as is; otherwise the model is loaded into the firmware's
        model slot (C7 MODEL_BEGIN / MODEL_CHUNK / MODEL_END). `self.last_upload` says which."""
        name = model.card.name
        self.write(b"\0")
        self.stats()
        self.write(b"\0" + P.encode_frame(P.Hello(name)))
        info: P.DeviceInfo | None = None
        why = ""
        while True:
            msg = self._next(self.hello_timeout, f"DEVICE_INFO after HELLO {name}")
            if isinstance(msg, P.DeviceInfo):
                info = msg
                break
            if isinstance(msg, P.Error) and msg.code in (P.ERR_MODEL, P.ERR_ARENA):
                why = f"no model '{name}' ({msg.text})"
                break
        if info is not None and info.model_sha256.hex() == model.card.tflite_sha256:
            self.last_upload = Upload(name, "present")
            return name
        if info is not None:
            why = (f"its '{name}' is another model (sha256 {info.model_sha256.hex()[:16]}…, {model.path} has "
                   f"{model.card.tflite_sha256[:16]}…)")
        if not upload:
            raise self._fail(f"the firmware cannot run {model.path}: {why}")
        self.upload_model(model)
        return name

    def upload_model(self, model: ModelDir, progress: bool | None = None) -> P.DeviceInfo:
        """Loads the model folder into the firmware's model slot and selects it (its DEVICE_INFO)."""
        info = self.upload(model_begin(model), model.tflite, progress)
        if info.model_name != model.card.name or info.model_sha256.hex() != model.card.tflite_sha256:
            raise self._fail(f"uploaded model '{model.card.name}', but the firmware answered with model "
                             f"'{info.model_name}' sha256 {info.model_sha256.hex()[:16]}… (the card's is "
                             f"{model.card.tflite_sha256[:16]}…)")
        return info

    def upload(self, begin: P.ModelBegin, data: bytes, progress: bool | None = None, end: bool = True) -> P.DeviceInfo:
        """MODEL_BEGIN, the bytes as MODEL_CHUNKs (at most `max_inflight_chunks` unacknowledged),
        MODEL_END; the DEVICE_INFO that answers it. Firmware errors raise ImuadError with the
        firmware's reason. end=False stops before MODEL_END (tests) and returns the last info."""
        name = begin.name
        if progress is None:
            progress = len(data) >= UPLOAD_NOTICE_BYTES
        what = f"uploading model '{name}' ({len(data):,} B)"
        if progress:
            print(f"imuad: {what} to target '{self.target_name}'...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        self.send(begin)
        acked = self._await_upload(P.ModelAck, self.hello_timeout, f"MODEL_ACK after MODEL_BEGIN ({what})").next_offset
        step = P.MAX_CHUNK_DATA
        window = self.max_inflight_chunks * step
        for off in range(0, len(data), step):
            while off - acked >= window:
                acked = max(acked, self._await_upload(P.ModelAck, self.idle_timeout,
                                                      f"MODEL_ACK {acked:,} of {len(data):,} B ({what})").next_offset)
            self.send(P.ModelChunk(off, data[off:off + step]))
        while acked < len(data):
            acked = max(acked, self._await_upload(P.ModelAck, self.idle_timeout,
                                                  f"MODEL_ACK {acked:,} of {len(data):,} B ({what})").next_offset)
        if not end:
            return self.device_info  # type: ignore[return-value]
        self.send(P.ModelEnd())
        info = self._await_upload(P.DeviceInfo, self.hello_timeout, f"DEVICE_INFO after MODEL_END ({what})")
        dt = time.monotonic() - t0
        self.last_upload = Upload(name, "uploaded", len(data), dt)
        if progress:
            print(f"imuad: model '{name}' loaded by '{self.target_name}' in {dt:.2f} s "
                  f"({len(data) / 1024 / max(dt, 1e-9):.0f} KiB/s)", file=sys.stderr, flush=True)
        self.device_info = info
        self.decoder.channels = info.channels
        return info

    def _await_upload(self, kind: type, timeout: float, what: str):
        """_await, with the upload named in the error (firmware errors end the upload; the
        firmware keeps running its compiled-in models)."""
        try:
            return self._await(kind, timeout, what)
        except ImuadError as exc:
            head, _, rest = str(exc).partition("\n")
            if "firmware error" not in head:
                raise
            raise ImuadError(f"{head} (waiting for {what})" + (f"\n{rest}" if rest else "")) from None

    def stats(self) -> P.Stats:
        self.send(P.StatsReq())
        return self._await(P.Stats, self.hello_timeout, "STATS", fatal=False)

    def run_windows(self, windows: np.ndarray, model: str = "") -> np.ndarray:
        """Raw outputs [N, n_out] for independent windows [N, W, C] (one HELLO per window)."""
        outs = []
        for i, w in enumerate(np.asarray(windows, dtype=np.int16)):
            self.hello(model, barrier=i == 0)
            self.send(P.Samples(0, w))
            res = ReplayResult(self.device_info)  # type: ignore[arg-type]
            self._drain_until(res, 1, None)
            outs.append(res.windows[0].out_int8())
        n = self.device_info.n_outputs if self.device_info else 0
        return np.stack(outs) if outs else np.zeros((0, n), np.int8)
