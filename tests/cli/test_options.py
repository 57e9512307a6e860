"""Every number a user types is range-checked before any work, with the option named; a failed
command leaves nothing behind that looks like a result (issue: hardening, classes C and E)."""
from __future__ import annotations

import numpy as np
import pytest

from imuad.cli import main
from imuad.data.recording import load_recording
from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT


@pytest.fixture()
def rec(tmp_path):
    path = tmp_path / "r.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.normal(0, 100, (4000, 3)).round(), y=(np.arange(4000) // 500 % 2).astype(np.int8), fs=1000.0)
    return path


@pytest.mark.parametrize("argv, option", [
    (["--epochs", "-1"], "--epochs"), (["--epochs", "0"], "--epochs"), (["--batch-size", "0"], "--batch-size"),
    (["--counts-per-unit", "0"], "--counts-per-unit"), (["--counts-per-unit", "nan"], "--counts-per-unit"),
    (["--counts-per-unit", "-3"], "--counts-per-unit"), (["--seed", "-1"], "--seed"), (["--window", "0"], "--window"),
    (["--window", "70000"], "--window"), (["--hop", "-2"], "--hop"), (["--fractions", "1,nan,1"], "--fractions"),
    (["--fractions", "0,0,0"], "--fractions"), (["--patience", "-1"], "--patience"),
])
def test_nonsense_training_options_are_refused_before_any_work(rec, tmp_path, capsys, argv, option):
    out = tmp_path / "run"
    assert main(["train", "--data", str(rec), "--out", str(out), *argv]) == 2
    assert f"argument {option}" in capsys.readouterr().err
    assert not out.exists()


def test_a_failed_train_leaves_no_run_folder(tmp_path, capsys):
    unlabelled = tmp_path / "u.npz"
    np.savez(unlabelled, X=np.zeros((3000, 3)))
    out = tmp_path / "run"
    assert main(["train", "--data", str(unlabelled), "--out", str(out), "--epochs", "1"]) == 2
    assert "no labels" in capsys.readouterr().err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]


def test_an_existing_run_is_not_overwritten_without_force(rec, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text("{}")
    assert main(["train", "--data", str(rec), "--out", str(out), "--epochs", "1"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "run.json").read_text() == "{}"


def test_complex_recording_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, X=np.ones((100, 3), np.complex64) * (1 + 2j))
    with pytest.raises(ImuadError, match="complex"):
        load_recording(path)


@pytest.mark.parametrize("faults, message", [("outer@20-3000", "ends after the recording"),
                                             ("outer@10-5", "start < stop"), ("outer@5-10:nan", "severity")])
def test_synth_fault_schedule_must_fit_the_recording(tmp_path, capsys, faults, message):
    out = tmp_path / "s.npz"
    assert main(["synth", "--duration", "120", "--faults", faults, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("argv, option", [
    (["--threshold", "99999999999"], "--threshold"), (["--chunk", "-3"], "--chunk"), (["--chunk", "0"], "--chunk"),
])
def test_replay_options_are_range_checked(rec, capsys, argv, option):
    model = REPO_ROOT / "models" / "synth"
    assert main(["replay", "--model", str(model), "--recording", str(rec), *argv]) == 2
    assert f"argument {option}" in capsys.readouterr().err
