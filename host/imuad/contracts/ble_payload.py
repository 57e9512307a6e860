"""Contract C8 wire layouts: event notification, status read, control write.

Status and control layouts are documented in device/components/ble_alerts/README.md
and implemented in C in ble_alerts_proto.c; tests/gateway/test_c8_vectors.py checks every side agrees.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .calibration import (CALIBRATED, DRIFT, DRIFT_CLEAR, EVENT_NAMES, CalibrationRequest,
                          check_request)
from .decision import check_decision
from .ranges import EVENT_KIND

SERVICE_UUID = "6e0a0001-5f1d-4b8e-9c43-696d75616400"
EVENT_UUID = "6e0a0002-5f1d-4b8e-9c43-696d75616400"
STATUS_UUID = "6e0a0003-5f1d-4b8e-9c43-696d75616400"
CONTROL_UUID = "6e0a0004-5f1d-4b8e-9c43-696d75616400"

PAYLOAD_VERSION = 1
PAYLOAD_LEN = 20
KIND_ONSET, KIND_CLEAR, KIND_HEARTBEAT = 1, 2, 3
KIND_DRIFT, KIND_DRIFT_CLEAR, KIND_CALIBRATED = DRIFT, DRIFT_CLEAR, CALIBRATED  # C5b, as C7
FLAG_REPLAYED, FLAG_OVERFLOW = 0x01, 0x02

CTRL_ACK, CTRL_REPLAY, CTRL_CONFIG, CTRL_CALIBRATE = 0x01, 0x02, 0x03, 0x04

_EVENT = struct.Struct("<BBBBIIiI")
# 04 windows:u16 allowed:u16 margin_permille:u16 k:u8 n:u8 drift_block:u16 (11 bytes)
_CALIBRATE = struct.Struct("<BHHHBBHB")
_STATUS = struct.Struct("<BBBBiiIIIHHI16s")
STATUS_LEN = _STATUS.size  # 48


class PayloadError(ValueError):
    """A notification that is not a valid C8 event (counted and dropped)."""


@dataclass(frozen=True)
class Event:
    kind: int
    state: int
    flags: int
    seq: int
    uptime_ms: int
    score: int
    model_id: int

    @property
    def replayed(self) -> bool:
        return bool(self.flags & FLAG_REPLAYED)

    @property
    def overflowed(self) -> bool:
        return bool(self.flags & FLAG_OVERFLOW)


@dataclass(frozen=True)
class Status:
    state: int
    k: int
    n: int
    threshold_on: int
    threshold_off: int
    model_id: int
    last_seq: int
    acked_seq: int
    backlog: int
    capacity: int
    overflows: int
    fw_version: str


def decode_event(data: bytes) -> Event:
    """Decode one 20-byte event; longer payloads keep their first 20 bytes (future fields)."""
    data = bytes(data)
    if len(data) < PAYLOAD_LEN:
        raise PayloadError(f"event payload is {len(data)} bytes, expected {PAYLOAD_LEN}")
    version, kind, state, flags, seq, uptime, score, model_id = _EVENT.unpack_from(data)
    if version != PAYLOAD_VERSION:
        raise PayloadError(f"event payload version {version}, expected {PAYLOAD_VERSION}")
    if not EVENT_KIND.lo <= kind <= EVENT_KIND.hi:
        names = ", ".join(f"{k} ({n})" for k, n in EVENT_NAMES.items())
        raise PayloadError(f"event kind {kind} is not one of {names}")
    return Event(kind, state, flags, seq, uptime, score, model_id)


def encode_event(ev: Event) -> bytes:
    return _EVENT.pack(PAYLOAD_VERSION, ev.kind, ev.state, ev.flags, ev.seq, ev.uptime_ms,
                       ev.score, ev.model_id)


def decode_status(data: bytes) -> Status:
    data = bytes(data)
    if len(data) < STATUS_LEN or data[0] != 1:
        raise PayloadError(f"status is {len(data)} bytes (version {data[:1].hex() or '-'}), "
                           f"expected {STATUS_LEN} bytes of version 01")
    (_, state, k, n, on, off, model_id, last_seq, acked_seq, backlog, capacity, overflows,
     fw) = _STATUS.unpack_from(data)
    return Status(state, k, n, on, off, model_id, last_seq, acked_seq, backlog, capacity,
                  overflows, fw.rstrip(b"\0").decode("utf-8", "replace"))


def encode_ack(seq: int) -> bytes:
    return struct.pack("<BI", CTRL_ACK, seq & 0xFFFFFFFF)


def encode_replay(seq: int) -> bytes:
    return struct.pack("<BI", CTRL_REPLAY, seq & 0xFFFFFFFF)


def encode_config(threshold_on: int, threshold_off: int, k: int, n: int) -> bytes:
    """The control write of a decision change; settings outside contract C5 raise
    `DecisionError` (a ValueError) naming the field."""
    d = check_decision(threshold_on, threshold_off, k, n)
    return struct.pack("<BiiBB", CTRL_CONFIG, d.threshold_on, d.threshold_off, d.k, d.n)


def encode_calibrate(request: CalibrationRequest | Mapping[str, Any]) -> bytes:
    """The control write of a CALIBRATE (op 0x04, 12 bytes); a request outside C5b's ranges
    raises `RangeError` (a ValueError) naming the field, as `calibration.check_request`."""
    r = check_request(request.as_dict() if isinstance(request, CalibrationRequest) else request)
    return _CALIBRATE.pack(CTRL_CALIBRATE, r.windows, r.allowed, r.margin_permille, r.k, r.n,
                           r.drift_block, r.refit)


def model_id_hex(model_id: int) -> str:
    """The model id as stored (C9 `model_id TEXT`): the first 4 SHA-256 bytes in hex."""
    return model_id.to_bytes(4, "little").hex()
