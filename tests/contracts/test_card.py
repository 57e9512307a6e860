"""C6: the one model-folder loader. Every corruption of a card or its .tflite gets a clear
ImuadError naming the file (never another exception), and every command that takes a model
refuses a damaged folder before doing any work."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imuad.contracts.card import CARD_NAME, TFLITE_NAME, load_model_dir
from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT

pytest.importorskip("tflite_micro")
SYNTH = REPO_ROOT / "models" / "synth"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# every field the loader validates (a path into the card JSON)
CHECKED = [("schema",), ("name",), ("window",), ("hop",), ("channels",), ("preprocessing",),
           ("preprocessing", "kind"), ("preprocessing", "offset"), ("preprocessing", "multiplier"),
           ("preprocessing", "shift"), ("preprocessing", "input_zero_point"), ("preprocessing", "input_scale"),
           ("input",), ("input", "dtype"), ("input", "shape"), ("input", "scale"), ("input", "zero_point"),
           ("output",), ("output", "shape"), ("output", "zero_point"), ("score",), ("score", "kind"),
           ("score", "output_index"), ("decision",), ("decision", "threshold_on"), ("decision", "threshold_off"),
           ("decision", "k"), ("decision", "n"), ("ops",), ("tflite_sha256",), ("dataset", "counts_per_unit"),
           ("sample_rate_hz",)]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)


@pytest.fixture()
def model_copy(tmp_path) -> Path:
    d = tmp_path / "synth"
    shutil.copytree(SYNTH, d)
    return d


def _card(d: Path) -> dict:
    return json.loads((d / CARD_NAME).read_text())


def _set(card: dict, path: tuple[str, ...], value) -> None:
    node = card
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def test_committed_models_load():
    for d in sorted((REPO_ROOT / "models").glob("*/model_card.json")):
        md = load_model_dir(d.parent)
        assert md.card.name == d.parent.name and md.card.tflite_sha256 == hashlib.sha256(md.tflite).hexdigest()


@SETTINGS
@given(path=st.sampled_from(CHECKED), value=json_values)
def test_any_value_in_a_checked_field_loads_or_is_refused_clearly(model_copy, path, value):
    card = _card(SYNTH)  # hypothesis reuses the folder between examples: start from the original
    _set(card, path, value)
    (model_copy / CARD_NAME).write_text(json.dumps(card))
    try:
        md = load_model_dir(model_copy)
    except ImuadError as exc:
        assert str(model_copy) in str(exc)
        return
    # accepted: then the value is one the contract allows, and the loader kept it
    c = md.card
    assert 1 <= c.window <= 65535 and 1 <= c.hop <= 65535 and 1 <= c.n_channels <= 8
    assert c.decision.threshold_off <= c.decision.threshold_on and 1 <= c.decision.k <= c.decision.n <= 32


@pytest.mark.parametrize("path, value, field", [
    (("window",), 0, "window"), (("hop",), -1, "hop"), (("preprocessing",), None, "preprocessing"),
    (("decision", "threshold_on"), True, "threshold_on"), (("decision", "k"), "5", "k"),
    (("decision", "threshold_on"), 2**40, "threshold_on"), (("decision", "n"), 33, "n"),
    (("channels",), ["x", "y"], "input"), (("score", "kind"), "nope", "score.kind"),
    (("preprocessing", "shift"), 0, "preprocessing.shift"), (("input", "dtype"), "float32", "input.dtype"),
    (("ops",), [], "ops"), (("tflite_sha256",), "00", "tflite_sha256"), (("name",), "my-model", "name"),
])
def test_named_defects_are_refused_naming_the_field(model_copy, path, value, field):
    card = _card(model_copy)
    _set(card, path, value)
    (model_copy / CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(ImuadError, match=re.escape(field)):
        load_model_dir(model_copy)


@pytest.mark.parametrize("text", ["[]", "3", "null", '"card"', "{", ""])
def test_card_that_is_not_a_json_object(model_copy, text):
    (model_copy / CARD_NAME).write_text(text)
    with pytest.raises(ImuadError, match=re.escape(str(model_copy / CARD_NAME))):
        load_model_dir(model_copy)


@SETTINGS
@given(data=st.data())
def test_damaged_flatbuffer_is_refused_by_its_sha256(model_copy, data):
    good = (SYNTH / TFLITE_NAME).read_bytes()
    how = data.draw(st.sampled_from(["flip", "truncate", "random", "append"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(good) - 1))
        bad = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255))]) + good[i + 1:]
    elif how == "truncate":
        bad = good[:data.draw(st.integers(0, len(good) - 1))]
    elif how == "random":
        bad = data.draw(st.binary(min_size=0, max_size=4096))
    else:
        bad = good + data.draw(st.binary(min_size=1, max_size=64))
    (model_copy / TFLITE_NAME).write_bytes(bad)
    with pytest.raises(ImuadError, match="SHA-256|corrupt|not a TFLite"):
        load_model_dir(model_copy)


@SETTINGS
@given(data=st.data())
def test_damage_with_a_matching_sha256_is_caught_by_the_structure_check_or_harmless(model_copy, data):
    """Someone re-signs a damaged file: the structural checks of the firmware core, done in Python."""
    good = bytearray((SYNTH / TFLITE_NAME).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(good) - 1))
        good[i] = data.draw(st.integers(0, 255))
    (model_copy / TFLITE_NAME).write_bytes(bytes(good))
    card = _card(SYNTH)
    card["tflite_sha256"] = hashlib.sha256(bytes(good)).hexdigest()
    (model_copy / CARD_NAME).write_text(json.dumps(card))
    try:
        load_model_dir(model_copy)
    except ImuadError as exc:
        assert str(model_copy) in str(exc)


def test_missing_oversized_and_folder_tflite(model_copy):
    (model_copy / TFLITE_NAME).unlink()
    with pytest.raises(ImuadError, match="no model.tflite"):
        load_model_dir(model_copy)
    (model_copy / TFLITE_NAME).mkdir()
    with pytest.raises(ImuadError, match="is a folder"):
        load_model_dir(model_copy)
    (model_copy / TFLITE_NAME).rmdir()
    with open(model_copy / TFLITE_NAME, "wb") as fh:
        fh.truncate(2 << 20)
    with pytest.raises(ImuadError, match="larger than any target"):
        load_model_dir(model_copy)
    with pytest.raises(ImuadError, match="no such model folder"):
        load_model_dir(model_copy / "nope")


# ---------------------------------------------------------------- every model-taking command
CORRUPTIONS = {
    "flipped tflite": lambda d: (d / TFLITE_NAME).write_bytes(b"\x00" * 8 + (d / TFLITE_NAME).read_bytes()[8:]),
    "wrong sha": lambda d: (d / CARD_NAME).write_text(
        (d / CARD_NAME).read_text().replace(_card(d)["tflite_sha256"], "0" * 64)),
    "card not an object": lambda d: (d / CARD_NAME).write_text("[1, 2]"),
    "preprocessing null": lambda d: (d / CARD_NAME).write_text(json.dumps({**_card(d), "preprocessing": None})),
    "window 0": lambda d: (d / CARD_NAME).write_text(json.dumps({**_card(d), "window": 0})),
}
COMMANDS = {
    "parity": lambda d, rec: ["parity", str(d), "--max-windows", "2"],
    "replay": lambda d, rec: ["replay", "--model", str(d), "--recording", str(rec)],
    "sim": lambda d, rec: ["sim", "--model", str(d), "--recording", str(rec)],
    "hil": lambda d, rec: ["hil", "--port", "loop://", "--model", str(d), "--recording", str(rec)],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_every_model_command_refuses_a_damaged_folder(model_copy, tmp_path, command, corruption):
    rec = tmp_path / "r.npz"
    np.savez(rec, X=np.zeros((300, 3)))
    CORRUPTIONS[corruption](model_copy)
    proc = subprocess.run([sys.executable, "-m", "imuad.cli", *COMMANDS[command](model_copy, rec)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "imuad: error:" in proc.stderr
    assert str(model_copy) in proc.stderr
