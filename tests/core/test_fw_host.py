"""imuad-fw-host as a process: pipe and pty transports, garbage never kills it, counts reported."""
from __future__ import annotations

import random
import subprocess

import numpy as np
import pytest

from imuad import protocol as P
from imuad.targets import ReplaySession, get_target


def test_list_models(host_build):
    out = subprocess.run([str(host_build / "host_fw/imuad-fw-host"), "--list-models"], stdout=subprocess.PIPE,
                         text=True, check=True, timeout=30).stdout
    assert "fixture_cnn window=32 hop=16 channels=3" in out


@pytest.mark.parametrize("pty", [False, True], ids=["pipe", "pty"])
def test_session_over_transport(host_build, pty):
    counts = np.random.default_rng(1).integers(-3000, 3000, (32 + 16 * 99, 3)).astype(np.int16)
    with ReplaySession.open(get_target("host", pty=pty)) as s:
        res = s.replay(counts, model="fixture_cnn", chunk=37)
    assert [w.window for w in res.windows] == list(range(100))
    assert res.device_info.target == "host" and res.device_info.model_name == "fixture_cnn"
    assert res.stats is not None and res.stats.windows == 100 and res.stats.dropped == 0


def test_unknown_model_fails_fast_with_message(host_build):
    from imuad.errors import ImuadError
    with ReplaySession.open(get_target("host")) as s:
        with pytest.raises(ImuadError, match="unknown model 'nope'"):
            s.replay(np.zeros((10, 3), np.int16), model="nope")


def test_dead_firmware_fails_fast(tmp_path):
    from imuad.errors import ImuadError
    from imuad.targets.host import HostTarget
    fake = tmp_path / "dead.sh"
    fake.write_text("#!/bin/sh\necho 'boom' >&2\nexit 3\n")
    fake.chmod(0o755)
    with ReplaySession(HostTarget(binary=fake).open(), "dead", hello_timeout=5) as s:
        with pytest.raises(ImuadError, match="closed the line|no answer|exit code 3"):
            s.replay(np.zeros((10, 3), np.int16))


def test_random_and_mutated_frames_never_kill_it(host_build):
    """20 000 frames of garbage through the real process; then a normal replay still works."""
    rng = random.Random(2)
    chunks = []
    for i in range(20000):
        kind = rng.randrange(4)
        if kind == 0:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
            chunks.append(P.encode_raw(rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15]), body))
        elif kind == 1:
            f = bytearray(P.encode_frame(P.Samples(i, np.full((rng.randrange(20), 3), i % 300, np.int16))))
            f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
            chunks.append(bytes(f))
        elif kind == 2:
            chunks.append(bytes(rng.randrange(256) for _ in range(rng.randrange(30))))
        else:
            chunks.append(P.encode_frame(P.Hello(rng.choice(["", "fixture_cnn", "fixture_ae", "x"]))))
    with ReplaySession.open(get_target("host")) as s:
        s.transport.write(b"".join(chunks) + b"\0")
        stats = s.stats()
        assert stats.frames_ok > 5000 and stats.dropped > 1000
        print(f"fw-host garbage: frames_ok={stats.frames_ok} dropped={stats.dropped} "
              f"unknown_type={stats.unknown_type} bad_length={stats.bad_length}")
        res = s.replay(np.zeros((48, 3), np.int16), model="fixture_cnn")
        assert len(res.windows) == 2


def test_replay_command_prints_events_and_summary(host_build, tmp_path, capsys):
    """`imuad replay` on a CSV recording: events as they happen, then the summary line."""
    from imuad.cli import main
    rng = np.random.default_rng(5)
    x = rng.normal(0, 800, (32 + 16 * 199, 3))
    x[1600:2400] *= 6  # a loud stretch -> onset then clear
    lines = ["ax,ay,az"] + [",".join(str(int(v)) for v in row) for row in np.round(x)]
    csv = tmp_path / "rec.csv"
    csv.write_text("\n".join(lines) + "\n")
    rc = main(["replay", "--target", "host", "--model", "tests/core/fixtures/models/fixture_cnn",
               "--recording", str(csv)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "200 windows" in out and "frames dropped by firmware 0" in out
    assert "ONSET" in out


def test_silent_firmware_times_out_with_message(tmp_path):
    from imuad.errors import ImuadError
    from imuad.targets.host import HostTarget
    fake = tmp_path / "silent.sh"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    with ReplaySession(HostTarget(binary=fake).open(), "silent", hello_timeout=2, idle_timeout=2) as s:
        with pytest.raises(ImuadError, match="no answer within 2 s|timed out"):
            s.replay(np.zeros((10, 3), np.int16))
