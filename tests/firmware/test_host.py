"""What only the host target has: the process itself (models listed, pty transport, a dead or
silent binary caught fast) and `imuad replay` on its production firmware."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from imuad.build import artefact
from imuad.errors import ImuadError
from imuad.targets import ReplaySession, get_target
from imuad.targets.host import HostTarget


def _list(role: str) -> str:
    return subprocess.run([str(artefact("host", role)), "--list-models"], stdout=subprocess.PIPE, text=True,
                          check=True, timeout=30).stdout


def test_fixture_models_only_in_the_test_firmware():
    prod, test = _list("firmware"), _list("test-firmware")
    assert prod.splitlines()[0].startswith("synth window=128")  # the default card first
    assert "fixture" not in prod
    assert test.startswith(prod) and "fixture_cnn window=32 hop=16 channels=3" in test


def test_session_over_a_pty():
    counts = np.random.default_rng(1).integers(-3000, 3000, (32 + 16 * 99, 3)).astype(np.int16)
    with ReplaySession.open(get_target("host", pty=True, test_models=True)) as s:
        res = s.replay(counts, model="fixture_cnn", chunk=37)
    assert [w.window for w in res.windows] == list(range(100))
    assert res.device_info.target == "host" and res.device_info.model_name == "fixture_cnn"
    assert res.stats.windows == 100 and res.stats.dropped == 0


def test_dead_firmware_fails_fast(tmp_path):
    fake = tmp_path / "dead.sh"
    fake.write_text("#!/bin/sh\necho 'boom' >&2\nexit 3\n")
    fake.chmod(0o755)
    with ReplaySession(HostTarget(binary=fake).open(), "dead", hello_timeout=5) as s:
        with pytest.raises(ImuadError, match="closed the line|no answer|exit code 3"):
            s.replay(np.zeros((10, 3), np.int16))


def test_silent_firmware_times_out_with_message(tmp_path):
    fake = tmp_path / "silent.sh"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    with ReplaySession(HostTarget(binary=fake).open(), "silent", hello_timeout=2, idle_timeout=2) as s:
        with pytest.raises(ImuadError, match="no answer within 2 s|timed out"):
            s.replay(np.zeros((10, 3), np.int16))


def test_replay_command_prints_events_and_summary(tmp_path, capsys):
    """`imuad replay` on a CSV recording through the production firmware's default model."""
    from imuad.cli import main
    rng = np.random.default_rng(5)
    x = rng.normal(0, 800, (128 + 64 * 199, 3))
    x[4000:7000] *= 12  # a loud stretch -> onset then clear
    lines = ["ax,ay,az"] + [",".join(str(int(v)) for v in row) for row in np.round(x)]
    csv = tmp_path / "rec.csv"
    csv.write_text("\n".join(lines) + "\n")
    rc = main(["replay", "--target", "host", "--model", "models/synth", "--recording", str(csv)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "200 windows" in out and "frames dropped by firmware 0" in out
    assert "ONSET" in out
