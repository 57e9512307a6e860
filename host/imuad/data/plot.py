"""PNG of a synthetic recording: signal with fault intervals shaded, spectrogram, spectra."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImuadError
from .recording import Recording
from .synth import SynthConfig


def _spectrum(x: np.ndarray, fs: float, nfft: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(x) // nfft
    seg = x[: n * nfft].reshape(n, nfft)
    seg = seg - seg.mean(axis=1, keepdims=True)
    p = (np.abs(np.fft.rfft(seg * np.hanning(nfft), axis=1)) ** 2).mean(axis=0)
    return np.fft.rfftfreq(nfft, 1.0 / fs), p


def plot_recording(rec: Recording, cfg: SynthConfig, out: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as exc:
        raise ImuadError("--plot needs matplotlib (pip install -e '.[train]')") from exc
    fs = float(rec.fs)
    g = rec.X / cfg.counts_per_g
    t = np.arange(rec.n_samples) / fs
    colors = {"outer": "tab:red", "inner": "tab:purple", "imbalance": "tab:orange", "misalignment": "tab:green"}
    fig, axes = plt.subplots(3, 1, figsize=(12, 10))
    ax = axes[0]
    for c, name in enumerate(rec.channels):
        ax.plot(t, g[:, c] - g[:, c].mean() + 0.5 * (1 - c), lw=0.3, label=f"{name} (mean removed, offset)")
    for f in cfg.faults:
        ax.axvspan(f.start_s, min(f.stop_s, cfg.duration_s), color=colors[f.kind], alpha=0.2)
        ax.text(f.start_s, 0.98, f" {f.kind} {f.severity:g}", fontsize=8, color=colors[f.kind],
                transform=ax.get_xaxis_transform(), va="top")
    ax.set(xlabel="time [s]", ylabel="acceleration [g]", title="synthetic machine: shaded = fault (label 1)")
    ax.legend(loc="lower right", fontsize=7)
    ax = axes[1]
    nfft = int(min(1024, 2 ** np.floor(np.log2(max(16, rec.n_samples // 8)))))
    ax.specgram(g[:, 2] - g[:, 2].mean(), NFFT=nfft, Fs=fs, noverlap=nfft // 2, cmap="viridis")
    for f in cfg.faults:
        ax.axvline(f.start_s, color="w", lw=0.8)
        ax.axvline(min(f.stop_s, cfg.duration_s), color="w", lw=0.8, ls="--")
    ax.set(xlabel="time [s]", ylabel="frequency [Hz]", title="spectrogram of az")
    ax = axes[2]
    y = rec.y if rec.y is not None else np.zeros(rec.n_samples, np.int8)
    nfft = int(min(4096, 2 ** np.floor(np.log2(max(16, rec.n_samples // 16)))))
    if np.sum(y == 0) >= nfft:
        f_, p = _spectrum(g[y == 0, 2], fs, nfft)
        ax.semilogy(f_, p, lw=0.6, color="k", label="normal")
    for fault in cfg.faults:
        s, e = int(np.ceil(fault.start_s * fs)), min(rec.n_samples, int(np.ceil(fault.stop_s * fs)))
        if e - s >= nfft:
            f_, p = _spectrum(g[s:e, 2], fs, nfft)
            ax.semilogy(f_, p, lw=0.6, color=colors[fault.kind], label=f"{fault.kind} {fault.start_s:g}-{fault.stop_s:g} s")
    for name, fr in (("BPFO", cfg.bearing.bpfo(cfg.shaft_hz)), ("BPFI", cfg.bearing.bpfi(cfg.shaft_hz)),
                     ("1x", cfg.shaft_hz), ("resonance", cfg.resonance())):
        ax.axvline(fr, color="gray", lw=0.6, ls=":")
        ax.text(fr, ax.get_ylim()[1] if ax.lines else 1, name, fontsize=7, rotation=90, va="top")
    ax.set(xlabel="frequency [Hz]", ylabel="power (az)", title="averaged spectra of az")
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
