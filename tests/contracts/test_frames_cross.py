"""Python <-> C++ codec: frames encoded in Python decode identically in C++ (imuad-codec-echo
re-encodes what it decodes) and both decoders count the same drops on the same garbage."""
from __future__ import annotations

import random
import subprocess

import numpy as np
from hypothesis import given, settings, strategies as st

from imuad.contracts import frames as P
from test_frames import model_begins


def _echo(data: bytes) -> tuple[list, P.Stats]:
    from imuad.build import artefact
    exe = artefact("host", "codec-echo")
    out = subprocess.run([str(exe)], input=data, stdout=subprocess.PIPE, check=True, timeout=60).stdout
    dec = P.FrameDecoder(channels=3)
    msgs = dec.feed(out)
    assert dec.counters["frames_ok"] == len(msgs) and sum(dec.counters.values()) == len(msgs)
    assert isinstance(msgs[-1], P.Stats)
    return msgs[:-1], msgs[-1]


def _corpus(rng: random.Random, n: int) -> list:
    msgs = []
    for i in range(n):
        k = rng.randrange(8)
        if k == 0:
            msgs.append(P.Hello("fixture_cnn"[: rng.randrange(12)]))
        elif k == 1:
            msgs.append(P.Samples(i, np.array([rng.randrange(-32768, 32768) for _ in range(3 * rng.randrange(300))],
                                              np.int16).reshape(-1, 3)))
        elif k == 2:
            msgs.append(P.WindowResult(i, rng.randrange(-2**31, 2**31), 1, 0, 5,
                                       bytes(rng.randrange(256) for _ in range(rng.randrange(1500)))))
        elif k == 3:
            msgs.append(P.Event(i, 1 + rng.randrange(2), -5, 77))
        elif k == 4:
            msgs.append(P.Config(10, 5, 2, 3))
        elif k == 5:
            msgs.append(P.Stats(*range(i, i + 12)))
        elif k == 6:
            msgs.append(P.Error(2, "bad length é"))
        else:
            msgs.append(P.Bye())
    return msgs


def test_python_frames_decode_in_cpp():
    msgs = _corpus(random.Random(3), 400)
    back, stats = _echo(b"".join(P.encode_frame(m) for m in msgs))
    assert back == msgs
    assert stats.frames_ok == len(msgs) and stats.dropped == 0


def test_same_counters_on_garbage():
    rng = random.Random(5)
    frames = [P.encode_frame(m) for m in _corpus(rng, 600)]
    chunks = []
    for f in frames:
        f = bytearray(f)
        r = rng.randrange(5)
        if r == 0:
            f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
        elif r == 1:
            f = f[: rng.randrange(len(f) + 1)]
        elif r == 2:
            f = bytearray(rng.randrange(256) for _ in range(rng.randrange(64)))
        elif r == 3 and rng.random() < 0.1:
            f = bytearray(b"\x33" * 3000)
        chunks.append(bytes(f))
    data = b"".join(chunks)
    py = P.FrameDecoder(channels=3)
    py_msgs = [m for m in py.feed(data)]
    cpp_msgs, stats = _echo(data)
    for key in ("frames_ok", "cobs_error", "too_short", "oversized", "crc_error", "bad_version"):
        assert getattr(stats, key) == py.counters[key], key
    assert [P.encode_frame(m) if not isinstance(m, P.RawFrame) else P.encode_raw(m.type, m.payload)
            for m in py_msgs] == [P.encode_frame(m) if not isinstance(m, P.RawFrame) else P.encode_raw(m.type, m.payload)
                                  for m in cpp_msgs]
    assert stats.dropped > 50


@settings(max_examples=8, deadline=None)
@given(st.lists(model_begins(valid=True), min_size=1, max_size=25), st.lists(model_begins(), max_size=25))
def test_model_begin_parsed_and_encoded_by_the_core(valid, anything):
    """MODEL_BEGIN frames within the core's ranges come back field for field (the core parses and
    encodes them again); others come back as the same frame or as ERROR(MODEL) with the core's reason."""
    msgs = valid + anything
    back, stats = _echo(b"".join(P.encode_frame(m) for m in msgs))
    assert stats.frames_ok == len(msgs) and len(back) == len(msgs)
    for i, (sent, got) in enumerate(zip(msgs, back)):
        if i < len(valid):
            assert got == sent
        else:
            assert got == sent or (isinstance(got, P.Error) and got.code == P.ERR_MODEL
                                   and got.text.startswith("MODEL_BEGIN")), (sent, got)
