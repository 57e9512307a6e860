"""Serial frame codec (docs/contracts.md C7), the mirror of `imuad/codec.h` + `imuad/protocol.h`.

Wire: COBS(body) 0x00 with body = version:u8 | type:u8 | payload | crc16 (CCITT-FALSE, LE).
Messages are dataclasses with `encode()` (payload bytes) and `decode(payload)`;
`encode_frame(msg)` gives wire bytes, `FrameDecoder.feed(data)` yields messages and counts
the frames it drops exactly like the C++ decoder.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from typing import ClassVar, Iterator

import numpy as np

from .decision import check_decision

VERSION = 1
MAX_BODY = 2048
MAX_PAYLOAD = MAX_BODY - 4
MAX_ENCODED = MAX_BODY + MAX_BODY // 254 + 1

HELLO, DEVICE_INFO, SAMPLES, WINDOW_RESULT, EVENT, LOG, ERROR, STATS_REQ, STATS, BYE, CONFIG = range(1, 12)
MODEL_BEGIN, MODEL_CHUNK, MODEL_ACK, MODEL_END = range(12, 16)
CALIBRATE, CALIBRATION = 0x10, 0x11
MAX_CHANNELS = 8                               # imuad::kMaxChannels (C3 arrays in MODEL_BEGIN)
MAX_CHUNK_DATA = MAX_PAYLOAD - 4               # MODEL_CHUNK bytes after its offset
ERR_GAP, ERR_BAD_LENGTH, ERR_UNKNOWN_TYPE, ERR_MODEL, ERR_ARENA, ERR_NOT_READY = range(1, 7)
ERROR_NAMES = {1: "GAP", 2: "BAD_LENGTH", 3: "UNKNOWN_TYPE", 4: "MODEL", 5: "ARENA", 6: "NOT_READY"}


class ProtocolError(ValueError):
    """A payload whose length or content does not fit its message type."""


# ---------------------------------------------------------------- CRC + COBS
def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ b]
    return crc


def cobs_encode(data: bytes) -> bytes:
    out = bytearray([0])
    code_pos, code = 0, 1
    for b in data:
        if b == 0:
            out[code_pos] = code
            code_pos, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_pos] = code
                code_pos, code = len(out), 1
                out.append(0)
    out[code_pos] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """None if malformed (a zero byte, or a block running past the end)."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or code - 1 > n - i:
            return None
        block = data[i:i + code - 1]
        if 0 in block:
            return None
        out += block
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


# ---------------------------------------------------------------- messages
def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _pad(text: str, width: int) -> bytes:
    return text.encode("utf-8")[:width].ljust(width, b"\0")


@dataclass
class Hello:
    TYPE: ClassVar[int] = HELLO
    model: str = ""

    def encode(self) -> bytes:
        raw = self.model.encode("utf-8")
        if len(raw) > 32:
            raise ProtocolError(f"HELLO model name longer than 32 bytes: {self.model!r}")
        return raw

    @classmethod
    def decode(cls, p: bytes) -> "Hello":
        if len(p) > 32:
            raise ProtocolError(f"HELLO payload {len(p)} bytes > 32")
        return cls(p.rstrip(b"\0").decode("utf-8", "replace"))


@dataclass
class DeviceInfo:
    TYPE: ClassVar[int] = DEVICE_INFO
    FMT: ClassVar[str] = "<16s32sHHBHII8s32sI"
    LEGACY_LEN: ClassVar[int] = 103  # firmware from before model_slot_bytes: read as slot 0
    fw_version: str = ""
    model_sha256: bytes = bytes(32)
    window: int = 0
    hop: int = 0
    channels: int = 0
    n_outputs: int = 0
    arena_used: int = 0
    arena_size: int = 0
    target: str = ""
    model_name: str = ""
    model_slot_bytes: int = 0  # bytes a model loaded at run time may have (0: no model slot)

    def encode(self) -> bytes:
        return struct.pack(self.FMT, _pad(self.fw_version, 16), bytes(self.model_sha256)[:32].ljust(32, b"\0"),
                           self.window, self.hop, self.channels, self.n_outputs, self.arena_used,
                           self.arena_size, _pad(self.target, 8), _pad(self.model_name, 32), self.model_slot_bytes)

    @classmethod
    def decode(cls, p: bytes) -> "DeviceInfo":
        if len(p) == cls.LEGACY_LEN:
            p = bytes(p) + bytes(4)
        _check_len("DEVICE_INFO", p, struct.calcsize(cls.FMT))
        fw, sha, w, h, c, n, used, size, tgt, name, slot = struct.unpack(cls.FMT, p)
        return cls(_cstr(fw), sha, w, h, c, n, used, size, _cstr(tgt), _cstr(name), slot)


@dataclass
class Samples:
    TYPE: ClassVar[int] = SAMPLES
    first_index: int = 0
    data: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int16))  # [count, C] int16

    def encode(self) -> bytes:
        d = np.ascontiguousarray(self.data, dtype="<i2")
        if d.ndim != 2:
            raise ProtocolError("SAMPLES data must be [count, channels]")
        return struct.pack("<IH", self.first_index & 0xFFFFFFFF, len(d)) + d.tobytes()

    @classmethod
    def decode(cls, p: bytes, channels: int | None = None) -> "Samples":
        if len(p) < 6:
            raise ProtocolError(f"SAMPLES payload {len(p)} bytes < 6")
        first, count = struct.unpack_from("<IH", p)
        body = p[6:]
        if channels is None:
            channels = len(body) // (2 * count) if count else 1
        if len(body) != count * channels * 2:
            raise ProtocolError(f"SAMPLES: {count} x {channels} samples need {count * channels * 2} bytes, got {len(body)}")
        return cls(first, np.frombuffer(body, "<i2").reshape(count, channels).astype(np.int16))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Samples) and self.first_index == other.first_index
                and np.array_equal(self.data, other.data))


@dataclass
class WindowResult:
    TYPE: ClassVar[int] = WINDOW_RESULT
    window: int = 0
    score: int = 0
    state: int = 0
    hot: int = 0
    infer_us: int = 0
    out: bytes = b""  # raw int8 output tensor

    def encode(self) -> bytes:
        return struct.pack("<IiBBIH", self.window, self.score, self.state, self.hot, self.infer_us,
                           len(self.out)) + bytes(self.out)

    @classmethod
    def decode(cls, p: bytes) -> "WindowResult":
        if len(p) < 16:
            raise ProtocolError(f"WINDOW_RESULT payload {len(p)} bytes < 16")
        w, s, st, hot, us, n = struct.unpack_from("<IiBBIH", p)
        _check_len("WINDOW_RESULT", p, 16 + n)
        return cls(w, s, st, hot, us, bytes(p[16:]))

    def out_int8(self) -> np.ndarray:
        return np.frombuffer(self.out, np.int8)


@dataclass
class Event:
    TYPE: ClassVar[int] = EVENT
    window: int = 0
    kind: int = 0
    score: int = 0
    uptime_ms: int = 0

    def encode(self) -> bytes:
        return struct.pack("<IBiI", self.window, self.kind, self.score, self.uptime_ms)

    @classmethod
    def decode(cls, p: bytes) -> "Event":
        _check_len("EVENT", p, 13)
        return cls(*struct.unpack("<IBiI", p))


@dataclass
class Log:
    TYPE: ClassVar[int] = LOG
    level: int = 2
    text: str = ""

    def encode(self) -> bytes:
        return bytes([self.level]) + self.text.encode("utf-8")

    @classmethod
    def decode(cls, p: bytes) -> "Log":
        if len(p) < 1:
            raise ProtocolError("LOG payload empty")
        return cls(p[0], p[1:].decode("utf-8", "replace"))


@dataclass
class Error:
    TYPE: ClassVar[int] = ERROR
    code: int = 0
    text: str = ""

    def encode(self) -> bytes:
        return bytes([self.code]) + self.text.encode("utf-8")

    @classmethod
    def decode(cls, p: bytes) -> "Error":
        if len(p) < 1:
            raise ProtocolError("ERROR payload empty")
        return cls(p[0], p[1:].decode("utf-8", "replace"))

    def __str__(self) -> str:
        return f"{ERROR_NAMES.get(self.code, self.code)}: {self.text}"


@dataclass
class _Empty:
    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, p: bytes):
        _check_len(cls.__name__, p, 0)
        return cls()


@dataclass
class StatsReq(_Empty):
    TYPE: ClassVar[int] = STATS_REQ


@dataclass
class Bye(_Empty):
    TYPE: ClassVar[int] = BYE


@dataclass
class Stats:
    TYPE: ClassVar[int] = STATS
    frames_ok: int = 0
    cobs_error: int = 0
    too_short: int = 0
    oversized: int = 0
    crc_error: int = 0
    bad_version: int = 0
    unknown_type: int = 0
    bad_length: int = 0
    windows: int = 0
    events: int = 0
    stack_hwm_bytes: int = 0
    arena_used: int = 0

    def encode(self) -> bytes:
        return struct.pack("<12I", *(getattr(self, f.name) for f in fields(self)))

    @classmethod
    def decode(cls, p: bytes) -> "Stats":
        _check_len("STATS", p, 48)
        return cls(*struct.unpack("<12I", p))

    @property
    def dropped(self) -> int:
        return self.cobs_error + self.too_short + self.oversized + self.crc_error + self.bad_version


@dataclass
class Config:
    TYPE: ClassVar[int] = CONFIG
    threshold_on: int = 0
    threshold_off: int = 0
    k: int = 1
    n: int = 1

    def encode(self) -> bytes:
        """C5-valid settings only (`check_decision`); a test of the firmware's answer to an
        invalid CONFIG sends `encode_raw(CONFIG, ...)` instead."""
        d = check_decision(self.threshold_on, self.threshold_off, self.k, self.n)
        return struct.pack("<iiBB", d.threshold_on, d.threshold_off, d.k, d.n)

    @classmethod
    def decode(cls, p: bytes) -> "Config":
        _check_len("CONFIG", p, 10)
        return cls(*struct.unpack("<iiBB", p))


@dataclass
class ModelBegin:
    """Host->device: a model for the device's model slot; its spec is everything imuad::ModelSpec
    holds besides the flatbuffer (C2-C5 constants of the card). Answered with MODEL_ACK(0), or
    ERROR(MODEL) / ERROR(ARENA) when the device cannot take it."""
    TYPE: ClassVar[int] = MODEL_BEGIN
    FMT: ClassVar[str] = "<I32s32sHHBHI8i8iiiBiiiiiiiBBB"
    size: int = 0
    sha256: bytes = bytes(32)
    name: str = ""
    window: int = 0
    hop: int = 0
    channels: int = 0
    n_outputs: int = 0
    arena_bytes: int = 0
    offset: tuple[int, ...] = ()        # C3, one per channel
    multiplier: tuple[int, ...] = ()
    shift: int = 1
    input_zero_point: int = 0
    score_kind: int = 1                 # C4: 1 class_prob, 2 recon_error
    output_index: int = 0
    output_zero_point: int = 0
    in_mult: int = 0
    out_mult: int = 0
    score_shift: int = 0
    threshold_on: int = 0               # C5
    threshold_off: int = 0
    k: int = 1
    n: int = 1
    preprocess_kind: int = 0            # C3: 0 affine_int, 1 window_int (offset = RMS floors)

    def encode(self) -> bytes:
        name = self.name.encode("utf-8")
        if not 1 <= len(name) <= 32:
            raise ProtocolError(f"MODEL_BEGIN model name must have 1..32 bytes: {self.name!r}")
        c = self.channels
        if not 1 <= c <= MAX_CHANNELS or len(self.offset) != c or len(self.multiplier) != c:
            raise ProtocolError(f"MODEL_BEGIN: {c} channels need {c} offsets and multipliers "
                                f"(got {len(self.offset)} and {len(self.multiplier)}; at most {MAX_CHANNELS})")
        pad = (0,) * (MAX_CHANNELS - c)
        try:
            return struct.pack(self.FMT, self.size, bytes(self.sha256), name, self.window, self.hop, c,
                               self.n_outputs, self.arena_bytes, *self.offset, *pad, *self.multiplier, *pad,
                               self.shift, self.input_zero_point, self.score_kind, self.output_index,
                               self.output_zero_point, self.in_mult, self.out_mult, self.score_shift,
                               self.threshold_on, self.threshold_off, self.k, self.n, self.preprocess_kind)
        except struct.error as exc:
            raise ProtocolError(f"MODEL_BEGIN field out of range: {exc}") from None

    @classmethod
    def decode(cls, p: bytes) -> "ModelBegin":
        _check_len("MODEL_BEGIN", p, struct.calcsize(cls.FMT))
        v = struct.unpack(cls.FMT, p)
        size, sha, name, w, h, c, n_out, arena = v[:8]
        off, mult = v[8:16], v[16:24]
        rest = v[24:]
        cc = min(c, MAX_CHANNELS)
        return cls(size, sha, _cstr(name), w, h, c, n_out, arena, tuple(off[:cc]), tuple(mult[:cc]), *rest)


@dataclass
class ModelChunk:
    """Host->device: `data` at byte `offset` of the model announced by MODEL_BEGIN (in order)."""
    TYPE: ClassVar[int] = MODEL_CHUNK
    offset: int = 0
    data: bytes = b""

    def encode(self) -> bytes:
        if not 1 <= len(self.data) <= MAX_CHUNK_DATA:
            raise ProtocolError(f"MODEL_CHUNK carries 1..{MAX_CHUNK_DATA} bytes, got {len(self.data)}")
        return struct.pack("<I", self.offset) + bytes(self.data)

    @classmethod
    def decode(cls, p: bytes) -> "ModelChunk":
        if len(p) < 5:
            raise ProtocolError(f"MODEL_CHUNK payload {len(p)} bytes < 5")
        return cls(struct.unpack_from("<I", p)[0], bytes(p[4:]))


@dataclass
class ModelAck:
    """Device->host: the model bytes received in order so far (after MODEL_BEGIN: 0)."""
    TYPE: ClassVar[int] = MODEL_ACK
    next_offset: int = 0

    def encode(self) -> bytes:
        return struct.pack("<I", self.next_offset)

    @classmethod
    def decode(cls, p: bytes) -> "ModelAck":
        _check_len("MODEL_ACK", p, 4)
        return cls(struct.unpack("<I", p)[0])


@dataclass
class ModelEnd(_Empty):
    """Host->device: every byte sent; the device checks SHA-256, flatbuffer, structure and ops,
    loads the model and answers DEVICE_INFO with it selected (or ERROR(MODEL) / ERROR(ARENA))."""
    TYPE: ClassVar[int] = MODEL_END


@dataclass
class Calibrate:
    """Host->device (C5b): calibrate the decision on the next `windows` windows (0: report the
    stored calibration of the selected model). Answered, once those windows are done, with
    CALIBRATION (and an EVENT of kind 6); an invalid request with ERROR(MODEL)."""
    TYPE: ClassVar[int] = CALIBRATE
    windows: int = 0
    allowed: int = 0
    margin_permille: int = 0
    k: int = 0
    n: int = 0
    drift_block: int = 0
    refit: int = 0

    def encode(self) -> bytes:
        return struct.pack("<HHHBBHB", self.windows, self.allowed, self.margin_permille, self.k, self.n,
                           self.drift_block, self.refit)

    @classmethod
    def decode(cls, p: bytes) -> "Calibrate":
        _check_len("CALIBRATE", p, 11)
        return cls(*struct.unpack("<HHHBBHB", p))


@dataclass
class Calibration:
    """Device->host (C5b): the decision the device fitted on its own windows, and why."""
    TYPE: ClassVar[int] = CALIBRATION
    threshold_on: int = 0
    threshold_off: int = 0
    k: int = 1
    n: int = 1
    windows: int = 0
    median: int = 0
    lowest_on: int = 0
    onsets_before: int = 0
    drift_block: int = 0

    def encode(self) -> bytes:
        return struct.pack("<iiBBHiiHH", self.threshold_on, self.threshold_off, self.k, self.n, self.windows,
                           self.median, self.lowest_on, self.onsets_before, self.drift_block)

    @classmethod
    def decode(cls, p: bytes) -> "Calibration":
        _check_len("CALIBRATION", p, 24)
        return cls(*struct.unpack("<iiBBHiiHH", p))

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in ("threshold_on", "threshold_off", "k", "n", "windows", "median",
                                              "lowest_on", "onsets_before", "drift_block")}


MESSAGES: dict[int, type] = {m.TYPE: m for m in (Hello, DeviceInfo, Samples, WindowResult, Event, Log, Error,
                                                  StatsReq, Stats, Bye, Config, ModelBegin, ModelChunk, ModelAck,
                                                  ModelEnd, Calibrate, Calibration)}
Message = (Hello | DeviceInfo | Samples | WindowResult | Event | Log | Error | StatsReq | Stats | Bye | Config
           | ModelBegin | ModelChunk | ModelAck | ModelEnd | Calibrate | Calibration)


@dataclass
class RawFrame:
    """A frame that passed COBS/CRC/version checks but whose type or length is unknown."""
    type: int
    payload: bytes
    reason: str = ""


def _check_len(name: str, p: bytes, want: int) -> None:
    if len(p) != want:
        raise ProtocolError(f"{name} payload {len(p)} bytes, expected {want}")


# ---------------------------------------------------------------- frames
def encode_body(type_: int, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload {len(payload)} bytes > {MAX_PAYLOAD}")
    head = bytes([VERSION, type_ & 0xFF]) + payload
    return head + struct.pack("<H", crc16_ccitt(head))


def encode_raw(type_: int, payload: bytes) -> bytes:
    return cobs_encode(encode_body(type_, payload)) + b"\0"


def encode_frame(msg) -> bytes:
    return encode_raw(msg.TYPE, msg.encode())


def decode_payload(type_: int, payload: bytes, channels: int | None = None):
    """Message dataclass, or RawFrame for an unknown type / wrong length."""
    cls = MESSAGES.get(type_)
    if cls is None:
        return RawFrame(type_, payload, "unknown_type")
    try:
        return cls.decode(payload, channels) if cls is Samples else cls.decode(payload)
    except ProtocolError as exc:
        return RawFrame(type_, payload, f"bad_length: {exc}")


COUNTERS = ("frames_ok", "cobs_error", "too_short", "oversized", "crc_error", "bad_version",
            "unknown_type", "bad_length")


class FrameDecoder:
    """Streaming decoder with the C++ FrameDecoder's counters (plus the dispatcher's two)."""

    def __init__(self, channels: int | None = None) -> None:
        self.channels = channels
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._buf = bytearray()
        self._skipping = False

    def feed_bodies(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """(type, payload) of every valid frame completed by data."""
        for chunk_end in _split_keep(data):
            part, delim = chunk_end
            if not delim:
                self._append(part)
                continue
            self._append(part)
            if self._skipping:
                self._skipping = False
                self._buf.clear()
                continue
            enc = bytes(self._buf)
            self._buf.clear()
            if not enc:
                continue
            body = cobs_decode(enc)
            if body is None:
                self.counters["cobs_error"] += 1
            elif len(body) > MAX_BODY:
                self.counters["oversized"] += 1
            elif len(body) < 4:
                self.counters["too_short"] += 1
            elif crc16_ccitt(body[:-2]) != struct.unpack_from("<H", body, len(body) - 2)[0]:
                self.counters["crc_error"] += 1
            elif body[0] != VERSION:
                self.counters["bad_version"] += 1
            else:
                self.counters["frames_ok"] += 1
                yield body[1], body[2:-2]

    def _append(self, part: bytes) -> None:
        if self._skipping or not part:
            return
        room = MAX_ENCODED - len(self._buf)
        if len(part) > room:
            self.counters["oversized"] += 1
            self._skipping = True
            self._buf.clear()
            return
        self._buf += part

    def feed(self, data: bytes) -> list:
        """Decoded messages (dataclasses; RawFrame for unknown type / bad length, also counted)."""
        out = []
        for type_, payload in self.feed_bodies(data):
            msg = decode_payload(type_, payload, self.channels)
            if isinstance(msg, RawFrame):
                key = "unknown_type" if msg.reason == "unknown_type" else "bad_length"
                self.counters[key] += 1
            out.append(msg)
        return out


def _split_keep(data: bytes) -> Iterator[tuple[bytes, bool]]:
    """Pieces of data between delimiters: (bytes, ended_by_delimiter)."""
    start = 0
    while True:
        i = data.find(b"\0", start)
        if i < 0:
            if start < len(data):
                yield data[start:], False
            return
        yield data[start:i], True
        start = i + 1
