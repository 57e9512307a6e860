"""Windows, labels and time-block splits (C2), with hypothesis properties."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imuad.data.recording import Recording
from imuad.data.splits import Block, Normalizer, make_splits, split_windows, time_block_split
from imuad.contracts.windows import WindowSet, make_windows, n_windows, stream_windows, window_label, window_starts
from imuad.errors import ImuadError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def labelled_stream(draw):
    """Label sequences built from runs (like real data), plus window/hop and fractions."""
    runs = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 120)), min_size=1, max_size=8))
    y = np.concatenate([np.full(n, lab, np.int8) for lab, n in runs])
    window = draw(st.integers(1, 40))
    hop = draw(st.integers(1, 40))
    fr = draw(st.tuples(*[st.integers(0, 10)] * 3).filter(lambda f: sum(f) > 0))
    return y, window, hop, tuple(float(v) for v in fr)


def _counts(n: int, c: int = 2) -> np.ndarray:
    # sample index encoded in the counts so each window can be traced back to its samples
    return np.stack([np.arange(n) % 30000, -(np.arange(n) % 30000)][:c], axis=1).astype(np.int16)


@SETTINGS
@given(labelled_stream())
def test_blocks_partition_time_and_windows_stay_inside(data):
    y, window, hop, fractions = data
    n = len(y)
    blocks = time_block_split(y, n, fractions, min_block=window)
    # blocks tile [0, n) in order, each inside one label run
    assert blocks[0].start == 0 and blocks[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))
    assert all(len(b) > 0 and np.all(y[b.start:b.stop] == b.label) for b in blocks)
    assert all(fractions[("train", "val", "test").index(b.split)] > 0 for b in blocks)
    splits = split_windows(_counts(n), y, window, hop, blocks)
    owner = np.full(n, "", dtype=object)
    total = 0
    for name, ws in splits.items():
        total += len(ws)
        for k in range(len(ws)):
            b = blocks[ws.block[k]]
            s = int(ws.start[k])
            assert b.split == name
            assert b.start <= s and s + window <= b.stop            # no window crosses a cut
            np.testing.assert_array_equal(ws.X[k, :, 0], _counts(n)[s:s + window, 0])
            assert ws.y[k] == window_label(y[s:s + window])
            assert all(o in ("", name) for o in owner[s:s + window])  # a sample in <= 1 split
            owner[s:s + window] = name
    # window count formula, block by block
    assert total == sum(n_windows(len(b), window, hop) for b in blocks)


@SETTINGS
@given(labelled_stream())
def test_blocks_follow_run_time_order_and_fractions(data):
    y, window, hop, fractions = data
    blocks = time_block_split(y, len(y), fractions, min_block=window)
    order = {"train": 0, "val": 1, "test": 2}
    by_run: dict[int, list[Block]] = {}
    run_id = np.concatenate([[0], np.cumsum(y[1:] != y[:-1])])
    for b in blocks:
        by_run.setdefault(int(run_id[b.start]), []).append(b)
    for rb in by_run.values():
        ranks = [order[b.split] for b in rb]
        assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
        L = sum(len(b) for b in rb)
        if len(rb) > 1:
            assert all(len(b) >= window for b in rb)
        wanted = sum(1 for f in fractions if f > 0)
        if L >= wanted * window:                     # room for all: every split present
            assert len(rb) == wanted


@SETTINGS
@given(st.integers(0, 300), st.integers(1, 50), st.integers(1, 50), st.integers(0, 40))
def test_window_count_and_firmware_indexing(n, window, hop, start):
    start = min(start, n)
    ws = make_windows(_counts(n), None, window, hop, start=start)
    assert len(ws) == (0 if n - start < window else (n - start - window) // hop + 1)
    if start == 0:  # identical to the firmware's stream windows
        np.testing.assert_array_equal(ws.start, window_starts(n, window, hop))
        if len(ws):
            np.testing.assert_array_equal(ws.X, stream_windows(_counts(n), window, hop))
    assert ws.X.dtype == np.int16 and ws.y.dtype == np.int8
    assert ws.start.dtype == np.int64 and ws.block.dtype == np.int32


@SETTINGS
@given(st.lists(st.integers(0, 1), min_size=1, max_size=64))
def test_window_label_rule(labels):
    y = np.array(labels, np.int8)
    assert window_label(y) == (1 if 2 * y.sum() >= len(y) else 0)
    ws = make_windows(_counts(len(y)), y, len(y), 1)
    assert ws.y.tolist() == [window_label(y)]


def test_window_label_boundaries():
    assert window_label(np.array([1, 1, 0, 0])) == 1      # exactly half -> anomaly
    assert window_label(np.array([1, 0, 0, 0])) == 0
    assert window_label(np.array([1, 1, 0])) == 1
    assert window_label(np.array([1, 0, 0])) == 0


@SETTINGS
@given(labelled_stream(), st.integers(0, 2**31 - 1))
def test_normalizer_uses_train_only(data, seed):
    y, window, hop, _ = data
    n = len(y)
    rng = np.random.default_rng(seed)
    counts = rng.integers(-1000, 1000, (n, 2)).astype(np.int16)
    blocks = time_block_split(y, n, (0.6, 0.2, 0.2), min_block=window)
    splits = split_windows(counts, y, window, hop, blocks)
    if len(splits["train"]) == 0:
        with pytest.raises(ImuadError, match="train split has no windows"):
            Normalizer.fit(splits["train"])
        return
    norm = Normalizer.fit(splits["train"])
    # changing every sample outside train blocks leaves the statistics unchanged
    outside = np.ones(n, bool)
    for b in blocks:
        if b.split == "train":
            outside[b.start:b.stop] = False
    counts2 = counts.copy()
    counts2[outside] = 12345
    norm2 = Normalizer.fit(split_windows(counts2, y, window, hop, blocks)["train"])
    np.testing.assert_allclose(norm.mean, norm2.mean)
    np.testing.assert_allclose(norm.std, norm2.std)
    flat = splits["train"].X.reshape(-1, 2).astype(float)
    np.testing.assert_allclose(norm.mean, flat.mean(0))
    np.testing.assert_allclose(norm.std, np.maximum(flat.std(0), 1.0))


def test_normalizer_apply_and_dict_roundtrip():
    ws = WindowSet(np.array([[[0, 10], [2, 10], [4, 10]]], np.int16), np.zeros(1, np.int8),
                   np.zeros(1, np.int64), np.zeros(1, np.int32))
    norm = Normalizer.fit(ws)
    assert norm.std[1] == 1.0                              # constant channel floored at one count
    out = norm.apply(ws.X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 0], (np.array([0, 2, 4]) - 2) / np.std([0, 2, 4]), rtol=1e-6)
    again = Normalizer.from_dict(norm.to_dict())
    np.testing.assert_array_equal(again.apply(ws.X), out)


def test_make_splits_one_call():
    n = 1000
    y = np.zeros(n, np.int8)
    y[400:600] = 1
    X = np.stack([np.sin(np.arange(n) / 7.0), np.cos(np.arange(n) / 5.0)], 1) * 3.0
    rec = Recording(None, X, y, 100.0)
    made = make_splits(rec, window=32, hop=16, counts_per_unit=None)
    splits, blocks = made.sets, made.blocks
    assert made.plan.mode == "per_run" and made.plan.label_rule == "majority"   # one 200-sample run >= 32/0.2
    assert [b.split for b in blocks] == ["train", "val", "test"] * 3
    assert [(b.start, b.stop) for b in blocks[:3]] == [(0, 240), (240, 320), (320, 400)]
    for name in ("train", "val", "test"):
        assert set(splits[name].y.tolist()) == {0, 1}        # every split sees both classes
    assert np.abs(splits["train"].X).max() > 2**13            # auto counts_per_unit = 4096
    with pytest.raises(ImuadError, match="fewer than one window"):
        make_splits(Recording(None, X[:10], None, None), 32, 16, 1.0)


def test_unlabelled_is_one_run_and_bad_fractions():
    blocks = time_block_split(None, 100, (0.6, 0.2, 0.2))
    assert [(b.split, b.start, b.stop, b.label) for b in blocks] == [
        ("train", 0, 60, 0), ("val", 60, 80, 0), ("test", 80, 100, 0)]
    assert [b.split for b in time_block_split(None, 100, (0.6, 0.2, 0.2), min_block=40)] == ["train", "test"]
    assert [b.split for b in time_block_split(None, 30, (0.6, 0.2, 0.2), min_block=40)] == ["train"]
    with pytest.raises(ImuadError, match="fractions"):
        time_block_split(None, 100, (0.5, -0.1, 0.6))
