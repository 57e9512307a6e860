"""C2 split modes: the automatic choice, stream blocks with a one-window gap, the 'newest H
samples' label rule, and one plan shared by every consumer (run.json, card, parity, replay)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imuad.data.recording import Recording
from imuad.data.splits import SplitPlan, make_splits, plan_split, split_blocks, stream_split
from imuad.contracts.windows import make_windows, window_label, window_labels
from imuad.errors import ImuadError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _spikes(n: int = 4000, every: int = 37, length: int = 2) -> np.ndarray:
    """Short anomalies (2 samples every 37) over the whole recording, like 68_FurnaceVibration."""
    y = np.zeros(n, np.int8)
    for s in range(10, n - length, every):
        y[s:s + length] = 1
    return y


def _blocks_of(n: int = 4000, run: int = 1000) -> np.ndarray:
    """Conditions in long alternating blocks (a motor-condition recording)."""
    return ((np.arange(n) // run) % 2).astype(np.int8)


def test_auto_picks_stream_for_short_runs_and_says_why():
    plan = plan_split(_spikes(), 4000, window=128)
    assert plan.mode == "stream" and plan.label_rule == "newest" and plan.gap == 128
    assert "median 2 samples" in plan.reason and "0 % of anomalous samples" in plan.reason
    assert ">= 640 samples" in plan.reason            # window / smallest fraction (0.2)


def test_auto_picks_per_run_for_long_blocks():
    plan = plan_split(_blocks_of(), 4000, window=128)
    assert plan.mode == "per_run" and plan.label_rule == "majority" and plan.gap == 0
    assert "100 % of anomalous samples" in plan.reason
    # the same blocks become too short for per-run cuts at a larger window -> stream
    assert plan_split(_blocks_of(), 4000, window=256).mode == "stream"
    # unlabelled or anomaly-free recordings keep today's per-run split
    assert plan_split(None, 4000, 128).mode == "per_run"
    assert plan_split(np.zeros(4000, np.int8), 4000, 128).mode == "per_run"


def test_requested_mode_wins_and_bad_mode_is_refused():
    assert plan_split(_blocks_of(), 4000, 128, mode="stream").mode == "stream"
    assert plan_split(_spikes(), 4000, 128, mode="per_run").reason.startswith("requested")
    with pytest.raises(ImuadError, match="split mode 'blocks'"):
        plan_split(_spikes(), 4000, 128, mode="blocks")


@SETTINGS
@given(st.integers(30, 3000), st.integers(1, 40), st.tuples(*[st.integers(0, 5)] * 3).filter(lambda f: sum(f) > 0))
def test_stream_blocks_are_time_ordered_with_one_window_gaps(n, window, fr):
    fractions = tuple(float(v) for v in fr)
    try:
        blocks = stream_split(n, fractions, gap=window, min_block=window)
    except ImuadError as exc:
        assert "cannot hold" in str(exc)
        return
    names = [b.split for b in blocks]
    assert names == [s for s, f in zip(("train", "val", "test"), fractions) if f > 0]
    assert blocks[0].start == 0 and blocks[-1].stop == n
    assert all(b.start - a.stop == window for a, b in zip(blocks, blocks[1:]))   # gap of one window
    assert all(len(b) >= window and b.label == -1 for b in blocks)


@SETTINGS
@given(st.lists(st.integers(0, 1), min_size=1, max_size=200), st.integers(1, 30), st.integers(1, 30))
def test_newest_rule_is_any_anomaly_in_the_newest_hop_samples(labels, window, hop):
    y = np.array(labels, np.int8)
    if len(y) < window:
        return
    starts = np.arange(0, len(y) - window + 1, hop)
    got = window_labels(y, starts, window, "newest", hop)
    for j, s in enumerate(starts):
        newest = y[s + window - min(hop, window): s + window]
        assert got[j] == int(newest.any()) == window_label(y[s:s + window], "newest", hop)


def test_newest_rule_judges_each_sample_once_over_a_stream():
    # with hop <= window, the newest-H spans of consecutive windows tile the stream after the first
    y = _spikes(600)
    W, H = 32, 8
    ws = make_windows(np.zeros((600, 1), np.int16), y, W, H, rule="newest")
    covered = np.zeros(600, int)
    for s in ws.start:
        covered[s + W - H: s + W] += 1
    assert covered[W - H: int(ws.start[-1]) + W].max() == 1 and covered[W - H:int(ws.start[-1]) + W].min() == 1
    assert ws.y.sum() == sum(int(y[s + W - H:s + W].any()) for s in ws.start)
    with pytest.raises(ImuadError, match="label_rule 'latest'"):
        window_labels(y, ws.start, W, "latest", H)


def test_short_anomalies_get_windows_in_every_split():
    """The issue's case: spikes of 1-6 samples; the per-run split leaves val/test without any
    anomalous window of 16 samples, the automatic (stream) split gives every split some."""
    n = 4000
    y = _spikes(n, every=53, length=3)
    X = np.random.default_rng(0).normal(0, 100, (n, 2))
    rec = Recording(None, X, y, None)
    old = make_splits(rec, 16, 4, 1.0, mode="per_run")
    assert old["val"].y.sum() == 0 and old["test"].y.sum() == 0
    new = make_splits(rec, 16, 4, 1.0)
    assert new.plan.mode == "stream"
    assert all(new[s].y.sum() > 0 for s in ("train", "val", "test"))
    # no window shares a sample with another split, and the gap is one window
    tr, va, te = (new.blocks[i] for i in range(3))
    assert va.start - tr.stop == 16 and te.start - va.stop == 16
    assert new["train"].start.max() + 16 <= tr.stop and new["val"].start.min() >= va.start


def test_plan_round_trips_and_old_files_are_per_run():
    plan = plan_split(_spikes(), 4000, 64)
    d = plan.to_dict()
    assert d == {"mode": "stream", "label_rule": "newest", "fractions": [0.6, 0.2, 0.2], "gap_samples": 64,
                 "reason": plan.reason}
    assert SplitPlan.from_dict(d) == plan
    old = SplitPlan.from_dict({"fractions": [0.5, 0.25, 0.25], "blocks": "time blocks per label run (C2)"})
    assert old.mode == "per_run" and old.label_rule == "majority" and old.fractions == (0.5, 0.25, 0.25)
    assert SplitPlan.from_dict(None, [0.6, 0.2, 0.2]).mode == "per_run"
    with pytest.raises(ImuadError, match="label_rule"):
        SplitPlan.from_dict({"mode": "stream", "label_rule": "majority"})
    # blocks of a stored plan are the ones training used
    y = _spikes()
    rec = Recording(None, np.zeros((4000, 1)), y, None)
    assert split_blocks(plan, y, 4000, 64) == make_splits(rec, 64, 8, 1.0, mode=plan).blocks
