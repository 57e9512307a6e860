"""The ESP32 image (`imuad build esp32`): compiled for the chip the product is for, valid images,
the app within its partition, the committed models in it with the default first, and the size
table kept as a CI artefact. Nothing here runs it: no ESP32 or radio on CI machines."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from imuad.build import artefact, missing_tools
from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT

pytestmark = pytest.mark.timeout(2400)  # the first use builds it: toolchain, ESP-IDF, app


@pytest.fixture(scope="module")
def esp32():
    why = missing_tools("esp32")
    if why:
        pytest.skip(f"esp32 build unavailable: {why}")
    try:
        return artefact("esp32", "flash-dir")
    except ImuadError as exc:
        pytest.fail(str(exc))


def test_images_are_valid_esp32_images(esp32):
    for img in (esp32 / "bootloader/bootloader.bin", esp32 / "imuad_device.bin"):
        r = subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32", "image-info", str(img)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r"[Cc]hecksum:.*\(valid\)", r.stdout), r.stdout
    flasher = json.loads((esp32 / "flasher_args.json").read_text())
    assert flasher["extra_esptool_args"]["chip"] == "esp32"
    assert sorted(int(o, 16) for o in flasher["flash_files"]) == [0x1000, 0x8000, 0x10000]


def test_app_fits_its_partition_and_sizes_are_kept(esp32, artifacts_dir):
    parts = {}
    for line in (REPO_ROOT / "device/partitions.csv").read_text().splitlines():
        f = [c.strip() for c in line.split(",")]
        if len(f) >= 5 and not f[0].startswith("#"):
            parts[f[0]] = int(f[4], 0)
    app = (esp32 / "imuad_device.bin").stat().st_size
    assert 100_000 < app < parts["factory"]
    for role in ("size", "size-components"):
        text = artefact("esp32", role, build=False).read_text()
        assert "DRAM" in text or "Flash" in text, text[:500]
        shutil.copy(artefact("esp32", role, build=False), artifacts_dir / f"esp32-{role}.txt")


def test_models_are_in_the_image_default_first(esp32):
    """The registry the image boots with: every committed model, the card marked default first."""
    gen = next((esp32).rglob("compiled_models.cc"))
    order = re.findall(r"&imuad_models::(\w+)::kSpec", gen.read_text())
    cards = {p.parent.name: json.loads(p.read_text()) for p in (REPO_ROOT / "models").glob("*/model_card.json")}
    assert sorted(order) == sorted(cards)
    assert cards[order[0]].get("default") is True
    nm = shutil.which("xtensa-esp32-elf-nm") or next(
        (str(p) for p in (REPO_ROOT / "build").glob("**/xtensa-esp32-elf/bin/xtensa-esp32-elf-nm")), None)
    if nm is None:
        from pathlib import Path
        cache = Path.home() / ".cache/imuad/toolchains/xtensa-esp32-elf/bin/xtensa-esp32-elf-nm"
        nm = str(cache) if cache.exists() else None
    if nm:
        syms = subprocess.run([nm, str(artefact("esp32", "elf", build=False))], capture_output=True, text=True).stdout
        for name in cards:
            assert f"g_{name}_model" in syms


def test_no_stubbed_mbedtls_code_is_reachable(esp32):
    """The mbedtls component is a stub (device/idf_stubs/mbedtls: IDF v6.2's mbedtls is not
    reachable): nothing the firmware keeps may call into it, so the linked app has no psa_* or
    mbedtls_* symbol left after --gc-sections."""
    from imuad.build.drivers import xtensa_toolchain_bin
    nm = xtensa_toolchain_bin() / "xtensa-esp32-elf-nm"
    elf = esp32 / "imuad_device.elf"
    syms = subprocess.run([str(nm), str(elf)], capture_output=True, text=True, timeout=120, check=True).stdout
    names = [line.split()[-1] for line in syms.splitlines() if line.strip()]
    assert len(names) > 1000, f"{elf}: nm listed only {len(names)} symbols"
    leaked = [n for n in names if n.startswith(("psa_", "mbedtls_"))]
    assert not leaked, f"stubbed mbedtls/PSA code reachable from the app: {leaked[:10]}"
