"""Recordings (docs/contracts.md C1): load, validate, save, convert to int16 counts.

A recording is X [T, C] float64 (physical units or raw counts), optional per-sample labels
y (int8 0/1), optional sample rate fs (Hz), axis names and optional time stamps t (s).

Every problem in a user's file raises ImuadError naming the file, the line (CSV, 1-based as
in the text file: the header is line 1) or the array/sample (NPZ), and the column.
"""
from __future__ import annotations

import hashlib
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImuadError
from ..fileio import atomic_open

INT16_MIN, INT16_MAX = -32768, 32767
TIME_COLUMN, LABEL_COLUMN = "t", "label"


def default_channels(n: int) -> list[str]:
    return ["ax", "ay", "az"] if n == 3 else [f"ch{i}" for i in range(n)]


@dataclass
class Recording:
    path: Path | None
    X: np.ndarray                      # float64 [T, C]
    y: np.ndarray | None = None        # int8 [T], 0 normal / 1 anomaly
    fs: float | None = None            # Hz, None if unknown
    channels: list[str] = field(default_factory=list)
    t: np.ndarray | None = None        # float64 [T] seconds, strictly increasing

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, dtype=np.float64)
        if self.X.ndim != 2:
            raise ImuadError(f"{self._name()}: X must be 2-D [samples, channels], got shape {self.X.shape}")
        if self.y is not None:
            self.y = np.asarray(self.y).astype(np.int8)
            if self.y.shape != (self.X.shape[0],):
                raise ImuadError(f"{self._name()}: y has shape {self.y.shape}, expected ({self.X.shape[0]},)")
        if self.t is not None:
            self.t = np.asarray(self.t, dtype=np.float64)
        if not self.channels:
            self.channels = default_channels(self.X.shape[1])
        self.channels = [str(c) for c in self.channels]
        if len(self.channels) != self.X.shape[1]:
            raise ImuadError(f"{self._name()}: {len(self.channels)} channel names for {self.X.shape[1]} channels")
        if self.fs is not None:
            self.fs = float(self.fs)
        if self.path is not None:
            self.path = Path(self.path)

    def _name(self) -> str:
        return str(self.path) if self.path is not None else "<recording>"

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def anomaly_rate(self) -> float | None:
        if self.y is None or self.n_samples == 0:
            return None
        return float(np.mean(self.y))

    def counts(self, counts_per_unit: float) -> np.ndarray:
        """C1: clip(round_half_even(x * counts_per_unit), -32768, 32767) as int16 [T, C]."""
        scaled = np.rint(self.X * float(counts_per_unit))  # np.rint rounds half to even
        return np.clip(scaled, INT16_MIN, INT16_MAX).astype(np.int16)

    def label_runs(self) -> list[tuple[int, int, int]]:
        """Contiguous label runs as (label, start, stop), stop exclusive, in time order.

        Unlabelled recordings are one run labelled 0 (treated as normal)."""
        return label_runs(self.y, self.n_samples)

    def sha256(self) -> str:
        """SHA-256 of the content: X as float64 little-endian, then y as int8 (when labelled).
        The same samples give the same digest whatever the file format or zlib build."""
        h = hashlib.sha256(np.ascontiguousarray(self.X, dtype="<f8").tobytes())
        if self.y is not None:
            h.update(np.ascontiguousarray(self.y, dtype=np.int8).tobytes())
        return h.hexdigest()

    def slice(self, start: int, stop: int) -> "Recording":
        """Samples [start, stop) as a new recording (same path, fs, channels)."""
        return Recording(self.path, self.X[start:stop].copy(),
                         None if self.y is None else self.y[start:stop].copy(), self.fs,
                         list(self.channels), None if self.t is None else self.t[start:stop].copy())


def label_runs(y: np.ndarray | None, n_samples: int) -> list[tuple[int, int, int]]:
    """(label, start, stop) of every contiguous run of y; y None -> one run of label 0."""
    if n_samples <= 0:
        return []
    if y is None:
        return [(0, 0, int(n_samples))]
    y = np.asarray(y)
    edges = np.flatnonzero(y[1:] != y[:-1]) + 1
    bounds = np.concatenate([[0], edges, [len(y)]]).astype(np.int64)
    return [(int(y[s]), int(s), int(e)) for s, e in zip(bounds[:-1], bounds[1:])]


def auto_counts_per_unit(X: np.ndarray) -> float:
    """Scale from the recording's units to int16 counts (C1).

    1.0 when the data already are integers within int16 (raw sensor counts). Otherwise the
    power of two 2^k with the largest |value| * 2^k in (2^13, 2^14]: a power of two keeps
    x * counts_per_unit exact in float64, and 2^14 leaves 2x headroom below int16 full scale
    for values larger than any seen in the recording (e.g. UCI data in g, max 8 -> 2048).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.size == 0:
        return 1.0
    peak = float(np.max(np.abs(X)))
    if np.all(X == np.round(X)) and peak <= INT16_MAX and float(np.min(X)) >= INT16_MIN:
        return 1.0
    if peak == 0.0 or not math.isfinite(peak):
        return 1.0
    k = math.floor(math.log2(2.0**14 / peak))
    return float(2.0**k)


# ---------------------------------------------------------------- loading
def load_recording(path: str | Path) -> Recording:
    """Read a CSV or NPZ recording (by suffix) and validate it; raises ImuadError."""
    path = Path(path)
    if not path.exists():
        raise ImuadError(f"{path}: no such file")
    if path.is_dir():
        raise ImuadError(f"{path}: is a directory, expected a .csv or .npz recording")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    if suffix in (".csv", ".txt"):
        return _load_csv(path)
    raise ImuadError(f"{path}: unknown recording format '{suffix}' (expected .csv or .npz)")


def _sniff_delimiter(header: str) -> str:
    if "," in header:
        return ","
    for d in (";", "\t"):
        if d in header:
            return d
    return ","


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


CSV_CHUNK_ROWS = 1 << 16  # rows parsed per step: bounds the text held in memory at once


def _load_csv(path: Path) -> Recording:
    """Streaming parse into arrays preallocated from a line count: memory stays near the size
    of the final arrays (`imuad bench csv_memory`), whatever the file size."""
    with open(path, "rb") as fb:
        n_lines = sum(block.count(b"\n") for block in iter(lambda: fb.read(1 << 22), b"")) + 1
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return _parse_csv(path, fh, n_lines)
    except UnicodeDecodeError as exc:
        raise ImuadError(f"{path}: not a UTF-8 text file ({exc.reason})") from None


def _parse_csv(path: Path, fh, n_lines: int) -> Recording:
    lines = enumerate(fh, start=1)
    # header = first non-blank line; blank lines are skipped but keep line numbering honest
    hline, head = next(((i, ln) for i, ln in lines if ln.strip()), (None, ""))
    if hline is None:
        raise ImuadError(f"{path}: empty file (expected a header line and data rows)")
    head = head.rstrip("\r\n")
    delim = _sniff_delimiter(head)
    header = [h.strip().strip('"').strip("'").strip() for h in head.split(delim)]
    for i, name in enumerate(header):
        if not name:
            raise ImuadError(f"{path}: line {hline}, column {i + 1}: empty column name in header")
    if all(_is_number(h) for h in header):
        raise ImuadError(f"{path}: line {hline}: expected a header row (e.g. 't,ax,ay,az,label'), "
                         f"got numbers '{head[:60]}'")
    lower = [h.lower() for h in header]
    seen: dict[str, int] = {}
    for i, name in enumerate(lower):
        if name in seen:
            raise ImuadError(f"{path}: line {hline}, column {i + 1} '{header[i]}': duplicate column name "
                             f"(also column {seen[name] + 1})")
        seen[name] = i
    ncol = len(header)
    t_col = seen.get(TIME_COLUMN)
    label_col = seen.get(LABEL_COLUMN)
    axis_cols = [i for i in range(ncol) if i not in (t_col, label_col)]
    if not axis_cols:
        raise ImuadError(f"{path}: line {hline}: no axis column in header {header} (need at least 1 channel)")

    cap = max(1, n_lines - hline)
    X = np.empty((cap, len(axis_cols)), np.float64)
    t = np.empty(cap, np.float64) if t_col is not None else None
    lab = np.empty(cap, np.int8) if label_col is not None else None
    n = 0
    chunk: list[str] = []
    numbers: list[int] = []

    def flush() -> None:
        nonlocal n
        data = _parse_rows(path, chunk, numbers, delim, header)
        k = len(chunk)
        X[n:n + k] = data[:, axis_cols]
        if t is not None:
            tc = data[:, t_col]
            prev = np.concatenate([t[n - 1:n], tc[:-1]]) if n else np.concatenate([[-np.inf], tc[:-1]])
            nonmono = np.flatnonzero(tc <= prev)
            if nonmono.size:
                r = int(nonmono[0])
                raise ImuadError(f"{path}: line {numbers[r]}, column {t_col + 1} '{header[t_col]}': time "
                                 f"{float(tc[r])!r} is not after the previous {float(prev[r])!r} "
                                 f"(must be strictly increasing)")
            t[n:n + k] = tc
        if lab is not None:
            col = data[:, label_col]
            badl = np.flatnonzero((col != 0) & (col != 1))
            if badl.size:
                r = int(badl[0])
                raise ImuadError(f"{path}: line {numbers[r]}, column {label_col + 1} '{header[label_col]}': "
                                 f"label {chunk[r].split(delim)[label_col].strip()} is not 0 or 1")
            lab[n:n + k] = col
        n += k
        chunk.clear()
        numbers.clear()

    for i, line in lines:
        if not line.strip():
            continue
        chunk.append(line.rstrip("\r\n"))
        numbers.append(i)
        if len(chunk) == CSV_CHUNK_ROWS:
            flush()
    if chunk:
        flush()
    if n == 0:
        raise ImuadError(f"{path}: no data rows after the header (line {hline})")
    fs = None
    if t is not None:
        t = t[:n]
        fs = fs_from_time(t)
    return Recording(path, X[:n], None if lab is None else lab[:n], fs, [header[i] for i in axis_cols], t)


def _parse_rows(path: Path, rows: list[str], line_no: list[int], delim: str, header: list[str]) -> np.ndarray:
    """One chunk of rows -> float64 [rows, columns]; errors name the line and column."""
    ncol = len(header)
    counts = np.fromiter((r.count(delim) for r in rows), dtype=np.int64, count=len(rows))
    bad = np.flatnonzero(counts != ncol - 1)
    if bad.size:
        r = int(bad[0])
        raise ImuadError(f"{path}: line {line_no[r]}: {counts[r] + 1} columns, expected {ncol} "
                         f"({delim.join(header)})")
    try:
        data = np.array(delim.join(rows).split(delim), dtype=np.float64).reshape(len(rows), ncol)
    except ValueError:
        for r, row in enumerate(rows):  # slow path only to name the first bad cell exactly
            for c, cell in enumerate(row.split(delim)):
                try:
                    float(cell)
                except ValueError:
                    what = "empty cell" if not cell.strip() else f"non-numeric value '{cell.strip()[:40]}'"
                    raise ImuadError(f"{path}: line {line_no[r]}, column {c + 1} '{header[c]}': {what}") from None
        raise ImuadError(f"{path}: could not parse numbers") from None  # pragma: no cover
    finite = np.isfinite(data)
    if not finite.all():
        r, c = (int(v) for v in np.argwhere(~finite)[0])
        raise ImuadError(f"{path}: line {line_no[r]}, column {c + 1} '{header[c]}': "
                         f"{'NaN' if np.isnan(data[r, c]) else 'infinite'} value")
    return data


def fs_from_time(t: np.ndarray) -> float | None:
    """Sample rate from time stamps: 1 / median interval (robust to jitter and gaps)."""
    if t is None or len(t) < 2:
        return None
    return float(f"{1.0 / np.median(np.diff(t)):.9g}")  # 9 digits: 1/0.0005 -> 2000, not 1999.9999999


def _load_npz(path: Path) -> Recording:
    if not zipfile.is_zipfile(path):  # np.load would take other bytes for a pickle and say so
        raise ImuadError(f"{path}: not an NPZ archive (a .npz is a zip file of .npy arrays)")
    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ImuadError(f"{path}: not a readable NPZ archive ({exc})") from None
    with npz:
        keys = set(npz.files)
        if "X" not in keys:
            raise ImuadError(f"{path}: array 'X' missing (found: {', '.join(sorted(keys)) or 'none'}); "
                             f"an NPZ recording needs X [samples, channels]")
        try:
            X = np.asarray(npz["X"])
            y_raw = np.asarray(npz["y"]) if "y" in keys else None
            fs_raw = np.asarray(npz["fs"]) if "fs" in keys else None
            t_raw = np.asarray(npz["t"]) if "t" in keys else None
            ch_raw = np.asarray(npz["channels"]) if "channels" in keys else None
        except ValueError as exc:  # object arrays need pickle: refuse
            raise ImuadError(f"{path}: unreadable array ({exc})") from None
    if X.ndim != 2:
        raise ImuadError(f"{path}: array 'X' must be 2-D [samples, channels], got shape {X.shape}")
    if X.shape[1] < 1:
        raise ImuadError(f"{path}: array 'X' has {X.shape[1]} channels (need at least 1)")
    if X.shape[0] == 0:
        raise ImuadError(f"{path}: array 'X' has no samples (no data rows)")
    if np.iscomplexobj(X):
        raise ImuadError(f"{path}: array 'X' is complex ({X.dtype}); a recording holds real samples "
                         f"(take .real or the magnitude yourself if that is what you mean)")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise ImuadError(f"{path}: array 'X' has non-numeric dtype {X.dtype}")
    X = X.astype(np.float64)
    channels = default_channels(X.shape[1])
    if ch_raw is not None and ch_raw.shape == (X.shape[1],):
        channels = [str(c) for c in ch_raw]
    finite = np.isfinite(X)
    if not finite.all():
        r, c = (int(v) for v in np.argwhere(~finite)[0])
        raise ImuadError(f"{path}: array 'X' sample {r} (row {r + 1}), column {c + 1} '{channels[c]}': "
                         f"{'NaN' if np.isnan(X[r, c]) else 'infinite'} value")
    y = None
    if y_raw is not None:
        if y_raw.ndim != 1 or len(y_raw) != X.shape[0]:
            raise ImuadError(f"{path}: array 'y' has shape {y_raw.shape}, expected ({X.shape[0]},) "
                             f"(one label per sample of X)")
        try:
            yf = y_raw.astype(np.float64)
        except (TypeError, ValueError):
            raise ImuadError(f"{path}: array 'y' has non-numeric dtype {y_raw.dtype}") from None
        badl = np.flatnonzero((yf != 0) & (yf != 1))
        if badl.size:
            r = int(badl[0])
            raise ImuadError(f"{path}: array 'y' sample {r} (row {r + 1}), column 'label': "
                             f"label {y_raw[r].item()!r} is not 0 or 1")
        y = yf.astype(np.int8)
    fs = None
    if fs_raw is not None:
        try:
            fs = float(fs_raw.reshape(-1)[0]) if fs_raw.size == 1 else None
        except (TypeError, ValueError):
            fs = None
        if fs is None or not math.isfinite(fs) or fs <= 0:
            raise ImuadError(f"{path}: array 'fs' must be one positive sample rate in Hz, got {fs_raw!r}")
    t = None
    if t_raw is not None:
        t = np.asarray(t_raw, dtype=np.float64).reshape(-1)
        if len(t) != X.shape[0]:
            raise ImuadError(f"{path}: array 't' has {len(t)} values, expected {X.shape[0]}")
        bad = np.flatnonzero(~np.isfinite(t[1:]) | (np.diff(t) <= 0))
        if bad.size or not np.isfinite(t[0]):
            r = int(bad[0]) + 1 if bad.size else 0
            raise ImuadError(f"{path}: array 't' sample {r} (row {r + 1}), column 't': "
                             f"time not strictly increasing")
        if fs is None:
            fs = fs_from_time(t)
    return Recording(path, X, y, fs, channels, t)


# ---------------------------------------------------------------- saving
def save_recording(rec: Recording, path: str | Path) -> Path:
    """Write CSV (header: [t,] axes [, label]) or NPZ (X, [y], [fs], [t], channels) by suffix.

    CSV gets a t column whenever t or fs is known (t = i / fs), since CSV has no fs field;
    integer-valued data are written as integers, others with 17 significant digits (exact)."""
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npz":
        arrays: dict[str, np.ndarray] = {"X": rec.X, "channels": np.array(rec.channels, dtype=str)}
        if rec.y is not None:
            arrays["y"] = rec.y.astype(np.int8)
        if rec.fs is not None:
            arrays["fs"] = np.array(rec.fs, dtype=np.float64)
        if rec.t is not None:
            arrays["t"] = rec.t
        with atomic_open(path, "wb") as f:  # a file object: np.savez would append .npz to other names
            np.savez_compressed(f, **arrays)
        return path
    if suffix not in (".csv", ".txt"):
        raise ImuadError(f"{path}: unknown recording format '{suffix}' (expected .csv or .npz)")
    for name in rec.channels:
        if name.lower() in (TIME_COLUMN, LABEL_COLUMN) or "," in name:
            raise ImuadError(f"{path}: channel name '{name}' cannot be written as a CSV axis column")
    cols, fmts, names = [], [], []
    t = rec.t
    if t is None and rec.fs:  # CSV has no fs field: write time stamps so the rate survives
        t = np.arange(rec.n_samples, dtype=np.float64) / rec.fs
    if t is not None:
        cols.append(t[:, None]); fmts.append("%.17g"); names.append(TIME_COLUMN)
    integral = bool(np.all(rec.X == np.round(rec.X))) and np.max(np.abs(rec.X), initial=0) < 2**53
    cols.append(rec.X); fmts += ["%d" if integral else "%.17g"] * rec.n_channels; names += rec.channels
    if rec.y is not None:
        cols.append(rec.y[:, None]); fmts.append("%d"); names.append(LABEL_COLUMN)
    table = np.hstack([c.astype(np.float64) for c in cols])
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(",".join(names) + "\n")
        np.savetxt(f, table, fmt=fmts, delimiter=",")
    return path
