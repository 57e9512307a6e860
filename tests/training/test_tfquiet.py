"""imuad.tfquiet: TensorFlow's import-time C++ log lines stay off stderr, failures keep theirs."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _noisy_module(tmp_path: Path, fail: bool) -> None:
    # Writes to fd 2 from "C" (os.write) the way TF's absl logging does at import.
    (tmp_path / "noisy_mod.py").write_text(textwrap.dedent(f"""
        import os
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers\\n")
        if {fail}:
            raise ImportError("noisy_mod is broken")
        VALUE = 42
    """))


def test_import_noise_is_swallowed(tmp_path: Path):
    _noisy_module(tmp_path, fail=False)
    r = _run("""
        import sys
        from imuad import tfquiet
        tfquiet.install("noisy_mod")
        import noisy_mod
        print("value", noisy_mod.VALUE)
        print("stderr still works", file=sys.stderr)
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "value 42" in r.stdout
    assert "cuda" not in r.stderr
    assert "stderr still works" in r.stderr


def test_failed_import_shows_what_it_printed(tmp_path: Path):
    _noisy_module(tmp_path, fail=True)
    r = _run("""
        from imuad import tfquiet
        tfquiet.install("noisy_mod")
        import noisy_mod
    """, tmp_path)
    assert r.returncode != 0
    assert "Could not find cuda drivers" in r.stderr
    assert "noisy_mod is broken" in r.stderr


def test_cli_imports_tensorflow_quietly(tmp_path: Path):
    r = _run("""
        import imuad.cli  # installs the hook
        import tensorflow
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "absl::InitializeLog" not in r.stderr and "cudart_stub" not in r.stderr, r.stderr
