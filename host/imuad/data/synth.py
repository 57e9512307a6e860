"""A synthetic rotating machine seen by a 3-axis MEMS accelerometer on its bearing housing.

Physics (all accelerations in g, then quantised as the sensor would):
- shaft at `shaft_hz` with a slow random speed wander (`speed_jitter`, relative), its
  harmonics 1x..5x from residual imbalance / looseness (small in a healthy machine);
- imbalance: a rotating 1x force -> 1x in quadrature on the two radial axes (ay, az);
- misalignment: strong 2x (plus some 1x) on the axial axis (ax, the shaft axis) and 2x radially;
- rolling-element bearing defects: an impact every time a ball passes the defect.
  For n balls of diameter d on pitch diameter D at contact angle phi:
      BPFO = n/2 * fr * (1 - d/D cos phi)      (outer race, fixed in the load zone)
      BPFI = n/2 * fr * (1 + d/D cos phi)      (inner race, rotating with the shaft: impact
                                                 amplitude modulated at 1x -> sidebands BPFI +- fr)
  each impact rings a structural resonance (decaying sinusoid, damping ratio zeta) at
  3 kHz when the output data rate allows it, otherwise at 0.3 * fs (below Nyquist: the
  sensor's digital low-pass filter would remove a resonance above it); impact times
  jitter by ~1 % (ball slip) so the lines are realistic, not perfect;
- gravity +1 g on az (sensor z up), per-axis zero-g offsets, broadband noise (sensor noise
  density ~400 ug/sqrt(Hz) as MPU-6050 plus machine noise);
- full-scale +-4 g, 8192 LSB/g (MPU-6050 at +-4 g), int16 quantisation (round half even, clip).
Labels are 1 inside every fault interval [start_s, stop_s). Deterministic for a seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ImuadError
from .recording import Recording

FAULT_KINDS = ("outer", "inner", "imbalance", "misalignment")
CHANNELS = ["ax", "ay", "az"]   # ax axial (shaft axis), ay radial horizontal, az radial vertical


@dataclass(frozen=True)
class FaultSpec:
    kind: str          # "outer" | "inner" | "imbalance" | "misalignment"
    start_s: float
    stop_s: float
    severity: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ImuadError(f"fault kind {self.kind!r} unknown (choose from {', '.join(FAULT_KINDS)})")
        if not (math.isfinite(self.start_s) and math.isfinite(self.stop_s) and 0 <= self.start_s < self.stop_s):
            raise ImuadError(f"fault {self.kind}: need 0 <= start < stop, got {self.start_s}-{self.stop_s} s")
        if not (math.isfinite(self.severity) and 0 < self.severity <= 100):
            raise ImuadError(f"fault {self.kind}: severity must be in (0, 100], got {self.severity}")
        if not (self.severity > 0 and math.isfinite(self.severity)):
            raise ImuadError(f"fault {self.kind}: severity must be > 0, got {self.severity}")


@dataclass(frozen=True)
class Bearing:
    """Deep-groove ball bearing geometry (defaults: SKF 6205, as in the CWRU bearing data)."""
    n_balls: int = 9
    ball_d_mm: float = 7.94
    pitch_d_mm: float = 39.04
    contact_deg: float = 0.0

    def _ratio(self) -> float:
        return self.ball_d_mm / self.pitch_d_mm * math.cos(math.radians(self.contact_deg))

    def bpfo(self, shaft_hz: float) -> float:
        return self.n_balls / 2.0 * shaft_hz * (1.0 - self._ratio())

    def bpfi(self, shaft_hz: float) -> float:
        return self.n_balls / 2.0 * shaft_hz * (1.0 + self._ratio())


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0
    fs: float = 2000.0                 # output data rate, Hz
    duration_s: float = 120.0
    shaft_hz: float = 29.5             # 1770 rpm
    speed_jitter: float = 0.004        # relative std of the slow speed wander
    bearing: Bearing = Bearing()
    resonance_hz: float | None = None  # None: 3 kHz if < 0.4 fs, else 0.3 fs
    resonance_zeta: float = 0.04
    harmonics_g: tuple[float, ...] = (0.020, 0.010, 0.006, 0.004, 0.003)  # healthy 1x..5x
    noise_g: float = 0.025             # broadband rms per axis (sensor + machine)
    load_variation: float = 0.3        # slow (< 0.05 Hz) relative wander of vibration level with load
    knocks_per_s: float = 0.4          # random non-periodic impacts (nearby machines, handling)
    knock_g: float = 0.12              # their typical peak
    gravity_g: float = 1.0
    full_scale_g: float = 4.0
    counts_per_g: float = 8192.0
    faults: tuple[FaultSpec, ...] = ()

    def resonance(self) -> float:
        if self.resonance_hz is not None:
            if not 0 < self.resonance_hz < self.fs / 2:
                raise ImuadError(f"resonance {self.resonance_hz} Hz must be below Nyquist ({self.fs / 2} Hz)")
            return float(self.resonance_hz)
        return 3000.0 if 3000.0 < 0.4 * self.fs else 0.3 * self.fs


# fault schedule of the default preset, as fractions of the duration (kind, start, stop, severity)
_DEFAULT_FAULTS = (
    ("imbalance", 0.10, 0.20, 1.0),
    ("outer", 0.28, 0.40, 1.0),
    ("misalignment", 0.48, 0.58, 1.0),
    ("inner", 0.66, 0.78, 1.0),
    ("outer", 0.86, 0.92, 0.6),     # a milder recurrence: detection must not rely on severity
)


def default_config(duration_s: float = 120.0, fs: float = 2000.0, seed: int = 0) -> SynthConfig:
    """Preset of the README main job: 2 kHz, 120 s, five faults of four kinds (50 % anomalous)."""
    faults = tuple(FaultSpec(k, round(a * duration_s, 3), round(b * duration_s, 3), s)
                   for k, a, b, s in _DEFAULT_FAULTS)
    return SynthConfig(seed=seed, fs=fs, duration_s=duration_s, faults=faults)


PRESETS = {"default": default_config}


def parse_faults(text: str) -> tuple[FaultSpec, ...]:
    """'outer@20-30,inner@45-60:0.8' -> FaultSpecs (severity defaults to 1)."""
    out = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        try:
            kind, rest = item.split("@", 1)
            span, _, sev = rest.partition(":")
            a, b = span.split("-", 1)
            out.append(FaultSpec(kind.strip(), float(a), float(b), float(sev) if sev else 1.0))
        except ValueError:
            raise ImuadError(f"bad fault {item!r}: expected KIND@START-STOP[:SEVERITY], "
                             f"e.g. outer@20-30 or inner@45-60:0.8 (kinds: {', '.join(FAULT_KINDS)})") from None
    return tuple(out)


def _smooth_noise(rng: np.random.Generator, n: int, fs: float, corner_hz: float) -> np.ndarray:
    """Unit-std low-pass noise (one-pole filter applied forward via FFT for speed)."""
    w = rng.standard_normal(n)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spec = np.fft.rfft(w) / np.sqrt(1.0 + (f / corner_hz) ** 2)
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def _ring(n: int, fs: float, times: np.ndarray, amps: np.ndarray, f_r: float, zeta: float) -> np.ndarray:
    """Sum of decaying sinusoids a_k * exp(-zeta w t) sin(w_d t), t >= 0, started at times_k (s)."""
    out = np.zeros(n)
    if len(times) == 0:
        return out
    w = 2 * math.pi * f_r
    wd = w * math.sqrt(1 - zeta**2)
    span = int(math.ceil(7.0 / (zeta * w) * fs)) + 1      # ~ e^-7 of the initial amplitude
    k0 = np.ceil(times * fs).astype(np.int64)              # first sample at or after the impact
    idx = k0[:, None] + np.arange(span)[None, :]
    dt = idx / fs - times[:, None]
    vals = amps[:, None] * np.exp(-zeta * w * dt) * np.sin(wd * dt)
    ok = idx < n
    np.add.at(out, idx[ok], vals[ok])
    return out


def _impacts(revs: np.ndarray, fs: float, order: float, t0: float, t1: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Impact times in [t0, t1) when the defect is passed `order` times per shaft revolution,
    with ~1 % slip jitter; also returns the shaft angle (revolutions) at each impact."""
    t = np.arange(len(revs)) / fs
    r0, r1 = np.interp([t0, t1], t, revs)
    k = np.arange(math.ceil(r0 * order), math.floor(r1 * order) + 1)
    r = k / order
    r = r + rng.normal(0.0, 0.01 / order, len(r))       # slip: ~1 % of the impact period
    times = np.interp(r, revs, t)
    keep = (times >= t0) & (times < t1)
    return times[keep], r[keep]


def synth_machine(cfg: SynthConfig) -> Recording:
    """Generate the recording: X int16 counts as float64 [T, 3], y int8, fs, channels ax/ay/az."""
    if cfg.fs <= 0 or cfg.duration_s <= 0:
        raise ImuadError(f"synth needs fs > 0 and duration > 0, got fs={cfg.fs} duration={cfg.duration_s}")
    n = int(round(cfg.duration_s * cfg.fs))
    if n < 2:
        raise ImuadError(f"synth: {cfg.duration_s} s at {cfg.fs} Hz is fewer than 2 samples")
    for f in cfg.faults:
        if f.stop_s > cfg.duration_s:
            raise ImuadError(f"fault {f.kind}@{f.start_s:g}-{f.stop_s:g} ends after the recording "
                             f"({cfg.duration_s:g} s); shorten it or pass a longer --duration")
    fs = float(cfg.fs)
    rng = np.random.default_rng(cfg.seed)
    np.arange(n) / fs
    # slow speed wander (< 0.2 Hz) around the nominal shaft speed
    fr = cfg.shaft_hz * (1.0 + cfg.speed_jitter * _smooth_noise(rng, n, fs, 0.2))
    revs = np.cumsum(fr) / fs                     # shaft angle in revolutions
    phase = 2 * math.pi * revs
    a = np.zeros((n, 3))                          # ax axial, ay radial-h, az radial-v, in g
    # operating load wanders slowly: vibration and noise levels follow it (a nuisance, not a fault)
    load = np.clip(1.0 + cfg.load_variation * _smooth_noise(rng, n, fs, 0.05), 0.4, 2.0)

    # healthy machine: residual imbalance / looseness harmonics on all axes, random phases
    for h, amp in enumerate(cfg.harmonics_g, start=1):
        if h * cfg.shaft_hz >= fs / 2:
            break
        ph = rng.uniform(0, 2 * math.pi, 3)
        a += (load * amp)[:, None] * np.array([0.5, 1.0, 0.8]) * np.sin(h * phase[:, None] + ph[None, :])
    # random knocks: single, non-periodic impacts ringing another mode of the structure
    n_knocks = rng.poisson(cfg.knocks_per_s * cfg.duration_s)
    k_times = np.sort(rng.uniform(0, cfg.duration_s, n_knocks))
    k_amps = cfg.knock_g * rng.lognormal(0.0, 0.5, n_knocks) * rng.choice([-1.0, 1.0], n_knocks)
    knock = _ring(n, fs, k_times, k_amps, 0.17 * fs, 0.06)
    a += knock[:, None] * np.array([0.6, 0.8, 1.0])[None, :]

    f_r = cfg.resonance()
    bpfo_order = cfg.bearing.bpfo(1.0)
    bpfi_order = cfg.bearing.bpfi(1.0)
    y = np.zeros(n, np.int8)
    for fault in cfg.faults:
        i0 = int(math.ceil(fault.start_s * fs))
        i1 = min(n, int(math.ceil(fault.stop_s * fs)))
        y[i0:i1] = 1
        gate = np.zeros(n)
        gate[i0:i1] = 1.0
        s = fault.severity
        if fault.kind == "imbalance":           # rotating 1x force: quadrature on ay / az
            ph = rng.uniform(0, 2 * math.pi)
            amp = 0.030 * s * (fr / cfg.shaft_hz) ** 2   # centrifugal force ~ speed^2
            a[:, 1] += gate * amp * np.cos(phase + ph)
            a[:, 2] += gate * amp * 0.8 * np.sin(phase + ph)
        elif fault.kind == "misalignment":      # 2x axial dominant, some 1x axial, 2x radial
            ph = rng.uniform(0, 2 * math.pi, 3)
            a[:, 0] += gate * s * (0.030 * np.sin(2 * phase + ph[0]) + 0.012 * np.sin(phase + ph[1]))
            a[:, 1] += gate * s * 0.012 * np.sin(2 * phase + ph[2])
            a[:, 2] += gate * s * 0.010 * np.sin(2 * phase + ph[2] + 0.7)
        else:                                   # bearing defect impacts ringing the resonance
            order = bpfo_order if fault.kind == "outer" else bpfi_order
            times, r_at = _impacts(revs, fs, order, i0 / fs, i1 / fs, rng)
            amps = 0.12 * s * (1.0 + 0.25 * rng.standard_normal(len(times))).clip(0.2)
            if fault.kind == "inner":            # defect rotates through the load zone once per rev
                amps = amps * (0.25 + 0.75 * 0.5 * (1.0 + np.cos(2 * math.pi * r_at)))
            ring = _ring(n, fs, times, amps, f_r, cfg.resonance_zeta)
            a += ring[:, None] * np.array([0.3, 0.7, 1.0])[None, :]   # mostly radial, load on az

    a += cfg.noise_g * np.sqrt(load)[:, None] * rng.standard_normal((n, 3))
    a[:, 2] += cfg.gravity_g
    a += rng.uniform(-0.03, 0.03, 3)[None, :]     # zero-g offsets of the sensor
    full = cfg.full_scale_g * cfg.counts_per_g
    counts = np.clip(np.rint(a * cfg.counts_per_g), max(-32768, -full), min(32767, full - 1))
    return Recording(None, counts.astype(np.float64), y, fs, list(CHANNELS), None)


def with_overrides(cfg: SynthConfig, **kw) -> SynthConfig:
    return replace(cfg, **{k: v for k, v in kw.items() if v is not None})


def fault_intervals(cfg: SynthConfig) -> list[tuple[str, float, float]]:
    return [(f.kind, f.start_s, min(f.stop_s, cfg.duration_s)) for f in cfg.faults]

