"""Recordings: loading, validation errors (file, line, column), saving, counts (C1)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from imuad.data.recording import Recording, auto_counts_per_unit, load_recording, save_recording
from imuad.errors import ImuadError
from imuad.paths import datasets_dir

@pytest.fixture
def write_csv(tmp_path: Path):
    def _write(text: str, name: str = "rec.csv") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p
    return _write


GOOD = "t,ax,ay,az,label\n0.0,1,2,3,0\n0.5,4,5,6,1\n1.0,7,8,9,1\n"


def test_csv_with_time_and_labels(write_csv):
    rec = load_recording(write_csv(GOOD))
    assert rec.channels == ["ax", "ay", "az"]
    assert rec.X.dtype == np.float64 and rec.X.shape == (3, 3)
    assert rec.X[2].tolist() == [7, 8, 9]
    assert rec.y.dtype == np.int8 and rec.y.tolist() == [0, 1, 1]
    assert rec.fs == 2.0
    assert rec.t.tolist() == [0.0, 0.5, 1.0]
    assert rec.label_runs() == [(0, 0, 1), (1, 1, 3)]
    assert rec.n_samples == 3 and rec.n_channels == 3


def test_csv_axes_only_any_order(write_csv):
    rec = load_recording(write_csv("label,gx,gy\n1,0.5,-1\n0,1.5,2\n\n"))
    assert rec.channels == ["gx", "gy"]
    assert rec.y.tolist() == [1, 0]
    assert rec.fs is None and rec.t is None


def test_blank_lines_keep_line_numbers(write_csv):
    path = write_csv("ax,ay\n1,2\n\n3,x\n")
    with pytest.raises(ImuadError, match=r"line 4, column 2 'ay'"):
        load_recording(path)


BAD_CSV = [
    ("wrong column count", "t,ax,ay,label\n0,1,2,0\n1,1,2\n", r"line 3: 3 columns, expected 4"),
    ("too many columns", "ax,ay\n1,2\n1,2\n1,2,3\n", r"line 4: 3 columns, expected 2"),
    ("non-numeric", "t,ax,ay,label\n0,1,2,0\n1,1,abc,0\n", r"line 3, column 3 'ay': non-numeric value 'abc'"),
    ("empty cell", "ax,ay\n1,2\n3,\n", r"line 3, column 2 'ay': empty cell"),
    ("NaN", "ax,ay,az\n1,2,3\n4,nan,6\n", r"line 3, column 2 'ay': NaN"),
    ("inf", "ax,ay,az\n1,2,3\n4,5,6\n7,8,-inf\n", r"line 4, column 3 'az': infinite"),
    ("label not 0/1", "ax,label\n1,0\n2,1\n3,2\n", r"line 4, column 2 'label': label 2 is not 0 or 1"),
    ("label fraction", "ax,label\n1,0.5\n", r"line 2, column 2 'label': label 0.5 is not 0 or 1"),
    ("time not increasing", "t,ax\n0,1\n1,1\n1,2\n", r"line 4, column 1 't': time 1.0 is not after"),
    ("time decreasing", "ax,t\n1,0\n1,2\n2,1\n", r"line 4, column 2 't'"),
    ("no channel", "t,label\n0,0\n1,0\n", r"line 1: no axis column"),
    ("header only", "t,ax,ay\n", r"no data rows"),
    ("empty file", "", r"empty file"),
    ("blank file", "\n  \n", r"empty file"),
    ("no header", "1,2,3\n4,5,6\n", r"line 1: expected a header row"),
    ("duplicate column", "ax,ax\n1,2\n", r"line 1, column 2 'ax': duplicate"),
]


@pytest.mark.parametrize("case,text,message", BAD_CSV, ids=[c[0] for c in BAD_CSV])
def test_bad_csv_names_file_line_column(write_csv, case, text, message):
    path = write_csv(text, name="bad_input.csv")
    with pytest.raises(ImuadError) as info:
        load_recording(path)
    msg = str(info.value)
    assert str(path) in msg
    assert __import__("re").search(message, msg), msg


def _npz(tmp_path: Path, name: str = "bad.npz", **arrays) -> Path:
    p = tmp_path / name
    np.savez(p, **arrays)
    return p


BAD_NPZ = [
    ("missing X", dict(Y=np.zeros((3, 3))), r"array 'X' missing"),
    ("X 1-D", dict(X=np.zeros(5)), r"'X' must be 2-D"),
    ("X 3-D", dict(X=np.zeros((2, 2, 2))), r"'X' must be 2-D"),
    ("no channels", dict(X=np.zeros((5, 0))), r"0 channels"),
    ("no samples", dict(X=np.zeros((0, 3))), r"no samples"),
    ("y length", dict(X=np.zeros((5, 3)), y=np.zeros(4)), r"'y' has shape \(4,\), expected \(5,\)"),
    ("y values", dict(X=np.zeros((5, 3)), y=np.array([0, 1, 0, 3, 0])),
     r"'y' sample 3 \(row 4\), column 'label': label 3 is not 0 or 1"),
    ("X NaN", dict(X=np.array([[0.0, 1, 2], [1, 2, np.nan]])), r"'X' sample 1 \(row 2\), column 3 'az': NaN"),
    ("X inf", dict(X=np.array([[0.0, np.inf]])), r"'X' sample 0 \(row 1\), column 2 'ch1': infinite"),
    ("fs", dict(X=np.zeros((5, 3)), fs=np.array(-1.0)), r"'fs' must be one positive"),
]


@pytest.mark.parametrize("case,arrays,message", BAD_NPZ, ids=[c[0] for c in BAD_NPZ])
def test_bad_npz_names_file_array_row_column(tmp_path, case, arrays, message):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(ImuadError) as info:
        load_recording(path)
    assert str(path) in str(info.value)
    assert __import__("re").search(message, str(info.value)), str(info.value)


def test_not_an_npz_and_missing_and_unknown_suffix(tmp_path):
    bad = tmp_path / "junk.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ImuadError, match="junk.npz: not an NPZ archive"):
        load_recording(bad)
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ImuadError, match="junk.npz: not an NPZ archive") as err:
        load_recording(bad)
    assert "pickle" not in str(err.value)
    with pytest.raises(ImuadError, match="no such file"):
        load_recording(tmp_path / "missing.csv")
    other = tmp_path / "x.json"
    other.write_text("{}")
    with pytest.raises(ImuadError, match="unknown recording format"):
        load_recording(other)


def test_non_utf8_csv(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"ax\n\xff\xfe\n")
    with pytest.raises(ImuadError, match="bin.csv: not a UTF-8"):
        load_recording(p)


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_save_load_roundtrip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2)) * 3.7
    y = (np.arange(50) > 30).astype(np.int8)
    rec = Recording(None, X, y, 100.0, ["gx", "gz"])
    p = save_recording(rec, tmp_path / f"r{suffix}")
    back = load_recording(p)
    np.testing.assert_array_equal(back.X, X)          # exact: 17 significant digits
    np.testing.assert_array_equal(back.y, y)
    assert back.fs == 100.0 and back.channels == ["gx", "gz"]
    ints = Recording(None, np.round(X * 100), None, None)
    back = load_recording(save_recording(ints, tmp_path / f"i{suffix}"))
    np.testing.assert_array_equal(back.X, ints.X)
    assert back.y is None and back.channels == ["ch0", "ch1"]


def test_counts_round_half_even_and_clip():
    rec = Recording(None, np.array([[0.5, 1.5, -0.5, -2.5, 2.4999, 40000.0, -1e9]]).T, None, None)
    assert rec.counts(1.0).ravel().tolist() == [0, 2, 0, -2, 2, 32767, -32768]
    assert rec.counts(1.0).dtype == np.int16
    assert rec.counts(4.0).ravel()[:2].tolist() == [2, 6]


def test_auto_counts_per_unit():
    assert auto_counts_per_unit(np.array([[-1018.0, 23.0], [2428.0, 0.0]])) == 1.0
    assert auto_counts_per_unit(np.array([[-8.0, 7.996]])) == 2048.0      # UCI data in g
    assert auto_counts_per_unit(np.array([[93.82]])) == 128.0             # furnace: 12009 counts
    assert auto_counts_per_unit(np.array([[40000.0]])) == 0.25            # integers beyond int16
    for peak in (0.001, 0.3, 1.0, 5.5, 1234.5):
        cpu = auto_counts_per_unit(np.array([[peak, -peak / 2]]))
        assert 2**13 < peak * cpu <= 2**14 and np.log2(cpu) == int(np.log2(cpu))


def test_sha256_is_of_the_content_not_the_file(tmp_path, write_csv):
    rec = load_recording(write_csv(GOOD))
    npz = save_recording(rec, tmp_path / "same.npz")
    assert load_recording(npz).sha256() == rec.sha256()           # CSV and NPZ of the same samples
    other = Recording(None, rec.X.copy(), rec.y, rec.fs)
    other.X[1, 0] += 1
    assert other.sha256() != rec.sha256() and len(rec.sha256()) == 64
    if rec.y is not None:
        flipped = Recording(None, rec.X, 1 - rec.y, rec.fs)
        assert flipped.sha256() != rec.sha256()                  # labels are part of the content


def test_csv_100k_rows_is_fast(tmp_path):
    n = 100_000
    rng = np.random.default_rng(0)
    rec = Recording(None, rng.integers(-2000, 2000, (n, 3)).astype(float),
                    (rng.random(n) < 0.3).astype(np.int8), 2000.0)
    p = save_recording(rec, tmp_path / "big.csv")
    t0 = time.perf_counter()
    back = load_recording(p)
    elapsed = time.perf_counter() - t0
    np.testing.assert_array_equal(back.X, rec.X)
    assert back.fs == 2000.0
    assert elapsed < 2.0, f"loading 100k rows took {elapsed:.2f} s"
    # a bad cell at the very end is still reported exactly
    text = p.read_text().splitlines()
    text[-1] = text[-1].replace(",", ",oops", 1)
    p.write_text("\n".join(text) + "\n")
    with pytest.raises(ImuadError, match=rf"line {n + 1}, column 2 'ax': non-numeric value 'oops"):
        load_recording(p)


SHARED = datasets_dir() / "smartmanuad"


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared datasets not present at {SHARED}")
@pytest.mark.parametrize("name,shape,cpu", [("54_CNCMachining.npz", (99399, 3), 1.0),
                                            ("76_UCIAccelerometer.npz", (12000, 3), 2048.0),
                                            ("68_FurnaceVibration.npz", (3989, 4), 128.0)])
def test_shared_datasets_load(name, shape, cpu):
    rec = load_recording(SHARED / name)
    assert rec.X.shape == shape and rec.y is not None and rec.y.dtype == np.int8
    assert set(np.unique(rec.y)) == {0, 1}
    assert auto_counts_per_unit(rec.X) == cpu
    counts = rec.counts(cpu)
    assert counts.dtype == np.int16 and np.abs(counts).max() <= 2**14
    runs = rec.label_runs()
    assert runs[0][1] == 0 and runs[-1][2] == shape[0]
    assert all(a[2] == b[1] and a[0] != b[0] for a, b in zip(runs, runs[1:]))
