"""HIL runner (imuad hil) on every target: bit-exact run, wrong model hash, dead device, noise."""
from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from imuad.errors import ImuadError
from imuad.targets.base import Transport
from imuad.targets.device_cmd import run_hil
from imuad.targets.replay_cmd import load_card, recording_segments

pytestmark = pytest.mark.timeout(900)  # first use of a target may build it (qemu: TFLM for Cortex-M)


def _hil(device, transport, model_dir: Path, recording: Path, timeout: float = 10.0, split=None):
    _, card = load_card(str(model_dir))
    segs = recording_segments(str(recording), card, split)
    return run_hil(transport, model_dir, card, segs, port=device.name, recording=str(recording), split=split,
                   timeout=timeout, hello_timeout=device.hello_timeout, max_inflight_chunks=device.max_inflight)


class StallingTransport(Transport):
    """Delivers the first `budget` bytes from the device, then nothing: a device that hangs."""

    def __init__(self, inner: Transport, budget: int) -> None:
        self.inner, self.budget = inner, budget

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        if self.budget <= 0:
            time.sleep(timeout)
            return b""
        data = self.inner.read(timeout)[: self.budget]
        self.budget -= len(data)
        return data

    def close(self) -> None:
        self.inner.close()


class NoisyTransport(Transport):
    """Injects garbage between frames in both directions (a noisy line, boot text, glitches)."""

    def __init__(self, inner: Transport, seed: int = 7, every: int = 3) -> None:
        self.inner, self.rng, self.every, self.n = inner, random.Random(seed), every, 0
        self.injected_rx = self.injected_tx = 0

    def _garbage(self) -> bytes:
        kind = self.rng.randrange(3)
        if kind == 0:   # printable text, like a stray log line
            return b"E (1234) noise: glitch \xff\r\n"
        if kind == 1:   # random bytes
            return bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randrange(1, 40)))
        return b"\x07\x01\x02\x03\x04"  # valid-looking COBS, bad CRC

    def write(self, data: bytes) -> None:
        self.n += 1
        if self.n % self.every == 0:
            self.inner.write(self._garbage() + b"\0")  # ends with a delimiter: next frame intact
            self.injected_tx += 1
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if not data or self.rng.randrange(self.every) != 0:
            return data
        cut = data.rfind(b"\0")  # only at a frame boundary
        if cut < 0:
            return data
        self.injected_rx += 1
        return data[:cut + 1] + self._garbage() + b"\0" + data[cut + 1:]

    def close(self) -> None:
        self.inner.close()


def test_hil_bit_exact(device, recording, artifacts_dir):
    rep = _hil(device, device.open(), device.model_dir, recording)
    out = artifacts_dir / "hil" / f"test-{device.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rep.to_json(), indent=1))
    print(rep.summary())
    assert rep.windows > 100
    assert rep.bit_exact == rep.windows, rep.first_mismatch
    assert rep.score_mismatch == 0 and rep.state_mismatch == 0
    assert rep.events_equal and rep.events_reference > 0, (rep.events_device, rep.events_reference)
    assert rep.device["target"] == {"host": "host", "idflinux": "idflinux", "qemu": "qemu", "esp32": "esp32"}.get(
        device.name, rep.device["target"])
    assert len(rep.infer_us) == rep.windows and all(us >= 0 for us in rep.infer_us)


def test_hil_split_blocks(device, recording):
    """--split test: each time block is its own stream (HELLO resets), still bit-exact."""
    rep = _hil(device, device.open(), device.model_dir, recording, split="test")
    assert len(rep.segments) >= 1 and rep.windows > 0
    assert rep.ok, rep.first_mismatch


def test_hil_wrong_model_hash_fails_fast(device, recording, tmp_path):
    bad = tmp_path / device.model_dir.name
    shutil.copytree(device.model_dir, bad)
    card = json.loads((bad / "model_card.json").read_text())
    card["tflite_sha256"] = "00" * 32
    (bad / "model_card.json").write_text(json.dumps(card))
    t0 = time.monotonic()
    with pytest.raises(ImuadError, match="sha256"):
        _hil(device, device.open(), bad, recording)
    assert time.monotonic() - t0 < device.hello_timeout + 5


def test_hil_device_stops_answering(device, recording):
    t0 = time.monotonic()
    with pytest.raises(ImuadError, match="no answer within|timed out"):
        _hil(device, StallingTransport(device.open(), budget=3000), device.model_dir, recording, timeout=2.0)
    assert time.monotonic() - t0 < 30  # fails fast, no hang


def test_hil_line_noise_is_dropped(device, recording):
    noisy = NoisyTransport(device.open())
    rep = _hil(device, noisy, device.model_dir, recording)
    assert noisy.injected_tx > 0 and noisy.injected_rx > 0
    assert rep.ok, rep.first_mismatch
    assert rep.host_counters["cobs_error"] + rep.host_counters["crc_error"] > 0
    dev_drops = sum(rep.device_stats.get(k, 0) for k in ("cobs_error", "too_short", "crc_error", "bad_version"))
    assert dev_drops > 0, rep.device_stats


def test_hil_counts_match_reference_on_different_seed(device, tmp_path):
    """Pure noise (no structure): another input distribution, still bit-exact."""
    rng = np.random.default_rng(99)
    path = tmp_path / "noise.npz"
    np.savez(path, X=rng.integers(-20000, 20000, size=(900, 3), dtype=np.int16))
    rep = _hil(device, device.open(), device.model_dir, path)
    assert rep.ok and rep.windows > 0, rep.first_mismatch
