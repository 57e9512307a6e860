"""Helpers of the firmware tests (tests/firmware): the targets, their stream budgets, the models."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imuad.paths import REPO_ROOT

DEFAULT_TARGETS = ("host", "qemu", "qemu-nn", "qemu-xt", "qemu-xt-nn", "idflinux", "micropython")
DEVICE_INFO_TARGET = {"host": "host", "qemu": "qemu", "qemu-nn": "qemu-nn", "qemu-xt": "qemu-xt",
                      "qemu-xt-nn": "qemu-xnn", "idflinux": "idflinux", "micropython": "mpy", "esp32": "esp32"}
# synthetic windows per model and garbage frames, per target (emulators and boards are slower)
WINDOWS = {"host": 10_000, "idflinux": 3_000, "micropython": 3_000, "qemu": 300, "qemu-nn": 300, "qemu-xt": 300,
           "qemu-xt-nn": 300, "esp32": 300}
FIXTURES = REPO_ROOT / "tests/firmware/fixtures/models"


@dataclass
class Fw:
    name: str
    target: object                 # imuad.targets.base.Target
    windows: int                   # synthetic stream length per model
    carries_fixtures: bool
    device_target: str             # DEVICE_INFO.target

    @property
    def hello_timeout(self) -> float:
        return float(getattr(self.target, "hello_timeout", 10.0))

    @property
    def max_inflight(self) -> int:
        return int(getattr(self.target, "max_inflight_chunks", 8))

    def open(self):
        return self.target.open()


def card_of(model_dir: Path) -> dict:
    return json.loads((model_dir / "model_card.json").read_text())


def model_dirs() -> list[Path]:
    """Committed models (registry order is the firmware's business) and the fixture models."""
    return sorted(p.parent for p in REPO_ROOT.glob("models/*/model_card.json")) + sorted(FIXTURES.iterdir())
