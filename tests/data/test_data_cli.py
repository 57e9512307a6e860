"""`imuad data info|check` and `imuad synth` through the real CLI entry point."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from imuad.cli import main
from imuad.data.recording import load_recording


def test_synth_then_info_prints_runs(tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["synth", "--out", str(out), "--duration", "6", "--fs", "1000",
                 "--faults", "outer@2-3,misalignment@4-5:0.7", "--seed", "3"]) == 0
    assert "wrote" in capsys.readouterr().out
    rec = load_recording(out)
    assert rec.fs == 1000.0 and rec.n_samples == 6000
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "6000 x 3 channels (ax, ay, az)" in text and "1000 Hz" in text
    assert "5 runs (2 anomalous)" in text
    rows = [line for line in text.splitlines()
            if len(line.split()) == 5 and line.split()[0] in ("label", "normal", "anomaly")]
    assert [r.split() for r in rows if r.split()[0] == "anomaly"] == [
        ["anomaly", "2000", "3000", "1000", "2.00-3.00"], ["anomaly", "4000", "5000", "1000", "4.00-5.00"]]
    # aligned: every column ends at the same character in every row (header included)
    assert len(rows) == 6 and len({len(r) for r in rows}) == 1
    ends = [[m.end() for m in re.finditer(r"\S+", r)] for r in rows]
    assert all(e == ends[0] for e in ends)
    assert "anomalous run lengths: 2 runs, min 1000, median 1000, max 1000 samples" in text
    assert "split:       per_run at window 128" in text
    for axis in ("ax", "ay", "az"):
        assert axis in text


def test_synth_npz_with_plot(tmp_path, capsys):
    out, png = tmp_path / "m.npz", tmp_path / "m.png"
    assert main(["synth", "--out", str(out), "--duration", "4", "--plot", str(png)]) == 0
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    rec = load_recording(out)
    assert rec.fs == 2000.0 and rec.y.sum() > 0 and np.all(rec.X == np.round(rec.X))


def test_check_reports_rules_and_invalid_files(tmp_path, capsys):
    good = tmp_path / "g.npz"
    main(["synth", "--out", str(good), "--duration", "3"])
    bad = tmp_path / "bad.csv"
    bad.write_text("ax,ay\n1,2\n3,x\n")
    capsys.readouterr()
    assert main(["data", "check", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "ok      " in captured.out and "kept" in captured.out
    assert "INVALID" in captured.out and "line 3, column 2 'ay'" in captured.out
    assert "1 of 2 file(s) invalid" in captured.err


def test_bad_file_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("t,ax,label\n0,1,0\n1,2,7\n")
    proc = subprocess.run([sys.executable, "-m", "imuad.cli", "data", "info", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"imuad: error: {bad}: line 3, column 3 'label': label 7 is not 0 or 1" in proc.stderr


def test_bad_fault_spec_exits_2(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "x.csv"), "--faults", "outer@9"]) == 2
    assert "KIND@START-STOP" in capsys.readouterr().err
