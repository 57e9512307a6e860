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


def noise_counts(model_dir: Path, n_windows: int = 40, seed: int = 3):
    """int16 Gaussian counts (sigma 2000) for exactly `n_windows` windows of the model's card."""
    import numpy as np
    card = card_of(model_dir)
    n = card["window"] + card["hop"] * (n_windows - 1)
    return np.random.default_rng(seed).normal(0, 2000, (n, len(card["channels"]))).round().astype(np.int16)


def model_dirs() -> list[Path]:
    """Committed models (registry order is the firmware's business) and the fixture models."""
    return sorted(p.parent for p in REPO_ROOT.glob("models/*/model_card.json")) + sorted(FIXTURES.iterdir())


# ---------------------------------------------------------------- models compiled in nowhere
def _retarget(src: Path, dst: Path, name: str, data: bytes, ops: list[str] | None = None) -> Path:
    """dst/: src's card renamed to `name` over the flatbuffer `data` (SHA-256 and size updated)."""
    import hashlib
    dst.mkdir(parents=True, exist_ok=True)
    card = card_of(src)
    card.update(name=name, tflite_sha256=hashlib.sha256(data).hexdigest(), default=False)
    card["sizes"] = dict(card["sizes"], tflite_bytes=len(data))
    if ops is not None:
        card["ops"] = ops
    (dst / "model.tflite").write_bytes(data)
    (dst / "model_card.json").write_text(json.dumps(card, indent=1))
    return dst


def _flatbuffer(data: bytearray):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    return schema.Model.GetRootAsModel(data, 0)


def perturbed_model(src: Path, dst: Path, name: str, shift: int = 24) -> Path:
    """A model no firmware carries: src's flatbuffer with every 3rd weight of its largest int8
    constant tensor moved by `shift` (1..100) toward zero's other side, under a new name."""
    data = bytearray((src / "model.tflite").read_bytes())
    m = _flatbuffer(data)
    g = m.Subgraphs(0)
    best = (0, 0)
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        tab = m.Buffers(t.Buffer())._tab
        o = tab.Offset(4)
        if t.Type() == 9 and o:  # int8 with constant data
            best = max(best, (tab.VectorLen(o), tab.Vector(o)))
    n, start = best
    assert n > 0, f"{src}: no int8 constant tensor"
    for k in range(start, start + n, 3):
        v = data[k] - 256 if data[k] > 127 else data[k]
        data[k] = (v - shift if v > 0 else v + shift) & 0xFF
    return _retarget(src, dst, name, bytes(data))


def model_with_op(src: Path, dst: Path, name: str, op: str, new_op: str) -> Path:
    """src's flatbuffer with operator code `op` replaced by `new_op` (both builtin codes < 127),
    the card's ops following: a structurally sound model needing a kernel the firmware lacks."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    codes = vars(schema.BuiltinOperator)
    data = bytearray((src / "model.tflite").read_bytes())
    m = _flatbuffer(data)
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        if max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()) != codes[op]:
            continue
        tab = oc._tab
        dep, full = tab.Offset(4), tab.Offset(10)  # deprecated_builtin_code (int8), builtin_code (int32)
        assert dep and full, f"{src}: operator code {op} lacks a field to rewrite"
        data[tab.Pos + dep] = codes[new_op]
        data[tab.Pos + full:tab.Pos + full + 4] = codes[new_op].to_bytes(4, "little")
        ops = sorted({o for o in card_of(src)["ops"] if o != op} | {new_op})
        return _retarget(src, dst, name, bytes(data), ops)
    raise AssertionError(f"{src} has no operator {op}")


def shape_corrupted(data: bytes) -> bytes:
    """The flatbuffer with the first dimension of its largest constant tensor grown by one: it
    still verifies, but the tensor no longer matches its buffer (the core's structural checks)."""
    buf = bytearray(data)
    m = _flatbuffer(buf)
    g = m.Subgraphs(0)
    best = None
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        b = m.Buffers(t.Buffer())
        if b.DataLength() and t.ShapeLength() and (best is None or b.DataLength() > best[0]):
            best = (b.DataLength(), t)
    assert best is not None
    tab = best[1]._tab
    pos = tab.Vector(tab.Offset(4))  # shape: int32 vector, field 0 of Tensor
    buf[pos:pos + 4] = (int.from_bytes(buf[pos:pos + 4], "little") + 1).to_bytes(4, "little")
    return bytes(buf)



def run_with_missing_rx_file(transport_cls: type, elf: Path, missing: Path) -> tuple[int | None, str]:
    """A bare-metal QEMU firmware started by its board's transport with `rx=` naming no file:
    (exit code, what QEMU and the firmware printed)."""
    import time

    class MissingRx(transport_cls):
        def argv(self, port: int, rx_path: Path | None) -> list[str]:
            return super().argv(port, missing)

    t = MissingRx(elf)
    try:
        code = t.exit_code(timeout=30)
        deadline = time.monotonic() + 5
        while str(missing) not in t.diagnostics() and time.monotonic() < deadline:
            time.sleep(0.05)  # the output pump may still be reading the last line
        return code, t.diagnostics()
    finally:
        t.close()
