"""Read a .tflite flatbuffer without TensorFlow: ops, tensors, I/O quantization, and the
structural checks the firmware core makes before TFLM sees a model (`imuad/runner.cc`
check_model_structure): a damaged file gets a clear error here, not a crash there.

Needs the `tflite-micro` wheel for the flatbuffer schema (extra `device`)."""
from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


from ..errors import ImuadError

_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16",
          9: "int8", 10: "float64"}


def _schema():
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    except ImportError as exc:
        raise ImuadError("reading .tflite files needs the tflite-micro package: pip install 'imuad[device]'") from exc
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


_ELEM_SIZE = {0: 4, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1}  # float32 int32 uint8 int64 bool int16 int8
SCHEMA_VERSION = 3


def check_structure(data: bytes | bytearray, label: str = "<bytes>") -> None:
    """What TFLM trusts without checking (indices, shapes, constant sizes, per-channel
    quantization), checked as `check_model_structure` in imuad/runner.cc does. ImuadError if not sane."""
    buf = bytearray(data)
    if len(buf) < 16 or bytes(buf[4:8]) != b"TFL3":
        raise ImuadError(f"{label}: not a TFLite flatbuffer (missing 'TFL3' identifier, {len(buf)} bytes)")
    schema = _schema()
    try:
        why = _structure_problem(schema.Model.GetRootAsModel(buf, 0))
    except Exception as exc:  # struct.error / IndexError: offsets point outside the file
        why = f"unreadable ({type(exc).__name__}: {exc})"
    if why:
        raise ImuadError(f"{label}: corrupt TFLite model: {why}")


def _structure_problem(model) -> str | None:
    if model.Version() != SCHEMA_VERSION:
        return f"schema version {model.Version()}, expected {SCHEMA_VERSION}"
    if model.SubgraphsLength() != 1:
        return f"needs exactly one subgraph, has {model.SubgraphsLength()}"
    g = model.Subgraphs(0)
    n_buffers, n_codes, n_tensors = model.BuffersLength(), model.OperatorCodesLength(), g.TensorsLength()
    if n_buffers == 0 or n_codes == 0:
        return "no buffers or operator codes"
    if g.OperatorsLength() == 0 or g.InputsLength() == 0 or g.OutputsLength() == 0:
        return "subgraph lacks operators, inputs or outputs"

    def index_ok(i: int, optional: bool) -> bool:
        return 0 <= i < n_tensors or (optional and i == -1)

    if not all(index_ok(int(i), False) for i in g.InputsAsNumpy()):
        return "subgraph input index out of range"
    if not all(index_ok(int(i), False) for i in g.OutputsAsNumpy()):
        return "subgraph output index out of range"
    for ti in range(n_tensors):
        t = g.Tensors(ti)
        if t.Buffer() >= n_buffers:
            return f"tensor {ti}: buffer index out of range"
        dims = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
        elements = 1
        for d in dims:
            if d < 0 or d > 65536:
                return f"tensor {ti}: dimension {d} out of range"
            elements *= d
            if elements > 1 << 24:
                return f"tensor {ti}: too large"
        if t.Type() not in _ELEM_SIZE:
            return f"tensor {ti}: type {t.Type()} not supported"
        size = model.Buffers(t.Buffer()).DataLength()
        if size and size != elements * _ELEM_SIZE[t.Type()]:
            return f"tensor {ti}: constant data of {size} bytes does not match its shape {dims}"
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 1:
            qd = q.QuantizedDimension()
            if q.ZeroPointLength() != q.ScaleLength() or not 0 <= qd < len(dims) or q.ScaleLength() != dims[qd]:
                return f"tensor {ti}: per-channel quantization does not match the tensor shape"
    for oi in range(g.OperatorsLength()):
        op = g.Operators(oi)
        if op.OpcodeIndex() >= n_codes:
            return f"operator {oi}: code index out of range"
        if op.InputsLength() and not all(index_ok(int(i), True) for i in op.InputsAsNumpy()):
            return f"operator {oi}: input index out of range"
        if op.OutputsLength() == 0 or not all(index_ok(int(i), False) for i in op.OutputsAsNumpy()):
            return f"operator {oi}: output index out of range"
    return None


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
