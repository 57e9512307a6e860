"""Which builtin ops the firmware can run: the op table of the C++ core
(device/components/imuad_core/include/imuad/op_table.def, one `IMUAD_OP(NAME, AddMethod, kernel
files)` line per op). The same file gives CMake the kernel files to compile and the firmware its
runtime resolver, so `imuad quantize` accepts, and `imuad export` writes into op_resolver.h,
exactly what every firmware build can compile.
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..errors import ImuadError
from ..paths import REPO_ROOT, checkout_dir

OP_TABLE = REPO_ROOT / "device/components/imuad_core/include/imuad/op_table.def"
_LINE = re.compile(r"^IMUAD_OP\((\w+),\s*(\w+),\s*([^)]*)\)\s*$")


def parse_op_table(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """op name -> (MicroMutableOpResolver method, kernel files), in file order."""
    ops: dict[str, tuple[str, tuple[str, ...]]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.startswith("IMUAD_OP("):
            continue
        m = _LINE.match(line)
        if not m:
            raise ImuadError(f"{OP_TABLE}:{n}: cannot read op table line {line!r}")
        ops[m.group(1)] = (m.group(2), tuple(m.group(3).split()))
    return ops


@lru_cache(maxsize=1)
def op_table() -> dict[str, tuple[str, tuple[str, ...]]]:
    checkout_dir("the firmware's op table (imuad quantize / export / import)")  # a wheel has no firmware
    return parse_op_table(OP_TABLE.read_text())


def supported_ops() -> dict[str, str]:
    """Builtin op name -> MicroMutableOpResolver method (the second column of the op table)."""
    return {name: method for name, (method, _files) in op_table().items()}
