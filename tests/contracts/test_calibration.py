"""C5b: the device's own calibration and drift watch. The Python contract and the C++ core
(imuad-calibration-echo) give the same fit and the same events on any scores; the fit itself
does what the contract says (quiet on its windows, lowest such threshold, median, margin)."""
from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from imuad.contracts.calibration import (CALIBRATED, DRIFT, DRIFT_CLEAR, CalibrationRequest, DriftMonitor,
                                         check_request, fit, onsets, simulate)
from imuad.contracts.decision import Decision
from imuad.contracts.ranges import RangeError


def _echo(cases: list[tuple]) -> list[str]:
    from imuad.build import artefact
    exe = artefact("host", "calibration-echo")
    lines = []
    for req, old, s, *feats in cases:
        x = feats[0] if feats else []
        f = len(x[0]) if x else 0
        lines.append(" ".join(str(v) for v in (req.windows, req.allowed, req.margin_permille, req.k, req.n,
                                               req.drift_block, req.refit, old.threshold_on, old.threshold_off, old.k,
                                               old.n, len(s), *s, f, *(v for row in x for v in row))))
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True,
                         timeout=120).stdout
    return out.splitlines()


def _python(req: CalibrationRequest, old: Decision, s: list[int], x: list | None = None) -> str:
    events, res, reported = simulate(s, old, req, x)
    head = "none" if res is None else " ".join(str(v) for v in (
        *res.decision.as_dict().values(), res.windows, res.median, res.lowest_on, res.onsets_before))
    return (head + " |" + "".join(f" {w} {k} {v}" for w, k, v in events) + " |"
            + "".join(f" {v}" for v in reported))


@st.composite
def cases(draw):
    k = draw(st.integers(0, 8))
    n = draw(st.integers(k, 12)) if k else 0
    req = CalibrationRequest(windows=draw(st.integers(16, 64)), allowed=draw(st.integers(0, 3)),
                             margin_permille=draw(st.sampled_from([0, 1, 100, 333, 1000, 10_000])), k=k, n=n,
                             drift_block=draw(st.sampled_from([0, 1, 5, 16])))
    lo = draw(st.sampled_from([-(2**31), -1000, 0, 100]))
    span = draw(st.sampled_from([3, 255, 10_000, 2**32 - 1]))
    hi = min(2**31 - 1, lo + span)
    s = draw(st.lists(st.integers(lo, hi), min_size=req.windows, max_size=req.windows + 80))
    ok = draw(st.integers(1, 5))
    on = draw(st.integers(-(2**31) + 10, 2**31 - 1))
    off = draw(st.sampled_from([on, on - 1, on // 2, -(2**31)]))
    return req, Decision(on, max(off, -(2**31)) if off <= on else on, ok, draw(st.integers(ok, 8))), s


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(cases(), min_size=1, max_size=1))
def test_core_and_contract_agree(batch):
    assert _echo(batch) == [_python(*c) for c in batch]


@st.composite
def refit_cases(draw):
    f = draw(st.integers(1, 12))
    windows = draw(st.integers(16, 40))
    count = draw(st.integers(2 * windows, 2 * windows + 60))
    base = draw(st.lists(st.integers(-128, 127), min_size=f, max_size=f))
    spread = draw(st.sampled_from([0, 1, 3, 20, 127]))
    x = [[max(-128, min(127, b + draw(st.integers(-spread, spread)))) for b in base] for _ in range(count)]
    s = draw(st.lists(st.integers(0, 255), min_size=count, max_size=count))
    req = CalibrationRequest(windows=windows, allowed=draw(st.integers(0, 2)),
                             margin_permille=draw(st.sampled_from([0, 300])), drift_block=draw(st.sampled_from([0, 4])),
                             refit=1)
    return req, Decision(200, 180, 2, 3), s, x


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(refit_cases(), min_size=1, max_size=1))
def test_refit_core_and_contract_agree(batch):
    """C5b refit: shape statistics on the first N windows' raw features, the threshold on the
    refit scores of the next N, the refit score reported from then on: the same in C++."""
    assert _echo(batch) == [_python(*c) for c in batch]


def test_many_random_cases_agree_in_one_run():
    # A larger batch through one process: scores as the models give them (0..255 and recon errors).
    import random
    rng = random.Random(7)
    batch = []
    for i in range(200):
        req = CalibrationRequest(windows=rng.randrange(16, 300), allowed=rng.randrange(3),
                                 margin_permille=rng.choice([0, 100, 250]), k=0, n=0, drift_block=rng.choice([0, 8, 32]))
        top = rng.choice([255, 50_000])
        base = rng.randrange(top // 2)
        s = [min(top, max(0, int(rng.gauss(base, top / 20)))) for _ in range(req.windows + rng.randrange(400))]
        batch.append((req, Decision(base + 10, base, 2, 3), s))
    assert _echo(batch) == [_python(*c) for c in batch]


def test_fit_is_the_lowest_quiet_threshold():
    s = [10] * 40 + [30, 31, 32] + [10] * 40      # a burst of 3 hot windows among quiet ones
    old = Decision(20, 15, 2, 3)
    res = fit(s, old, CalibrationRequest(windows=len(s), margin_permille=0))
    assert onsets(res.decision, s) == 0
    assert res.lowest_on == 32                      # 31 would leave 2 of 3 hot at 31 and 32
    below = Decision(res.lowest_on - 1, res.lowest_on - 1 - (res.lowest_on - 1) * 5 // 20, 2, 3)
    assert onsets(below, s) >= 1
    assert res.median == 10 and res.onsets_before == 1
    # one allowed onset: the burst may raise it, so the threshold goes down to just above the median
    # (never to or below it: an alarm that never clears is one onset too)
    assert fit(s, old, CalibrationRequest(windows=len(s), allowed=1, margin_permille=0)).lowest_on == 11
    assert fit([10] * 40, old, CalibrationRequest(windows=40, allowed=5, margin_permille=0)).lowest_on == 11
    # margin: + ceil(permille x (lowest_on - median) / 1000)
    assert fit(s, old, CalibrationRequest(windows=len(s), margin_permille=100)).decision.threshold_on == 32 + 3
    # the old on/off gap is kept relatively: 25 % of on, at least 1
    assert res.decision.threshold_off == 32 - 8


def test_drift_monitor_raises_and_clears_once():
    d = DriftMonitor(median=10, threshold_on=30, block=4)   # raise at mean >= 20, clear below 15
    seen = [d.step(v) for v in [10] * 4 + [25] * 4 + [25] * 4 + [12] * 4]
    assert [e for e in seen if e] == [(DRIFT, 25), (DRIFT_CLEAR, 12)]


def test_simulate_switches_decision_after_the_calibration_window():
    s = [50] * 20 + [50] * 10
    events, res, _ = simulate(s, Decision(40, 40, 1, 1), CalibrationRequest(windows=20, margin_permille=0))
    assert res is not None and res.lowest_on == 51
    # onset on window 0 with the old decision, then the calibrated event on window 19, quiet after
    assert events == [(0, 1, 50), (19, CALIBRATED, 51)]


@pytest.mark.parametrize("payload, field", [
    ({"windows": 15}, "windows"), ({"windows": 4097}, "windows"), ({"allowed": -1}, "allowed"),
    ({"margin_permille": 10_001}, "margin_permille"), ({"k": 2}, "n"), ({"k": 3, "n": 2}, "k"),
    ({"drift_block": 70_000}, "drift_block"), ({"windows": True}, "windows"), ({"bogus": 1}, "bogus")])
def test_bad_requests_name_the_field(payload, field):
    with pytest.raises(RangeError) as exc:
        check_request(payload)
    assert exc.value.field == field


def test_core_refuses_what_the_contract_refuses():
    lines = _echo([(CalibrationRequest(windows=16, k=3, n=2), Decision(1, 1, 1, 1), [0] * 16),
                   (CalibrationRequest(windows=16, margin_permille=10_001), Decision(1, 1, 1, 1), [0] * 16)])
    assert all(line.startswith("invalid ") for line in lines)
