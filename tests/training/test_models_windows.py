"""Every architecture builds for every window the CLI accepts (>= 1), or refuses it up front
with the smallest valid window in the message (the issue: cnn died at window 4 with a raw
Keras traceback, the transformer refused patch 8 without saying what would work)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from imuad.errors import ImuadError
from imuad.training.zoo import ARCHITECTURES, build_model, check_window

WINDOWS = (1, 2, 3, 4, 5, 6, 8, 12, 16, 17, 24, 33, 64, 128)


def _builds(arch: str, window: int) -> None:
    x = np.random.default_rng(0).normal(size=(2, window, 3)).astype(np.float32)
    m = build_model(arch, window, 3, seed=0)
    if arch == "classical":
        from imuad.training.classical import window_features
        assert np.all(np.isfinite(window_features(x)))
        return
    out = np.asarray(m(x))
    if arch == "spectral_gauss":  # the distance, then 3 axes x its bands of shape features
        assert out.shape[0] == 2 and (out.shape[1] - 1) % 3 == 0 and out.shape[1] > 1
        return
    assert out.shape == ((2, window, 3) if arch == "autoencoder" else (2, 1))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_builds_or_refuses_with_the_smallest_valid_window(arch):
    for window in WINDOWS:
        try:
            check_window(arch, window)
        except ImuadError as exc:
            msg = str(exc)
            assert msg.startswith(f"{arch}: window {window} is not valid")
            least = int(re.search(r"the smallest valid window is (\d+)", msg).group(1))
            check_window(arch, least)                         # the advice is valid ...
            for near in re.search(r"the nearest valid: ([\d or]+)", msg).group(1).split(" or "):
                check_window(arch, int(near))
            with pytest.raises(ImuadError):                   # ... and build_model refuses the same way
                build_model(arch, window, 3)
            continue
        _builds(arch, window)


def test_the_issue_windows():
    _builds("cnn", 4)                                          # was: "Computed output size would be zero"
    with pytest.raises(ImuadError, match="smallest valid window is 16, the nearest valid: 16"):
        check_window("transformer", 4)
    with pytest.raises(ImuadError, match="nearest valid: 16 or 24"):
        check_window("transformer", 20)
    with pytest.raises(ImuadError, match="smallest valid window is 4"):
        check_window("autoencoder", 6)


def test_train_refuses_before_reading_the_recording(tmp_path):
    from imuad.training.train import train
    with pytest.raises(ImuadError, match="transformer: window 12 is not valid"):
        train(tmp_path / "missing.npz", "transformer", tmp_path / "run", window=12)
