"""C3 window_int: the same hand vectors as the C++ core's test_math.cc, a big-integer reference
for random windows, and what the kind is for: a window's level does not change its input."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from imuad.contracts.preprocess import Preprocess, isqrt64
from imuad.data.splits import Normalizer


def reference(raw: list[list[int]], floors: list[int], mult: int, shift: int, zp: int) -> list[list[int]]:
    """docs/contracts.md C3 window_int in Python integers (no numpy, no int64)."""
    W, C = len(raw), len(raw[0])
    out = [[0] * C for _ in range(W)]
    for c in range(C):
        S = sum(r[c] for r in raw)
        d = [W * r[c] - S for r in raw]
        R = max(math.isqrt(sum(v * v for v in d) // W), W * floors[c])
        for t in range(W):
            out[t][c] = max(-128, min(127, zp + (d[t] * mult + (R << (shift - 1))) // (R << shift)))
    return out


def test_hand_vectors_as_the_core():
    p = Preprocess((1, 3), (1 << 16, 1 << 16), 16, 2, "window_int")
    assert p.apply(np.array([[1, 5], [3, 5]], np.int16)).tolist() == [[1, 2], [3, 2]]
    assert p.apply(np.array([[-30000, 0], [30000, 0]], np.int16)).tolist() == [[1, 2], [3, 2]]
    n = (2**31 - 1) ** 2
    assert isqrt64(np.array([0, 3, 4, n, n - 1, 2**62 - 1])).tolist() == [0, 1, 2, 2**31 - 1, 2**31 - 2, 2**31 - 1]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.integers(1, 3), st.integers(1, 24), st.integers(-128, 127), st.data())
def test_matches_big_integer_reference(W, C, shift, zp, data):
    raw = data.draw(st.lists(st.lists(st.integers(-32768, 32767), min_size=C, max_size=C), min_size=W, max_size=W))
    floors = data.draw(st.lists(st.integers(1, 65535), min_size=C, max_size=C))
    mult = data.draw(st.integers(1, 2**31 - 1))
    p = Preprocess(tuple(floors), (mult,) * C, shift, zp, "window_int")
    assert p.apply(np.array(raw, np.int16)).tolist() == reference(raw, floors, mult, shift, zp)


def test_extremes_stay_inside_int64():
    W = 1024
    raw = np.where(np.arange(W) % 2, 32767, -32768).astype(np.int16)[:, None]
    p = Preprocess((1,), (2**31 - 1,), 24, 0, "window_int")
    assert p.apply(raw)[:, 0].tolist() == [r[0] for r in reference(raw.tolist(), [1], 2**31 - 1, 24, 0)]


def test_level_does_not_change_the_input():
    """A window and the same window 20 times louder (and offset) give the same int8 input, within
    one step; the global (affine) kind would not."""
    rng = np.random.default_rng(0)
    t = np.arange(128)
    x = (np.sin(2 * np.pi * 0.05 * t)[:, None] * [300, 200, 100] + rng.normal(0, 20, (128, 3)))
    quiet, loud = np.round(x).astype(np.int16), np.round(20 * x + 500).astype(np.int16)
    norm = Normalizer.fit(np.stack([quiet, loud]), mode="window")
    p = Preprocess.derive_window(norm.min_rms, 0.05, -3)
    a, b = p.apply(quiet).astype(int), p.apply(loud).astype(int)
    assert np.abs(a - b).max() <= 1 and np.abs(a).max() > 20
    fa, fb = norm.apply(quiet[None]), norm.apply(loud[None])
    np.testing.assert_allclose(fa, fb, atol=0.02)  # the quiet one's counts are rounded
    np.testing.assert_allclose(a[None], np.clip(np.round(fa / 0.05) - 3, -128, 127), atol=1)
