"""Which builtin ops TFLM can run: the ops with an `Add<Op>()` in `MicroMutableOpResolver`.

Read from the vendored esp-tflite-micro header when it is beside the checkout; otherwise from
`tflm_ops.json`, a snapshot of the same header (regenerate it with `refresh_snapshot()`).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from ..paths import vendor_dir

_HEADER = Path("esp-tflite-micro/tensorflow/lite/micro/micro_mutable_op_resolver.h")
_SNAPSHOT = Path(__file__).with_name("tflm_ops.json")


def parse_resolver_header(text: str) -> dict[str, str]:
    """Builtin op name -> MicroMutableOpResolver method (e.g. CONV_2D -> AddConv2D)."""
    ops: dict[str, str] = {}
    for method, body in re.findall(r"TfLiteStatus (Add\w+)\((.*?)\n  \}", text, re.S):
        names = set(re.findall(r"BuiltinOperator_(\w+)", body))
        if len(names) == 1 and "CUSTOM" not in names:  # AddCustom/AddBuiltin are generic
            ops[names.pop()] = method
    return dict(sorted(ops.items()))


@lru_cache(maxsize=1)
def supported_ops() -> dict[str, str]:
    header = vendor_dir() / _HEADER
    if header.is_file():
        ops = parse_resolver_header(header.read_text())
        if ops:
            return ops
    return dict(json.loads(_SNAPSHOT.read_text())["ops"])


def refresh_snapshot() -> Path:
    header = vendor_dir() / _HEADER
    ops = parse_resolver_header(header.read_text())
    _SNAPSHOT.write_text(json.dumps({"source": str(_HEADER), "ops": ops}, indent=1) + "\n")
    return _SNAPSHOT
