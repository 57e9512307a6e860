"""C6: the model card and its folder, loaded and checked in one place.

`load_model_dir(DIR)` is the one way any command gets a model: the card is validated field
by field (types and the ranges of C2-C5), the `.tflite` beside it must match the card's
SHA-256 and pass the structural checks the firmware core makes, and its input/output tensors
must agree with the card. `ModelCard.raw` keeps the whole JSON for fields beyond C6.
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import ImuadError
from .decision import Decision, DecisionError, check_decision
from .preprocess import SHIFT_RANGE, WINDOW_INT_MAX_SHIFT, WINDOW_INT_MAX_W, Preprocess
from .score import KINDS as SCORE_KINDS
from .score import Score
from .windows import LABEL_RULE, SPLIT_MODES

CARD_NAME = "model_card.json"
TFLITE_NAME = "model.tflite"
SCHEMA = 1
CARD_KEYS = ("schema", "name", "architecture", "dataset", "sample_rate_hz", "window", "hop", "channels",
             "preprocessing", "input", "output", "score", "output_meaning", "decision", "metrics", "sizes",
             "ops", "parity", "seed", "train_config", "tflite_sha256", "split")
MAX_CHANNELS = 8            # imuad::kMaxChannels
MAX_NAME = 32               # DEVICE_INFO model_name
MAX_TFLITE_BYTES = 1 << 20  # the largest model any target holds (ESP32 `models` partition slot)
PREPROCESSING_KINDS = ("affine_int", "window_int", "none")
INT32 = (-2**31, 2**31 - 1)

CXX_KEYWORDS = frozenset("""alignas alignof and and_eq asm auto bitand bitor bool break case catch char
char8_t char16_t char32_t class compl concept const consteval constexpr constinit const_cast continue
co_await co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq nullptr
operator or or_eq private protected public register reinterpret_cast requires return short signed
sizeof static static_assert static_cast struct switch template this thread_local throw true try typedef
typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq final override
import module main""".split())


def check_name(name: Any, field: str = "model name") -> str:
    """A model name: a C identifier (it names a C++ namespace and arrays), at most 32 chars."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ImuadError(f"{field} {name!r} is not a C identifier (letters, digits, '_', not starting with a digit)")
    if name in CXX_KEYWORDS or name.startswith("__") or re.match(r"_[A-Z]", name):
        raise ImuadError(f"{field} {name!r} is a C++ keyword or reserved identifier; choose another")
    if len(name) > MAX_NAME:
        raise ImuadError(f"{field} {name!r} is longer than {MAX_NAME} characters (DEVICE_INFO model_name)")
    return name


# ---------------------------------------------------------------- field checks
class _Fields:
    """Typed reads of one JSON object; every error names the file and the field path."""

    def __init__(self, obj: Any, where: str, label: str) -> None:
        if not isinstance(obj, Mapping):
            raise ImuadError(f"{label}: {where or 'the card'} must be a JSON object, got {type(obj).__name__}")
        self.obj, self.where, self.label = obj, where, label

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, what: str) -> ImuadError:
        return ImuadError(f"{self.label}: field '{self._name(key)}' {what}")

    def get(self, key: str) -> Any:
        if key not in self.obj:
            raise self.fail(key, "is missing")
        return self.obj[key]

    def int(self, key: str, lo: int, hi: int) -> int:
        v = self.get(key)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not lo <= v <= hi:
            raise self.fail(key, f"must be an integer in [{lo}, {hi}], got {v!r}")
        return int(v)

    def num(self, key: str, positive: bool = True, optional: bool = False) -> float | None:
        v = self.obj.get(key) if optional else self.get(key)
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or (positive and v <= 0):
            raise self.fail(key, f"must be a finite {'positive ' if positive else ''}number, got {v!r}")
        return float(v)

    def str(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(key)
        if not isinstance(v, str) or (choices is not None and v not in choices):
            raise self.fail(key, f"must be {'one of ' + ', '.join(choices) if choices else 'a string'}, got {v!r}")
        return v

    def ints(self, key: str, n: int, lo: int, hi: int) -> tuple[int, ...]:
        v = self.get(key)
        if (not isinstance(v, list) or len(v) != n or
                any(isinstance(x, bool) or not isinstance(x, numbers.Integral) or not lo <= x <= hi for x in v)):
            raise self.fail(key, f"must be a list of {n} integers in [{lo}, {hi}], got {v!r}")
        return tuple(int(x) for x in v)

    def sub(self, key: str) -> "_Fields":
        return _Fields(self.get(key), self._name(key), self.label)


@dataclass(frozen=True)
class TensorSpec:
    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @classmethod
    def read(cls, f: _Fields) -> "TensorSpec":
        dtype = f.str("dtype", ("int8",))
        shape = f.get("shape")
        if (not isinstance(shape, list) or not 1 <= len(shape) <= 4 or
                any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or not 1 <= d <= 65535 for d in shape)):
            raise f.fail("shape", f"must be a list of 1-4 dimensions in [1, 65535], got {shape!r}")
        return cls(dtype, tuple(int(d) for d in shape), f.num("scale"), f.int("zero_point", -128, 127))


@dataclass(frozen=True)
class ModelCard:
    name: str
    architecture: str
    window: int
    hop: int
    channels: tuple[str, ...]
    sample_rate_hz: float | None
    counts_per_unit: float
    preprocessing_kind: str
    preprocess: Preprocess
    input: TensorSpec
    output: TensorSpec
    score: Score
    decision: Decision
    ops: tuple[str, ...]
    tflite_sha256: str
    default: bool
    split: Mapping[str, Any]    # C2 split plan: mode, label_rule, fractions, gap_samples
    path: Path
    raw: Mapping[str, Any]

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_outputs(self) -> int:
        return self.output.elements

    @property
    def dataset(self) -> Mapping[str, Any]:
        return self.raw.get("dataset") or {}

    @classmethod
    def from_json(cls, obj: Any, path: Path) -> "ModelCard":
        label = str(path)
        f = _Fields(obj, "", label)
        if f.get("schema") != SCHEMA:
            raise f.fail("schema", f"must be {SCHEMA}, got {f.get('schema')!r}")
        name = f.get("name")
        try:
            check_name(name)
        except ImuadError as exc:
            raise f.fail("name", str(exc)) from None
        window, hop = f.int("window", 1, 65535), f.int("hop", 1, 65535)
        channels = f.get("channels")
        if (not isinstance(channels, list) or not 1 <= len(channels) <= MAX_CHANNELS or
                any(not isinstance(c, str) or not c for c in channels)):
            raise f.fail("channels", f"must be a list of 1-{MAX_CHANNELS} axis names, got {channels!r}")
        C = len(channels)
        inp, out = TensorSpec.read(f.sub("input")), TensorSpec.read(f.sub("output"))
        if inp.elements != window * C:
            raise f.fail("input", f"shape {list(inp.shape)} does not hold a window of {window} x {C} samples")
        p = f.sub("preprocessing")
        kind = p.str("kind", PREPROCESSING_KINDS)
        counts_per_unit = p.num("counts_per_unit", optional=True) or 1.0
        if kind == "affine_int":
            pre = Preprocess(p.ints("offset", C, *INT32), p.ints("multiplier", C, 1, INT32[1]),
                             p.int("shift", *SHIFT_RANGE), p.int("input_zero_point", -128, 127))
            p.num("input_scale")
            if pre.input_zero_point != inp.zero_point:
                raise p.fail("input_zero_point", f"is {pre.input_zero_point}, the input tensor's is {inp.zero_point}")
        elif kind == "window_int":
            if window > WINDOW_INT_MAX_W:
                raise f.fail("window", f"is {window}; window_int preprocessing takes at most {WINDOW_INT_MAX_W} samples")
            pre = Preprocess(p.ints("min_rms", C, 1, 65535), p.ints("multiplier", C, 1, INT32[1]),
                             p.int("shift", 1, WINDOW_INT_MAX_SHIFT), p.int("input_zero_point", -128, 127),
                             "window_int")
            p.num("input_scale")
            if pre.input_zero_point != inp.zero_point:
                raise p.fail("input_zero_point", f"is {pre.input_zero_point}, the input tensor's is {inp.zero_point}")
        else:  # the samples are the int8 input values as they are (imported models)
            pre = Preprocess((0,) * C, (2,) * C, 1, 0)
        ds = f.get("dataset")
        if isinstance(ds, Mapping) and ds.get("counts_per_unit") is not None:
            counts_per_unit = f.sub("dataset").num("counts_per_unit")
        s = f.sub("score")
        skind = s.str("kind", SCORE_KINDS)
        if skind == "class_prob":
            score = Score(skind, out.zero_point, output_index=s.int("output_index", 0, out.elements - 1))
        else:
            if out.elements != inp.elements:
                raise s.fail("kind", f"recon_error needs an output of the input's size ({inp.elements}), "
                                     f"the output has {out.elements}")
            score = Score(skind, out.zero_point, input_zero_point=inp.zero_point, in_mult=s.int("in_mult", *INT32),
                          out_mult=s.int("out_mult", *INT32), shift=s.int("shift", 0, 62))
        d = f.sub("decision")
        try:
            decision = check_decision(d.get("threshold_on"), d.get("threshold_off"), d.get("k"), d.get("n"))
        except DecisionError as exc:
            raise d.fail(exc.field, f"is invalid: {exc}") from None
        ops = f.get("ops")
        if not isinstance(ops, list) or not ops or any(not isinstance(o, str) or not re.fullmatch(r"[A-Z0-9_]+", o)
                                                       for o in ops):
            raise f.fail("ops", f"must be a non-empty list of TFLite builtin op names, got {ops!r}")
        sha = f.get("tflite_sha256")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise f.fail("tflite_sha256", f"must be 64 lowercase hex digits, got {sha!r}")
        split = _split(f, window)
        arch = f.get("architecture")
        return cls(name=name, architecture=str(arch), window=window, hop=hop, channels=tuple(channels),
                   sample_rate_hz=f.num("sample_rate_hz", optional=True), counts_per_unit=counts_per_unit,
                   preprocessing_kind=kind, preprocess=pre, input=inp, output=out, score=score,
                   decision=decision, ops=tuple(ops), tflite_sha256=sha, default=bool(obj.get("default", False)),
                   split=split, path=path, raw=obj)


def _split(f: _Fields, window: int) -> dict[str, Any]:
    """C2 split plan of the card; cards written before split modes existed are per_run."""
    raw = f.obj.get("split")
    if raw is None or not isinstance(raw, Mapping) or "mode" not in raw:
        if raw is not None and not isinstance(raw, Mapping):
            raise f.fail("split", f"must be an object, got {raw!r}")
        fr = (raw or {}).get("fractions") or [0.6, 0.2, 0.2]
        raw = {"mode": "per_run", "fractions": fr}
    s = _Fields(raw, "split", f.label)
    mode = s.str("mode", SPLIT_MODES)
    if raw.get("label_rule", LABEL_RULE[mode]) != LABEL_RULE[mode]:
        raise s.fail("label_rule", f"must be '{LABEL_RULE[mode]}' for mode '{mode}', got {raw.get('label_rule')!r}")
    fr = raw.get("fractions")
    if (not isinstance(fr, list) or len(fr) != 3 or any(isinstance(v, bool) or not isinstance(v, numbers.Real)
                                                        or not math.isfinite(v) or v < 0 for v in fr) or sum(fr) <= 0):
        raise s.fail("fractions", f"must be 3 non-negative numbers (train, val, test) with a positive sum, got {fr!r}")
    gap = s.int("gap_samples", 0, 2**31 - 1) if "gap_samples" in raw else (window if mode == "stream" else 0)
    return {"mode": mode, "label_rule": LABEL_RULE[mode], "fractions": [float(v) for v in fr], "gap_samples": gap}


@dataclass(frozen=True)
class ModelDir:
    path: Path
    card: ModelCard
    tflite: bytes

    @property
    def name(self) -> str:
        return self.card.name


def resolve_model_dir(model: str | Path, models_root: Path | None = None) -> Path:
    """A model folder as given, or `models/NAME` of the checkout."""
    d = Path(model)
    if not d.exists() and models_root is not None and (models_root / str(model)).is_dir():
        d = models_root / str(model)
    if not d.exists():
        raise ImuadError(f"{model}: no such model folder (give a folder written by `imuad export` or `imuad import`)")
    if not d.is_dir():
        raise ImuadError(f"{model}: not a folder (a model is a folder with {CARD_NAME} and {TFLITE_NAME})")
    return d


def read_card(model_dir: str | Path) -> ModelCard:
    """The card alone, validated (for tools that do not run the model)."""
    path = Path(model_dir) / CARD_NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ImuadError(f"{model_dir}: no {CARD_NAME} (export a model with `imuad export RUN --name NAME`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImuadError(f"{path}: cannot read ({exc})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImuadError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    return ModelCard.from_json(obj, path)


def load_model_dir(model: str | Path, models_root: Path | None = None) -> ModelDir:
    """Card + flatbuffer, checked against each other (see the module docstring)."""
    from .tflite import check_structure, read_model
    d = resolve_model_dir(model, models_root)
    card = read_card(d)
    tpath = d / TFLITE_NAME
    try:
        size = tpath.stat().st_size
        if size > MAX_TFLITE_BYTES:
            raise ImuadError(f"{tpath}: {size} bytes, larger than any target's model slot ({MAX_TFLITE_BYTES} bytes)")
        data = tpath.read_bytes()
    except FileNotFoundError:
        raise ImuadError(f"{d}: no {TFLITE_NAME} beside the card") from None
    except IsADirectoryError:
        raise ImuadError(f"{tpath}: is a folder, not a .tflite file") from None
    sha = hashlib.sha256(data).hexdigest()
    if sha != card.tflite_sha256:
        raise ImuadError(f"{tpath}: SHA-256 {sha[:16]}… differs from the card's tflite_sha256 "
                         f"{card.tflite_sha256[:16]}… (file replaced or damaged; export the model again)")
    check_structure(data, str(tpath))
    info = read_model(data, str(tpath))
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise ImuadError(f"{tpath}: needs 1 input and 1 output tensor, has {len(info.inputs)} and {len(info.outputs)}")
    for what, t, spec in (("input", info.inputs[0], card.input), ("output", info.outputs[0], card.output)):
        if t.dtype != spec.dtype or math.prod(t.shape) != spec.elements or t.zero_point != spec.zero_point:
            raise ImuadError(f"{tpath}: {what} tensor is {t.dtype} {list(t.shape)} zero point {t.zero_point}; "
                             f"the card says {spec.dtype} {list(spec.shape)} zero point {spec.zero_point}")
    missing = sorted(set(info.op_names) - set(card.ops))
    if missing:
        raise ImuadError(f"{d / CARD_NAME}: field 'ops' lacks {', '.join(missing)}, which {TFLITE_NAME} uses")
    return ModelDir(d, card, data)
