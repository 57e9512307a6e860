"""The Python-facing API of imuad.Detector: bad arguments, corrupt models and random chunks give
Python exceptions (never a crash), and 10^4 create/feed/collect cycles leave the heap flat."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mpy_support import MP_DIR, model_dirs, run_mpy


@pytest.fixture(scope="module")
def models_cfg(tmp_path_factory):
    dirs = model_dirs()
    if not dirs:
        pytest.skip("no model with a card")
    # The smallest model first: it runs the 10^4-cycle leak loop.
    dirs.sort(key=lambda d: (d / "model.tflite").stat().st_size)
    return [[str(d / "model.tflite"), str(d / "model_card.json")] for d in dirs]


@pytest.mark.parametrize("seed", [1, 2])
def test_fuzz_and_leak(mpy, models_cfg, tmp_path, seed):
    cfg = tmp_path / "fuzz.json"
    cfg.write_text(json.dumps({"models": models_cfg, "seed": seed, "cases": 600,
                               "cycles": 10_000 if seed == 1 else 1_000}))
    proc = run_mpy(mpy, MP_DIR / "fuzz.py", str(cfg), heap="4m", timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "UNEXPECTED" not in out, out[-3000:]
    done = [line for line in proc.stdout.splitlines() if line.startswith("DONE")]
    assert done, out[-3000:]
    fields = dict(kv.split("=") for kv in done[0].split()[1:])
    assert int(fields["created"]) > 100
    # Heap after gc.collect() at cycle 1/10 and at the end: flat (a leak of even 16 bytes per
    # cycle would show as ~100 KB over 9000 cycles).
    assert abs(int(fields["mem_free_early"]) - int(fields["mem_free_end"])) <= 4096, done[0]
    exc = json.loads([line for line in proc.stdout.splitlines() if line.startswith("EXC")][0][4:])
    assert exc.get("ValueError", 0) > 0 and exc.get("TypeError", 0) > 0


def _script(tmp_path, body: str):
    p = tmp_path / "t.py"
    p.write_text(textwrap.dedent(body))
    return p


def test_errors_are_clear(mpy, models_cfg, tmp_path):
    model, card = models_cfg[0]
    script = _script(tmp_path, f"""
        import json, imuad
        m = open({model!r}, "rb").read()
        c = json.load(open({card!r}))
        def err(f):
            try:
                f()
            except Exception as e:
                print(type(e).__name__, e)
                return
            print("NOERROR")
        err(lambda: imuad.Detector.from_card(b"garbage" * 10, c))
        err(lambda: imuad.Detector.from_card(m[:len(m) // 2], c))
        err(lambda: imuad.Detector.from_card(m, c, 64))
        c2 = dict(c); c2["decision"] = dict(c["decision"], k=5, n=3)
        err(lambda: imuad.Detector.from_card(m, c2))
        c3 = dict(c); del c3["preprocessing"]
        err(lambda: imuad.Detector.from_card(m, c3))
        c4 = dict(c); c4["tflite_sha256"] = "0" * 64
        err(lambda: imuad.Detector.from_card(m, c4))
        d = imuad.Detector.from_card(m, c)
        err(lambda: d.feed(1.5))
        err(lambda: d.configure(1, 2, 1, 1))
        d.feed(b"\\x01")
        print("pending", d.info()["pending_bytes"])
        d.reset()
        print("pending", d.info()["pending_bytes"])
        d.close()
        err(lambda: d.feed(b""))
    """)
    proc = run_mpy(mpy, script)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines[0].startswith("ValueError") and "TFL3" in lines[0]
    assert lines[1].startswith("ValueError") and "verification" in lines[1]
    assert lines[2].startswith("MemoryError") and "arena" in lines[2]
    assert lines[3].startswith("ValueError") and "k <= n" in lines[3]
    assert lines[4].startswith("ValueError") and "preprocessing" in lines[4]
    assert lines[5].startswith("ValueError") and "tflite_sha256" in lines[5]
    assert lines[6].startswith("TypeError")
    assert lines[7].startswith("ValueError") and "threshold_off" in lines[7]
    assert lines[8:10] == ["pending 1", "pending 0"]
    assert lines[10].startswith("ValueError") and "closed" in lines[10]


@pytest.mark.parametrize("kind", ["affine_int", "window_int"])
def test_auto_arena_and_constructor(mpy, models_cfg, tmp_path, kind):
    """The keyword constructor (no card) with a measured arena gives the card's results, for a
    model of each C3 kind."""
    pairs = [(m, c) for m, c in models_cfg if json.loads(Path(c).read_text())["preprocessing"]["kind"] == kind]
    if not pairs:
        pytest.skip(f"no model with {kind} preprocessing")
    model, card = pairs[0]
    script = _script(tmp_path, f"""
        import json, imuad
        m = open({model!r}, "rb").read()
        c = json.load(open({card!r}))
        p = c["preprocessing"]; s = c["score"]; dd = c["decision"]
        score = ("recon_error", s["in_mult"], s["out_mult"], s["shift"]) if s["kind"] == "recon_error" \\
            else ("class_prob", s["output_index"])
        off = p["min_rms"] if p["kind"] == "window_int" else p["offset"]
        a = imuad.Detector(m, window=c["window"], hop=c["hop"], channels=len(c["channels"]),
                           threshold_on=dd["threshold_on"], threshold_off=dd["threshold_off"], k=dd["k"], n=dd["n"],
                           preprocess=(off, p["multiplier"], p["shift"], p["input_zero_point"], p["kind"]),
                           score=score)
        b = imuad.Detector.from_card(m, c)
        data = bytes((i * 37) & 255 for i in range(2 * len(c["channels"]) * c["window"] * 4))
        ra, ea = a.feed(data)
        rb, eb = b.feed(data)
        ia = a.info()
        print(ra == rb, ea == eb, len(ra) > 0, ia["arena_used"] <= ia["arena_size"], ia["arena_size"] < 1 << 20)
    """)
    proc = run_mpy(mpy, script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["True"] * 5


def test_every_small_arena_is_refused_or_works(mpy, models_cfg, tmp_path):
    """arena_size from TFLM's minimum up to the card's: a MemoryError or a working detector, never
    a crash (TFLM leaves some of its arena allocations unchecked; the core refuses below a floor)."""
    script = _script(tmp_path, f"""
        import json, imuad
        for model, card in {models_cfg!r}:
            m = open(model, "rb").read()
            c = json.load(open(card))
            ok = bad = 0
            for a in range(1024, min(c["sizes"]["arena_bytes"], 8192) + 256, 8):
                try:
                    d = imuad.Detector.from_card(m, c, a)
                    d.feed(bytes(2 * len(c["channels"]) * c["window"]))
                    d.close()
                    ok += 1
                except MemoryError:
                    bad += 1
            print(ok > 0, bad > 0)
    """)
    proc = run_mpy(mpy, script)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True"] * len(models_cfg)


def test_calibrate_matches_the_contract(mpy, tmp_path):
    """Detector.calibrate() (C5b) on MicroPython: the decision fitted on the next windows, the
    events (old decision, calibrated, new decision, drift) and calibration() equal the Python
    contract's simulation on the reference scores; bad requests raise ValueError naming why."""
    import numpy as np
    from imuad.contracts.calibration import CalibrationRequest, simulate
    from imuad.contracts.card import load_model_dir
    from imuad.contracts.decision import decision_from_mapping
    from imuad.evaluation.reference import stream_reference
    from imuad.paths import REPO_ROOT
    d = REPO_ROOT / "tests/firmware/fixtures/models/fixture_cnn"
    card = json.loads((d / "model_card.json").read_text())
    n_win = 200
    n = card["window"] + card["hop"] * (n_win - 1)
    rng = np.random.default_rng(4)
    t = np.arange(n)
    x = rng.normal(0, 700, (n, len(card["channels"]))) + 300 * np.sin(2 * np.pi * t / 50)[:, None]
    x[n // 2:] += (np.linspace(0, 6000, n - n // 2) * np.sin(2 * np.pi * t[n // 2:] / 7.3))[:, None]
    counts = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    (tmp_path / "counts.bin").write_bytes(counts.tobytes())
    req = CalibrationRequest(windows=100, allowed=0, margin_permille=100, k=3, n=5, drift_block=16)
    script = _script(tmp_path, f"""
        import json, imuad
        m = open({str(d / "model.tflite")!r}, "rb").read()
        c = json.load(open({str(d / "model_card.json")!r}))
        det = imuad.Detector.from_card(m, c)
        for bad in ((8,), (100, 0, 100, 2, 0), (100, 0, 20000)):
            try:
                det.calibrate(*bad)
                print("NO ERROR", bad)
            except ValueError as e:
                print("ValueError", e)
        det.calibrate({req.windows}, {req.allowed}, {req.margin_permille}, {req.k}, {req.n}, {req.drift_block})
        res, ev = det.feed(open({str(tmp_path / "counts.bin")!r}, "rb").read())
        print("RESULT " + json.dumps({{"scores": [r[1] for r in res], "events": ev, "cal": det.calibration()}}))
    """)
    proc = run_mpy(mpy, script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NO ERROR" not in proc.stdout
    assert proc.stdout.count("ValueError CALIBRATE:") == 3, proc.stdout
    got = json.loads([line for line in proc.stdout.splitlines() if line.startswith("RESULT ")][0][7:])
    ref = stream_reference(load_model_dir(d), counts)
    want_events, want, _ = simulate(ref.scores.tolist(), decision_from_mapping(card["decision"]), req)
    assert got["scores"] == ref.scores.tolist()
    assert [tuple(e) for e in got["events"]] == want_events
    assert got["cal"] == want.as_dict()
    assert any(k == 4 for _, k, _ in want_events), "no drift to compare"
