"""One source of truth per firmware rule: the models module (cmake/models.cmake), the op table
(imuad/op_table.def), the build table (imuad.build) and the fixture models written by the exporter."""
from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from imuad.build import TARGETS
from imuad.build.presets import PRESETS, render
from imuad.deploy.tflm_ops import OP_TABLE, op_table
from imuad.paths import REPO_ROOT, vendor_dir

MODELS_CMAKE = REPO_ROOT / "cmake/models.cmake"
FIXTURES = REPO_ROOT / "tests/firmware/fixtures/models"


def select(*defs: str, root: Path = REPO_ROOT) -> tuple[list[str], list[str]]:
    """(model dir names, ops) as cmake/models.cmake selects them, in script mode."""
    proc = subprocess.run(["cmake", *(f"-D{d}" for d in defs), "-P", str(root / "cmake/models.cmake")],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(" ".join(proc.stderr.split()))  # CMake wraps its messages
    dirs = re.search(r"^models: (.*)$", proc.stderr, re.M).group(1)
    ops = re.search(r"^ops: (.*)$", proc.stderr, re.M).group(1)
    return [Path(d).name for d in dirs.split(";") if d], [o for o in ops.split(";") if o]


def default_model() -> str:
    return next(p.parent.name for p in sorted(REPO_ROOT.glob("models/*/model_card.json"))
                if json.loads(p.read_text()).get("default"))


# ---------------------------------------------------------------- models module
def test_default_card_first_and_fixtures_only_when_asked():
    names, ops = select()
    assert names[0] == default_model() == "synth"
    assert sorted(names) == sorted(p.parent.name for p in REPO_ROOT.glob("models/*/model_card.json"))
    assert not any(n.startswith("fixture") for n in names)
    cards = [json.loads((REPO_ROOT / "models" / n / "model_card.json").read_text()) for n in names]
    assert ops == sorted({op for c in cards for op in c["ops"]})
    with_fixtures, _ = select("FIXTURES=ON")
    assert with_fixtures == names + sorted(p.name for p in FIXTURES.iterdir())
    # an explicit list keeps its order, behind the default card
    assert select("MODELS=ucifan;cnc;synth")[0] == ["synth", "ucifan", "cnc"]
    assert select("OPS=all")[1] == sorted(op_table())


def test_esp_idf_components_agree_on_the_image_ops():
    """esp-tflite-micro compiles the kernels and imuad_core's compiled_ops.h names the ops that
    exist, from one function: every op on a chip (uploads need them; the CI link failure was the
    two disagreeing), the cards' ops plus the fixtures on linux."""
    names, _ = select()
    assert select("IDF_TARGET=esp32") == (names, sorted(op_table()))
    assert select("IDF_TARGET=linux") == select("FIXTURES=ON")
    assert select("IDF_TARGET=esp32", "CONFIG_IMUAD_MODELS=cnc")[0] == ["cnc"]
    for component in ("device/components/esp-tflite-micro", "device/components/imuad_core", "device/main"):
        text = (REPO_ROOT / component / "CMakeLists.txt").read_text()
        assert "imuad_idf_image(" in text and "imuad_select_models(" not in text, component


def test_every_firmware_build_uses_the_one_models_module():
    """The ESP-IDF app and its linux TFLM, the plain CMake boards and the MicroPython target all
    select models through cmake/models.cmake; nothing else globs models/ or sorts cards."""
    users = {p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.rglob("*")
             if p.is_file() and p.suffix in (".cmake", ".txt", ".py") and "build" not in p.parts
             and ".venv" not in p.parts and re.search(r"imuad_select_models|imuad_idf_image|cmake/models\.cmake", p.read_text(errors="ignore"))}
    for must in ("device/main/CMakeLists.txt", "device/components/esp-tflite-micro/CMakeLists.txt",
                 "cmake/firmware.cmake", "host/imuad/targets/micropython.py"):
        assert must in users, must
    glob = re.compile(r"GLOB.*models/\*")
    globbers = [p for p in [*REPO_ROOT.rglob("*.cmake"), *REPO_ROOT.rglob("CMakeLists.txt")]
                if "build" not in p.relative_to(REPO_ROOT).parts and p != MODELS_CMAKE and glob.search(p.read_text())]
    assert not globbers, globbers


def _scratch_repo(tmp_path: Path) -> Path:
    """cmake/ and the op table in a scratch tree with its own models/."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "cmake", root / "cmake")
    (root / OP_TABLE.relative_to(REPO_ROOT)).parent.mkdir(parents=True)
    shutil.copy(OP_TABLE, root / OP_TABLE.relative_to(REPO_ROOT))
    for name in ("synth", "cnc"):
        shutil.copytree(REPO_ROOT / "models" / name, root / "models" / name)
    return root


def test_a_card_without_ops_or_with_an_unknown_op_fails_configure(tmp_path):
    root = _scratch_repo(tmp_path)
    card_path = root / "models/cnc/model_card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({k: v for k, v in card.items() if k != "ops"}))
    with pytest.raises(RuntimeError, match=r"cnc/model_card.json has no `ops` list"):
        select(root=root)
    card_path.write_text(json.dumps({**card, "ops": card["ops"] + ["GELU"]}))
    with pytest.raises(RuntimeError, match=r"uses TFLite op 'GELU', which is not in the op table"):
        select(root=root)
    card_path.write_text(json.dumps(card))
    with pytest.raises(RuntimeError, match=r"uses TFLite op '\w+', which this build's op list .* leaves out"):
        select("OPS=CONV_2D;MEAN", root=root)
    (root / "models/cnc/model_config.h").unlink()
    with pytest.raises(RuntimeError, match=r"models/cnc has no model_config.h"):
        select(root=root)


def test_adding_an_op_is_one_line_of_the_op_table(tmp_path):
    """A model with an op the table lacks (RSQRT, from a LayerNormalization) fails the configure;
    one IMUAD_OP line makes every build compile its kernel and the exporter accept it."""
    root = _scratch_repo(tmp_path)
    card_path = root / "models/cnc/model_card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "ops": card["ops"] + ["RSQRT"]}))
    with pytest.raises(RuntimeError, match=r"uses TFLite op 'RSQRT', which is not in the op table"):
        select(root=root)
    table = root / OP_TABLE.relative_to(REPO_ROOT)
    table.write_text(table.read_text() + "IMUAD_OP(RSQRT, AddRsqrt, elementwise.cc)\n")
    assert "RSQRT" in select(root=root)[1]
    from imuad.deploy.tflm_ops import parse_op_table
    assert parse_op_table(table.read_text())["RSQRT"] == ("AddRsqrt", ("elementwise.cc",))


def test_fixture_models_are_export_output(tmp_path):
    """tests/firmware/fixtures/models/* are byte for byte what imuad export's code writes."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_fixture_models",
                                                  REPO_ROOT / "tests/firmware/fixtures/make_fixture_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    written = mod.rewrite(out=tmp_path)
    assert {p.parent.name for p in written} == {p.name for p in FIXTURES.iterdir()}
    for p in written:
        assert filecmp.cmp(p, FIXTURES / p.parent.name / p.name, shallow=False), f"{p.name} of {p.parent.name} differs"


# ---------------------------------------------------------------- op table
def test_op_table_methods_and_kernel_files_exist_in_tflm():
    tflm = vendor_dir() / "esp-tflite-micro/tensorflow/lite/micro"
    if not tflm.is_dir():
        pytest.skip("vendored esp-tflite-micro missing")
    resolver = (tflm / "micro_mutable_op_resolver.h").read_text()
    for name, (method, files) in op_table().items():
        assert re.search(rf"TfLiteStatus {method}\(", resolver), (name, method)
        assert re.search(rf"BuiltinOperator_{name}\b", resolver), name
        for f in files:
            assert (tflm / "kernels" / f).is_file(), (name, f)


def files_matching(pattern: str, suffixes: tuple[str, ...], skip=lambda rel: False) -> list[str]:
    """Repo files (not build output, the venv or committed models) whose text matches pattern."""
    rx = re.compile(pattern)
    hits = []
    for p in REPO_ROOT.rglob("*"):
        rel = p.relative_to(REPO_ROOT)
        if p.is_file() and p.suffix in suffixes and rel.parts[0] not in ("build", ".venv", "runs", "models") \
                and rel != Path(__file__).relative_to(REPO_ROOT) and not skip(rel) \
                and rx.search(p.read_text(errors="ignore")):
            hits.append(rel.as_posix())
    return hits


def test_no_other_op_list():
    """The op table is the only place that maps ops to resolver methods or kernel files."""
    assert files_matching(r"AddConv2D|AddFullyConnected|conv_common\.cc",
                          (".py", ".cmake", ".txt", ".cc", ".cpp", ".c", ".h", ".mk", ".json", ".def"),
                          lambda rel: "fixtures" in rel.parts or rel.name == "op_table.def") == []


# ---------------------------------------------------------------- build table
def test_cmake_presets_are_the_build_table():
    assert PRESETS.read_text() == render(), "CMakePresets.json is stale: imuad build --write-presets"
    presets = json.loads(PRESETS.read_text())["configurePresets"]
    assert [p["name"] for p in presets] == [n for n, t in TARGETS.items() if t.driver == "cmake"]
    for p in presets:
        row = TARGETS[p["name"]]
        assert p["binaryDir"] == "${sourceDir}/build/" + row.name
        assert p["cacheVariables"].get("IMUAD_KERNELS") == row.kernels
        assert p["cacheVariables"]["IMUAD_BOARD"] == row.board


def test_one_spelling_per_target():
    """Old names of the same builds are gone from code, build files and docs."""
    assert files_matching(r"qemu-cortex-m4|cmsisnn|--kernels|cmsis-nn|host_fw|ble_host/|idf-linux|idf_env\.sh",
                          (".py", ".cmake", ".txt", ".md", ".sh", ".json", ".c", ".cc", ".h")) == []


def test_imuad_build_lists_the_table(capsys):
    from imuad.cli import main
    assert main(["build", "--list"]) == 0
    out = capsys.readouterr().out
    for name, row in TARGETS.items():
        assert re.search(rf"^{re.escape(name)} +{row.driver}", out, re.M), name
