"""Read a .tflite flatbuffer without TensorFlow: ops, tensors, I/O quantization, and the checks
that make a model deployable (int8 I/O, every op known to TFLM)."""
from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


from ..errors import ImuadError
from ..paths import REPO_ROOT
from .tflm_ops import OP_TABLE, supported_ops

_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16",
          9: "int8", 10: "float64"}


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    return schema


@lru_cache(maxsize=1)
def _op_names() -> dict[int, str]:
    ops = _schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float | None
    zero_point: int | None

    def as_card(self) -> dict:
        return {"dtype": self.dtype, "shape": list(self.shape), "scale": self.scale,
                "zero_point": self.zero_point}


@dataclass(frozen=True)
class OpInfo:
    index: int          # position in subgraph 0 (execution order)
    name: str           # builtin name, e.g. CONV_2D
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    layer: str          # Keras layer that produced it (from the output tensor name), or "?"


@dataclass
class ModelInfo:
    path: str
    size: int
    tensors: list[TensorInfo]
    ops: list[OpInfo]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    n_subgraphs: int

    @property
    def op_names(self) -> list[str]:
        return sorted({op.name for op in self.ops})


def keras_layer_of(tensor_name: str, layers: Mapping[str, str] | None = None) -> str:
    """Keras layer behind a tensor name such as 'functional_1/conv1_1/Relu;...' ('conv1').

    With `layers` (name -> class of the model's layers) the first path component naming one of
    them wins; without, the usual 'model/layer/op' layout is assumed. '?' when unknown."""
    comps = [re.sub(r"(_\d+)?(:\d+)?$", "", c) for seg in tensor_name.split(";") for c in seg.split("/") if c]
    if layers is not None:
        return next((c for c in comps if c in layers), "?")
    parts = [p for p in tensor_name.split(";")[0].split("/") if p]
    if len(parts) >= 3:
        return re.sub(r"_\d+$", "", parts[1])
    return re.sub(r"(_\d+)?(:\d+)?$", "", parts[0]) if parts else "?"


def read_model(data: bytes | bytearray | Path | str, label: str | None = None,
               layers: Mapping[str, str] | None = None) -> ModelInfo:
    """Parse a flatbuffer; ImuadError if it is not a readable TFLite model."""
    if isinstance(data, (str, Path)):
        label = label or str(data)
        try:
            data = Path(data).read_bytes()
        except OSError as exc:
            raise ImuadError(f"{label}: cannot read ({exc.strerror})") from exc
    label = label or "<bytes>"
    buf = bytearray(data)
    if len(buf) < 16 or bytes(buf[4:8]) != b"TFL3":
        raise ImuadError(f"{label}: not a TFLite flatbuffer (missing 'TFL3' identifier, {len(buf)} bytes)")
    schema = _schema()
    names = _op_names()
    try:
        model = schema.Model.GetRootAsModel(buf, 0)
        n_sub = model.SubgraphsLength()
        if n_sub < 1:
            raise ValueError("no subgraph")
        sg = model.Subgraphs(0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            codes.append(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()))
        tensors = []
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            q = t.Quantization()
            scale = zp = None
            if q is not None and q.ScaleLength() > 0:
                scale, zp = float(q.Scale(0)), int(q.ZeroPoint(0))
            tname = t.Name().decode("utf-8", "replace") if t.Name() else f"t{i}"
            shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            tensors.append(TensorInfo(i, tname, _TYPES.get(t.Type(), f"type{t.Type()}"), shape, scale, zp))
        ops = []
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            code = codes[op.OpcodeIndex()]
            ins = tuple(int(v) for v in op.InputsAsNumpy()) if op.InputsLength() else ()
            outs = tuple(int(v) for v in op.OutputsAsNumpy()) if op.OutputsLength() else ()
            layer = keras_layer_of(tensors[outs[0]].name, layers) if outs else "?"
            ops.append(OpInfo(i, names.get(code, f"BUILTIN_{code}"), ins, outs, layer))
        _attribute_unnamed(ops, layers)
        inputs = [tensors[int(v)] for v in sg.InputsAsNumpy()]
        outputs = [tensors[int(v)] for v in sg.OutputsAsNumpy()]
        # buffers must lie inside the file (a truncated file fails here)
        for i in range(model.BuffersLength()):
            b = model.Buffers(i)
            if b.DataLength():
                _ = b.DataAsNumpy()[-1]
                if int(b.Offset()) and int(b.Offset()) + int(b.Size()) > len(buf):
                    raise ValueError(f"buffer {i} lies beyond the end of the file")
    except ImuadError:
        raise
    except Exception as exc:  # struct.error, IndexError, ValueError on a damaged buffer
        raise ImuadError(f"{label}: corrupt or truncated TFLite flatbuffer ({type(exc).__name__}: {exc})") from exc
    if not inputs or not outputs:
        raise ImuadError(f"{label}: model has no inputs or outputs")
    return ModelInfo(label, len(buf), tensors, ops, inputs, outputs, n_sub)


_UNNAMED = ("StatefulPartitionedCall", "serving_default", "PartitionedCall", "tfl.", "?", "arith.")
_FUSED = {"UNIDIRECTIONAL_SEQUENCE_LSTM": "LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM": "LSTM"}


def _attribute_unnamed(ops: list[OpInfo], layers: Mapping[str, str] | None) -> None:
    """Ops whose output lost its scope (fused composites, the renamed model output): a fused
    LSTM is the model's next LSTM layer; anything else belongs to the op that feeds it."""
    fused_left = {cls: [n for n, c in (layers or {}).items() if c == cls] for cls in set(_FUSED.values())}
    producer = {t: op for op in ops for t in op.outputs}
    for k, op in enumerate(ops):
        if not op.layer.startswith(_UNNAMED):
            continue
        layer = op.layer
        if op.name in _FUSED and fused_left.get(_FUSED[op.name]):
            layer = fused_left[_FUSED[op.name]].pop(0)
        else:
            src = next((producer[t] for t in op.inputs if t in producer), None)
            if src is not None:
                layer = ops[src.index].layer
        ops[k] = OpInfo(op.index, op.name, op.inputs, op.outputs, layer)


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
    verify_with_tflite(data, str(path))
    check_deployable(info)
    return data, info
