"""Is a converted model deployable: TFLite accepts it, every op has a TFLM int8 kernel,
int8 input and output, no float activations."""
from __future__ import annotations

from pathlib import Path

from ..contracts.tflite import ModelInfo, check_structure, read_model
from ..errors import ImuadError
from ..paths import REPO_ROOT
from .tflm_ops import OP_TABLE, supported_ops


def verify_with_tflite(data: bytes, label: str) -> None:
    """TFLite's own flatbuffer verifier (catches damage the lazy Python reader misses)."""
    try:
        from .interpreters import tflite_interpreter
    except ImportError:  # pragma: no cover - TF is part of the train extra
        return
    try:
        tflite_interpreter(bytes(data), reference=True)
    except (ValueError, RuntimeError) as exc:
        raise ImuadError(f"{label}: TFLite rejects the flatbuffer ({str(exc).splitlines()[0]})") from exc


def check_deployable(info: ModelInfo) -> None:
    """Every op has a TFLM int8 kernel; int8 input and output; no float activations."""
    for t in info.inputs + info.outputs:
        if t.dtype != "int8":
            kind = "input" if t in info.inputs else "output"
            raise ImuadError(f"{info.path}: {kind} tensor '{t.name}' is {t.dtype}, not int8 "
                             f"(a float model; quantize it with `imuad quantize`)")
    known = supported_ops()
    for op in info.ops:
        if op.name not in known:
            raise ImuadError(f"{info.path}: op #{op.index} {op.name} (from Keras layer '{op.layer}') "
                             f"has no TFLM kernel in the firmware's op table ({OP_TABLE.relative_to(REPO_ROOT)}); "
                             f"change that layer, or add the op's IMUAD_OP line there")
    for op in info.ops:
        if op.name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        for ti in op.inputs + op.outputs:
            if ti >= 0 and info.tensors[ti].dtype == "float32" and _is_activation(info, ti):
                raise ImuadError(f"{info.path}: op #{op.index} {op.name} (from Keras layer '{op.layer}') "
                                 f"computes in float32; only int8/int16 kernels are deployed")


def _is_activation(info: ModelInfo, ti: int) -> bool:
    return any(ti in op.outputs for op in info.ops) or ti in [t.index for t in info.inputs]


def load_checked(path: Path | str) -> tuple[bytes, ModelInfo]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImuadError(f"{path}: cannot read ({exc.strerror})") from exc
    info = read_model(data, str(path))
    check_structure(data, str(path))
    verify_with_tflite(data, str(path))
    check_deployable(info)
    return data, info
