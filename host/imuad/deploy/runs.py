"""Reading run folders (written by imuad.training.train) without loading TensorFlow."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ImuadError


def read_run_json(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise ImuadError(f"{run_dir}: not a run folder (no run.json); create one with `imuad train`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ImuadError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc


def load_run(run_dir: str | Path):
    from ..training.run import Run
    return Run.load(run_dir)
