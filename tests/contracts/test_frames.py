"""imuad.contracts.frames (C7): every message round-trips; the streaming decoder counts each corruption class."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from imuad.contracts import frames as P

u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-2**31, 2**31 - 1)
u16 = st.integers(0, 2**16 - 1)
u8 = st.integers(0, 255)
name = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=16)

messages = st.one_of(
    st.builds(P.Hello, st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=32)),
    st.builds(P.DeviceInfo, name, st.binary(min_size=32, max_size=32), u16, u16, u8, u16, u32, u32,
              st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=8), name, u32),
    st.builds(lambda first, c, rows: P.Samples(first, np.array(rows, np.int16).reshape(-1, c)),
              u32, st.just(3), st.lists(st.integers(-32768, 32767), max_size=300).map(lambda v: v[:len(v) // 3 * 3])),
    st.builds(P.WindowResult, u32, i32, st.integers(0, 1), st.integers(0, 1), u32, st.binary(max_size=600)),
    st.builds(P.Event, u32, st.integers(1, 2), i32, u32),
    st.builds(P.Log, st.integers(0, 3), st.text(max_size=100)),
    st.builds(P.Error, st.integers(1, 6), st.text(max_size=100)),
    st.builds(P.StatsReq), st.builds(P.Bye),
    st.builds(P.Stats, *[u32] * 12),
    # C5-valid settings only: Config.encode refuses others (the firmware's answer to an invalid
    # CONFIG is a firmware test, sent as a raw frame)
    st.tuples(i32, i32, st.integers(1, 32), st.integers(1, 32)).map(
        lambda t: P.Config(max(t[0], t[1]), min(t[0], t[1]), min(t[2], t[3]), max(t[2], t[3]))),
)


def model_begins(valid: bool = False) -> st.SearchStrategy:
    """MODEL_BEGIN frames; valid: fields in the ranges the core accepts (imuad/model_upload.h)."""
    if not valid:
        return st.integers(1, 8).flatmap(lambda c: st.builds(
            P.ModelBegin, u32, st.binary(min_size=32, max_size=32), name.filter(bool), u16, u16, st.just(c), u16, u32,
            st.tuples(*[i32] * c), st.tuples(*[i32] * c), i32, i32, u8, i32, i32, i32, i32, i32, i32, i32, u8, u8))
    return st.integers(1, 8).flatmap(lambda c: st.builds(
        lambda size, sha, nm, w, h, n_out, arena, off, mult, sh, izp, kind, ozp, mi, mo, ssh, t, kn: P.ModelBegin(
            size, sha, nm, w, h, c, n_out, arena, off, mult, sh, izp, kind, 0 if kind == 2 else n_out - 1, ozp, mi, mo,
            ssh, max(t), min(t), min(kn), max(kn)),
        st.integers(1, 2**32 - 1), st.binary(min_size=32, max_size=32), name.filter(bool), st.integers(1, 65535),
        st.integers(1, 65535), st.integers(1, 65535), u32, st.tuples(*[i32] * c),
        st.tuples(*[st.integers(1, 2**31 - 1)] * c), st.integers(1, 40), st.integers(-128, 127), st.integers(1, 2),
        st.integers(-128, 127), i32, i32, st.integers(0, 62), st.tuples(i32, i32),
        st.tuples(st.integers(1, 32), st.integers(1, 32))))


model_messages = st.one_of(
    model_begins(),
    st.builds(P.ModelChunk, u32, st.binary(min_size=1, max_size=P.MAX_CHUNK_DATA)),
    st.builds(P.ModelAck, u32), st.builds(P.ModelEnd))
messages = st.one_of(messages, model_messages)


@settings(max_examples=250, deadline=None)
@given(messages)
def test_round_trip(msg):
    wire = P.encode_frame(msg)
    assert wire.endswith(b"\0") and b"\0" not in wire[:-1]
    dec = P.FrameDecoder(channels=3)
    got = dec.feed(wire)
    assert got == [msg]
    assert dec.counters["frames_ok"] == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(messages, min_size=1, max_size=8), st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_stream_split_anywhere(msgs, cuts):
    """Feeding the same bytes in arbitrary pieces gives the same messages."""
    wire = b"".join(P.encode_frame(m) for m in msgs)
    dec = P.FrameDecoder(channels=3)
    out, pos, i = [], 0, 0
    while pos < len(wire):
        step = cuts[i % len(cuts)]
        out += dec.feed(wire[pos:pos + step])
        pos += step
        i += 1
    assert out == msgs


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_cobs_round_trip(data):
    enc = P.cobs_encode(data)
    assert b"\0" not in enc
    assert len(enc) <= len(data) + len(data) // 254 + 1
    assert P.cobs_decode(enc) == data


def test_crc_check_value():
    assert P.crc16_ccitt(b"123456789") == 0x29B1


def test_every_corruption_class_is_counted():
    dec = P.FrameDecoder()
    good = P.encode_frame(P.StatsReq())
    bad_crc = bytearray(P.encode_frame(P.Event(1, 1, 5, 6)))
    bad_crc[3] ^= 0x10
    body = bytes([2, P.STATS_REQ])
    bad_version = P.cobs_encode(body + struct.pack("<H", P.crc16_ccitt(body))) + b"\0"
    stream = (b"\x05\x01\x02\0"            # cobs_error
              + b"\x04\x01\x02\x03\0"       # too_short (3-byte body)
              + bytes(bad_crc)              # crc_error
              + bad_version                 # bad_version
              + b"\x55" * 5000 + b"\0"      # oversized before a delimiter
              + b"\x01" * P.MAX_ENCODED + b"\0"  # oversized once decoded
              + P.encode_raw(0x55, b"")     # unknown_type
              + P.encode_raw(P.CONFIG, b"\1")  # bad_length
              + b"\0\0" + good)
    msgs = dec.feed(stream)
    assert dec.counters == {"frames_ok": 3, "cobs_error": 1, "too_short": 1, "oversized": 2, "crc_error": 1,
                            "bad_version": 1, "unknown_type": 1, "bad_length": 1}
    assert msgs[-1] == P.StatsReq()
    assert [type(m).__name__ for m in msgs] == ["RawFrame", "RawFrame", "StatsReq"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_garbage_never_raises(data):
    dec = P.FrameDecoder(channels=3)
    dec.feed(data)
    dec.feed(P.encode_frame(P.Bye()))
    assert sum(dec.counters.values()) >= 1


@pytest.mark.parametrize("on, off, k, n", [(0, 1, 2, 3), (5, 1, 4, 3), (5, 1, 0, 3), (2**31, 0, 1, 1), (5, 1, 1, 33)])
def test_config_encodes_only_valid_c5_settings(on, off, k, n):
    from imuad.contracts.decision import DecisionError
    with pytest.raises(DecisionError):
        P.Config(on, off, k, n).encode()


def test_model_frame_layouts():
    """C7: MODEL_BEGIN is 183 bytes, field by field; MODEL_CHUNK = offset + bytes; MODEL_ACK = u32;
    DEVICE_INFO carries model_slot_bytes last (107 bytes; a 103-byte one reads as slot 0)."""
    m = P.ModelBegin(0x01020304, bytes(range(32)), "ad01", 640, 320, 2, 640, 5008, (-1, 2), (3, 4), 16, -128, 2, 0,
                     5, 6, 7, 8, 100, 90, 2, 3, 1)
    raw = m.encode()
    assert len(raw) == 183 and raw[182] == 1 and P.ModelBegin.decode(raw) == m
    assert raw[:4] == b"\x04\x03\x02\x01" and raw[4:36] == bytes(range(32)) and raw[36:68] == b"ad01".ljust(32, b"\0")
    assert struct.unpack_from("<HHBHI", raw, 68) == (640, 320, 2, 640, 5008)
    assert struct.unpack_from("<8i8iii", raw, 79) == (-1, 2, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 16, -128)
    assert struct.unpack_from("<BiiiiiiiBB", raw, 151) == (2, 0, 5, 6, 7, 8, 100, 90, 2, 3)
    assert P.ModelChunk(7, b"abc").encode() == b"\x07\0\0\0abc" and P.ModelAck(9).encode() == b"\x09\0\0\0"
    assert P.ModelEnd().encode() == b""
    info = P.DeviceInfo("fw", bytes(32), 1, 1, 1, 1, 0, 0, "host", "m", 1 << 20)
    assert len(info.encode()) == 107 and P.DeviceInfo.decode(info.encode()) == info
    assert P.DeviceInfo.decode(info.encode()[:103]).model_slot_bytes == 0
    for bad in (lambda: P.ModelBegin(name="", channels=1, offset=(0,), multiplier=(1,)).encode(),
                lambda: P.ModelBegin(name="x" * 33, channels=1, offset=(0,), multiplier=(1,)).encode(),
                lambda: P.ModelBegin(name="x", channels=2, offset=(0,), multiplier=(1,)).encode(),
                lambda: P.ModelBegin(name="x", channels=9, offset=(0,) * 9, multiplier=(1,) * 9).encode(),
                lambda: P.ModelBegin(name="x", size=-1, channels=1, offset=(0,), multiplier=(1,)).encode(),
                lambda: P.ModelChunk(0, b"").encode(),
                lambda: P.ModelChunk(0, bytes(P.MAX_CHUNK_DATA + 1)).encode()):
        with pytest.raises(P.ProtocolError):
            bad()
