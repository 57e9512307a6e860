"""The firmware on QEMU mps2-an386 (Cortex-M4F), both kernel builds, against the host reference.

Each firmware variant (TFLM reference kernels -> target 'qemu', CMSIS-NN -> 'qemu-nn') is built
once per run (build/<preset>, incremental). For every committed model: a short synthetic
recording with known fault onsets (imuad.data.synth) and a slice of its real recording
(skipped if the shared datasets are absent) go through QEMU; raw int8 outputs must equal the
TFLM Python interpreter bit for bit and the events must equal imuad.reference.Decider's.
Broken firmware (missing model, stack overflow, hang) must fail fast with a message.
Streams are short: QEMU's CMSDK UART moves ~100 KB/s at best (see host/imuad/targets/qemu.py).
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from imuad.errors import ImuadError
from imuad.paths import REPO_ROOT, datasets_dir, models_dir
from imuad.reference import stream_reference

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="qemu-system-arm / arm-none-eabi-gcc not installed")

FIXTURES = REPO_ROOT / "tests/core/fixtures/models"
KERNELS = ("reference", "cmsis_nn")
SYNTH_SECONDS = 4.0          # synthetic stream per model (2 kHz) with the default fault schedule
SLICE_SAMPLES = 4000         # real-recording slice per model


def _model_dirs() -> list[Path]:
    committed = sorted(p.parent for p in models_dir().glob("*/model_config.h") if (p.parent / "model_card.json").exists())
    return committed or sorted(p.parent for p in FIXTURES.glob("*/model_config.h"))


MODELS = _model_dirs()


def _card(d: Path) -> dict:
    return json.loads((d / "model_card.json").read_text())


@pytest.fixture(scope="module", params=KERNELS)
def kernels(request) -> str:
    from imuad.targets.qemu import build_firmware
    build_firmware(request.param, quiet=True)  # once per variant and run
    return request.param


def _target(kernels: str, **kw):
    from imuad.targets.qemu import QemuTarget
    return QemuTarget(kernels=kernels, **kw)


def reference(model_dir: Path, card: dict, counts: np.ndarray):
    """(raw int8 outputs, scores, events) of the TFLM Python interpreter + imuad.reference."""
    ref = stream_reference((model_dir / "model.tflite").read_bytes(), card, counts)
    return ref.outputs, ref.scores, ref.events


def _synthetic(card: dict) -> tuple[np.ndarray, np.ndarray]:
    from imuad.data.synth import default_config, synth_machine
    rec = synth_machine(default_config(duration_s=SYNTH_SECONDS, fs=2000.0, seed=3))
    counts = rec.counts(float(card["dataset"].get("counts_per_unit") or 1.0))
    return counts[:, :len(card["channels"])], rec.y


def _real_slice(card: dict) -> np.ndarray:
    from imuad.data.recording import load_recording
    p = Path(str(card["dataset"].get("path") or ""))
    path = p if p.is_absolute() else REPO_ROOT / p
    if not path.is_file():
        path = datasets_dir() / "smartmanuad" / p.name
    if not p.name or not path.is_file() or "synth" in p.name:
        pytest.skip(f"no real recording for {card['name']} ({path})")
    rec = load_recording(path)
    counts = rec.counts(float(card["dataset"]["counts_per_unit"]))
    # a slice around the first labelled anomaly, so the stream holds both classes
    start = 0
    if rec.y is not None and rec.y.any():
        start = max(0, int(np.argmax(rec.y > 0)) - SLICE_SAMPLES // 2)
    return counts[start:start + SLICE_SAMPLES]


def _check(kernels: str, model_dir: Path, counts: np.ndarray, what: str, rx: str = "uart"):
    from imuad.targets import ReplaySession
    card = _card(model_dir)
    outs, scores, events = reference(model_dir, card, counts)
    with ReplaySession.open(_target(kernels, rx=rx)) as session:
        res = session.replay(counts, model=card["name"])
    got = res.outputs
    assert len(got) == len(outs), f"{what}: {len(got)} windows from QEMU, {len(outs)} expected"
    bad = np.flatnonzero(np.any(got != outs, axis=1))
    assert bad.size == 0, (f"{what}: {bad.size}/{len(outs)} windows differ from TFLM, first {bad[:5].tolist()}, "
                           f"max {int(np.abs(got.astype(int) - outs.astype(int)).max())} LSB")
    np.testing.assert_array_equal(res.scores, scores, err_msg=f"{what}: scores")
    assert res.event_tuples() == events, f"{what}: events {res.event_tuples()} != reference {events}"
    assert not res.errors, f"{what}: firmware errors {res.errors[:3]}"
    assert res.device_info.target == ("qemu-nn" if kernels == "cmsis_nn" else "qemu")
    if card.get("tflite_sha256"):
        assert res.device_info.model_sha256.hex() == card["tflite_sha256"]
    ticks = np.array([w.infer_us for w in res.windows])
    assert ticks.min() > 0 and ticks.max() - ticks.min() <= max(4, ticks.min() // 20), \
        f"{what}: inference cost not stable: {ticks.min()}..{ticks.max()} ticks"
    assert 0 < res.stats.stack_hwm_bytes < 16 * 1024
    return res


@pytest.mark.parametrize("model_dir", MODELS, ids=[d.name for d in MODELS])
def test_synthetic_faults_bit_exact(kernels: str, model_dir: Path):
    from imuad.targets.sim_cmd import onset_latencies
    card = _card(model_dir)
    counts, labels = _synthetic(card)
    res = _check(kernels, model_dir, counts, f"{kernels}/{card['name']}/synthetic")
    lat = onset_latencies(labels, len(res.windows), card["window"], card["hop"], res.event_tuples())
    assert lat, "the synthetic stream has labelled fault onsets"
    print(f"\n{kernels}/{card['name']}: onset latency (windows) "
          f"{[o['latency_windows'] for o in lat]}, instructions/inference "
          f"{int(np.median([w.infer_us for w in res.windows])) * 40}")


@pytest.mark.parametrize("model_dir", MODELS, ids=[d.name for d in MODELS])
def test_real_recording_slice_bit_exact(kernels: str, model_dir: Path):
    card = _card(model_dir)
    _check(kernels, model_dir, _real_slice(card), f"{kernels}/{card['name']}/real")


def test_semihost_rx_bit_exact_and_repeatable(kernels: str):
    """The fast host->device channel (FIFO + semihosting SYS_READ) gives the same outputs, and
    the per-window instruction counts repeat to within the 1-tick (40 instruction) resolution
    (how many bytes one read returns depends on host timing, which shifts the tick phase)."""
    model_dir = MODELS[0]
    counts, _ = _synthetic(_card(model_dir))
    a = _check(kernels, model_dir, counts, f"{kernels}/semihost", rx="semihost")
    b = _check(kernels, model_dir, counts, f"{kernels}/semihost-again", rx="semihost")
    ta = np.array([w.infer_us for w in a.windows], np.int64)
    tb = np.array([w.infer_us for w in b.windows], np.int64)
    assert np.abs(ta - tb).max() <= 1, f"instruction counts differ by {np.abs(ta - tb).max()} ticks between runs"


def test_board_hello_deterministic_and_exit_code(kernels: str):
    """Bare-metal drivers: UART TX/RX, SysTick = 40 instructions/tick exactly, semihosting exit.
    The echo carries 0x00 (the muxed chardev's escape byte, doubled on the wire by the
    transport) and 0x01 (QEMU's default escape): both must arrive as sent, once each."""
    from imuad.targets.qemu import QemuTransport, build_firmware
    elf = build_firmware(kernels, quiet=True) / "sim" / "imuad-qemu-hello.elf"
    t = QemuTransport(elf)
    try:
        buf = b""
        deadline = time.monotonic() + 10
        while b"\n" not in buf and time.monotonic() < deadline:
            buf += t.read(0.5)
        m = re.search(rb"ticks=(\d+) fpu=4 stack_hwm=(\d+)", buf)
        assert m, buf
        assert int(m.group(1)) == 15000  # 100 000 loop iterations x 6 instructions / 40
        line = b"p\x00i\x00\x00\x01n\x01xg\n"  # 0x01 'x' would quit QEMU were 0x01 the escape
        t.write(line)
        echo = buf[buf.index(b"\n") + 1:]
        deadline = time.monotonic() + 10
        while not echo.endswith(b"\n") and time.monotonic() < deadline:
            echo += t.read(0.5)
        assert echo == line
        assert t.exit_code(timeout=10) == 0
    finally:
        t.close()


def test_uart_path_carries_every_byte_value(kernels: str):
    """The muxed UART0 chardev with its doubled escape byte delivers any byte sequence intact:
    every value, runs of 0x00 (the escape), 0x01 followed by 'x' (QEMU's default quit command)."""
    from imuad.targets.qemu import build_firmware, uart_sink
    elf = build_firmware(kernels, quiet=True) / "sim" / "imuad-qemu-uart-sink.elf"
    rng = np.random.default_rng(5)
    data = (bytes(range(256)) + b"\x00" * 40 + b"\x01x\x01c\x00\x00\x01" + b"\x00\x01" * 50
            + rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    uart_sink(elf, data, timeout=30)  # raises unless count and FNV-1a hash match


def test_missing_model_fails_with_message(kernels: str):
    from imuad.targets import ReplaySession
    with ReplaySession.open(_target(kernels, hello_timeout=10)) as session:
        with pytest.raises(ImuadError, match=r"(?i)model"):
            session.replay(np.zeros((256, 3), np.int16), model="no_such_model")


def test_stack_overflow_fails_fast(kernels: str):
    from imuad.targets import ReplaySession
    model = _card(MODELS[0])
    t0 = time.monotonic()
    with ReplaySession.open(_target(kernels, firmware="imuad-fw-qemu-tinystack", hello_timeout=15,
                                    idle_timeout=15)) as session:
        with pytest.raises(ImuadError, match=r"stack overflow"):
            session.replay(np.zeros((model["window"] * 2, len(model["channels"])), np.int16),
                           model=model["name"])
    assert time.monotonic() - t0 < 30


def test_hung_firmware_times_out(kernels: str):
    from imuad.targets import ReplaySession
    model = _card(MODELS[0])
    t0 = time.monotonic()
    with ReplaySession.open(_target(kernels, firmware="imuad-fw-qemu-hang", hello_timeout=10,
                                    idle_timeout=3)) as session:
        with pytest.raises(ImuadError, match=r"no answer|timed out"):
            session.replay(np.zeros((2000, len(model["channels"])), np.int16), model=model["name"])
    assert time.monotonic() - t0 < 30
