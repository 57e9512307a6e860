"""A plain `pip install .` (a wheel, not editable) gives a working imuad outside the checkout.

The wheel is built from a copy of the checkout's tracked files (what a fresh clone has), then
installed with its base dependencies and the `dashboard` extra into a fresh venv in a temporary
folder, and the installed `imuad` is run from there with nothing of the checkout on sys.path.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(600)


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: cannot tell which files a clean checkout has")
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Build the wheel from a clean copy, install it into a fresh venv; the runner's env."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Nothing of the checkout may leak in: with PYTHONPATH=host (conftest), an editable
    # install's host/imuad.egg-info would tell pip that imuad is already installed.
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP") and not k.startswith("IMUAD_")}
    src = tmp / "src"
    for rel in _tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes((ROOT / rel).read_bytes())
    t0 = time.monotonic()
    # pip's own environment (the project venv); build isolation fetches setuptools (pip's cache)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
          "-w", str(tmp / "dist"), str(src)], cwd=tmp, env=clean)
    wheel = next((tmp / "dist").glob("imuad-*.whl"))
    t_build = time.monotonic() - t0

    venv = tmp / "venv"
    base = getattr(sys, "_base_executable", sys.executable)  # the interpreter under the project venv
    _run([base, "-m", "venv", "--without-pip", str(venv)], cwd=tmp, env=clean)
    # pip from the project venv installs into the fresh one (--python): no ensurepip, quicker
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
          "--disable-pip-version-check", "-q", f"{wheel}[dashboard]"], cwd=tmp, env=clean)
    t_install = time.monotonic() - t0 - t_build

    work = tmp / "work"   # outside the checkout; nothing of it on sys.path
    work.mkdir()
    env = dict(clean)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    print(f"wheel build {t_build:.1f} s, venv + install {t_install:.1f} s")
    return {"wheel": wheel, "venv": venv, "work": work, "env": env, "src": src}


@pytest.mark.slow
def test_wheel_holds_every_runtime_file(installed):
    """Every non-Python file of the package in the checkout is in the wheel (READMEs aside)."""
    pkg = installed["src"] / "host" / "imuad"
    want = {f"imuad/{p.relative_to(pkg).as_posix()}" for p in pkg.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and p.name != "README.md"
            and "__pycache__" not in p.parts}
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    assert want and want <= names, f"missing from the wheel: {sorted(want - names)}"
    assert {"imuad/dashboard/templates/base.html", "imuad/dashboard/static/dashboard.js"} <= names


@pytest.mark.slow
def test_installed_imuad_is_the_wheel(installed):
    r = _run(["python", "-c", "import imuad, imuad.paths as p; print(imuad.__file__); print(p.CHECKOUT); "
              "print(p.resource('dashboard', 'templates', 'base.html'))"],
             cwd=installed["work"], env=installed["env"])
    mod, checkout, res = r.stdout.split("\n")[:3]
    site = installed["venv"] / "lib"
    assert Path(mod).is_relative_to(site) and not Path(mod).is_relative_to(ROOT), mod
    assert checkout == "None"
    assert Path(res).is_relative_to(site) and Path(res).is_file()


@pytest.mark.slow
def test_cli_from_the_wheel(installed):
    work, env = installed["work"], installed["env"]
    imuad = str(installed["venv"] / "bin" / "imuad")

    r = _run([imuad, "--help"], cwd=work, env=env)
    assert r.stdout.startswith("usage: imuad")
    for cmd in ("synth", "data", "flash", "dashboard", "gateway"):
        assert re.search(rf"^    {cmd}\b", r.stdout, re.M), cmd

    r = _run([imuad, "synth", "--out", "rec.npz", "--duration", "5", "--seed", "1"], cwd=work, env=env)
    assert (work / "rec.npz").stat().st_size > 10_000

    r = _run([imuad, "data", "info", "rec.npz"], cwd=work, env=env)
    assert "samples:     10000 x 3 channels" in r.stdout, r.stdout
    assert "rate:        2000 Hz (5.00 s)" in r.stdout

    r = _run([imuad, "dashboard", "--help"], cwd=work, env=env)
    assert "--store" in r.stdout and "--token" in r.stdout

    # a checkout-only feature says what is missing
    r = subprocess.run([imuad, "bench", "list"], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "imuad bench needs the imuad source checkout" in r.stderr and "installed from a wheel" in r.stderr


@pytest.mark.slow
def test_dashboard_serves_templates_and_static_files(installed):
    """The templates and static files are found in the installed package, not the checkout."""
    work, env = installed["work"], installed["env"]
    _run(["python", "-c", "from imuad.gateway.store import Store; Store('gw.db').close()"], cwd=work, env=env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(installed["venv"] / "bin" / "imuad"), "dashboard", "--store", "gw.db",
                             "--token", "wheel-test-token", "--port", str(port)],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "dashboard did not start"
                time.sleep(0.2)
        login = urllib.request.urlopen(f"{base}/login", timeout=10).read().decode()
        assert "<form" in login and "</html>" in login
        css = urllib.request.urlopen(f"{base}/static/dashboard.css", timeout=10)
        assert css.status == 200 and len(css.read()) > 1000
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_paths_in_the_checkout_and_without_it(monkeypatch):
    """Quick (no wheel): the checkout is found here; without one the errors say what is missing."""
    from imuad import paths
    from imuad.errors import ImuadError
    assert paths.CHECKOUT == ROOT and paths.checkout_dir("x") == ROOT and paths.work_dir() == ROOT
    assert paths.resource("dashboard", "templates").is_dir()
    with pytest.raises(ImuadError, match=r"package file imuad/dashboard/nope\.html is missing .*package-data"):
        paths.resource("dashboard", "nope.html")
    monkeypatch.setattr(paths, "CHECKOUT", None)
    monkeypatch.delenv("IMUAD_BUILD_DIR", raising=False)
    monkeypatch.chdir(ROOT.parent)
    assert paths.work_dir() == ROOT.parent and paths.build_dir() == (ROOT.parent / "build").resolve()
    with pytest.raises(ImuadError, match="building X needs the imuad source checkout.*installed from a wheel"):
        paths.checkout_dir("building X")
