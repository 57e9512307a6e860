"""scripts/setup.sh (the README's commands start with it) on a machine short of disk space: one
clear message naming the folder and what it needs, before pip starts, and nothing installed."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from imuad.paths import REPO_ROOT

SETUP = REPO_ROOT / "scripts/setup.sh"


def _fake_df(bin_dir: Path, avail_kb: int, tmp: Path | None = None, tmp_avail_kb: int = 0) -> None:
    """A `df -P[k] DIR` that reports `avail_kb` free for every folder (`tmp_avail_kb` for tmp)."""
    bin_dir.mkdir()
    df = bin_dir / "df"
    df.write_text("#!/bin/sh\n"
                  f"avail={avail_kb}\n"
                  "for last; do :; done\n"
                  f'[ "$last" = "{tmp}" ] && avail={tmp_avail_kb}\n'
                  "echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'\n"
                  "echo \"/dev/fake 100000000 99000000 $avail 99% /fake\"\n")
    df.chmod(0o755)


def _run(tmp_path: Path, avail_kb: int, tmp: Path | None = None, tmp_avail_kb: int = 0,
         **env: str) -> subprocess.CompletedProcess:
    _fake_df(tmp_path / "bin", avail_kb, tmp, tmp_avail_kb)
    return subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
                               "IMUAD_VENV": str(tmp_path / "venv"), **env})


@pytest.mark.skipif(not Path("/usr/bin/dpkg-query").exists(), reason="setup.sh is for Debian/Ubuntu")
def test_setup_refuses_to_start_without_the_disk_space_it_needs(tmp_path):
    r = _run(tmp_path, 300 * 1024)  # 300 MB
    assert r.returncode == 1
    assert f"only 300 MB free for {tmp_path / 'venv'} (/fake); installing needs about 4 GB there" in r.stderr
    assert "IMUAD_SKIP_SPACE_CHECK=1" in r.stderr
    assert "pip install" not in r.stdout
    assert not (tmp_path / "venv" / "bin").exists()  # nothing was installed


@pytest.mark.skipif(not Path("/usr/bin/dpkg-query").exists(), reason="setup.sh is for Debian/Ubuntu")
def test_setup_checks_pips_temporary_folder_too(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = _run(tmp_path, 10 * 1024 * 1024, tmp, 500 * 1024, TMPDIR=str(tmp))  # 10 GB, TMPDIR 500 MB
    assert r.returncode == 1
    assert f"only 500 MB free for {tmp} (/fake); installing needs about 1 GB there" in r.stderr
    assert not (tmp_path / "venv" / "bin").exists()
