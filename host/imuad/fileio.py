"""Outputs appear whole or not at all: written to a temporary name beside the target, then
renamed (a killed command leaves no half-written report, model or card)."""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO]:
    """A file handle on a temporary name beside `path`, renamed to `path` when the block ends
    without an exception (and removed if it raises)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return Path(path)


def write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    return write_atomic(path, json.dumps(obj, indent=indent, default=int) + "\n")


def replace_dir(staged: Path, final: Path) -> Path:
    """Put a finished staging folder in place of `final` (an older folder there is removed
    only once the new one is in place)."""
    import shutil
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final
