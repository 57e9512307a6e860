"""imuad.Detector on the MicroPython unix port == host reference, bit for bit (int8 outputs,
scores, states) with the identical event sequence, whatever the chunking of the stream."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mpy_support import MP_DIR, run_mpy

# Byte sizes of successive feed() calls: odd sizes split int16 values and samples.
CHUNKINGS = {
    "mixed": [1, 7, 6, 128, 383, 2, 1000, 3, 4096, 5, 64 * 6, 11, 777],
    "large": [65536],
}


@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
def test_stream_matches_reference(mpy, model_case, chunking):
    d, card, model, counts, work, ref = model_case
    out = work / f"mp_{chunking}"
    cfg = {"model": str(d / "model.tflite"), "card": str(d / "model_card.json"),
           "counts": str(work / "counts.bin"), "chunks": CHUNKINGS[chunking], "out": str(out)}
    (work / f"cfg_{chunking}.json").write_text(json.dumps(cfg))
    proc = run_mpy(mpy, MP_DIR / "stream.py", str(work / f"cfg_{chunking}.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(out.with_suffix(".json").read_text())
    n = len(ref.scores)
    assert n > 10
    assert [w[0] for w in got["windows"]] == list(range(n))
    outs = np.frombuffer(out.with_suffix(".bin").read_bytes(), np.int8).reshape(n, -1)
    np.testing.assert_array_equal(outs, ref.outputs.reshape(n, -1))
    assert [w[1] for w in got["windows"]] == ref.scores
    assert [w[2] for w in got["windows"]] == ref.states
    assert [tuple(e) for e in got["events"]] == ref.events
    assert got["sha256"] == card["tflite_sha256"]
    assert sorted(got["ops"]) == sorted(card["ops"])
    assert 0 < got["arena_used"] <= got["arena_size"]
    assert got["pending"] == 0  # the recording is whole samples: nothing left over


def test_streams_have_events(model_case):
    """The parity above is only meaningful if the streams exercise onsets and clears: the
    committed synth model's recording must (others may be quiet in their first samples)."""
    d, card, model, counts, work, ref = model_case
    if d.name != "synth":
        pytest.skip("events required of the synth model's recording only")
    assert {e[1] for e in ref.events} == {1, 2}, ref.events[:4]
