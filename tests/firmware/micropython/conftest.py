"""Fixtures of the MicroPython tests (helpers in mpy_support.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpy_support import host_reference, model_dirs, recording_counts


@pytest.fixture(scope="session")
def mpy() -> Path:
    from imuad.build import artefact
    return artefact("micropython")


@pytest.fixture(scope="session", params=model_dirs(), ids=lambda d: d.name)
def model_case(request, tmp_path_factory):
    d: Path = request.param
    card = json.loads((d / "model_card.json").read_text())
    model = (d / "model.tflite").read_bytes()
    counts = recording_counts(card, d)
    work = tmp_path_factory.mktemp(d.name)
    (work / "counts.bin").write_bytes(counts.tobytes())
    return d, card, model, counts, work, host_reference(d, counts)
