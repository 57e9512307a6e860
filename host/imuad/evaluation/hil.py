"""Hardware in the loop (`imuad hil`): a recording through a device on a serial line (or any
C7 transport), every window and event compared with the host reference."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from ..contracts.card import ModelDir
from ..errors import ImuadError
from ..targets.base import Transport
from ..targets.session import ReplaySession
from .reference import stream_reference


@dataclass
class HilReport:
    port: str
    model: str
    recording: str
    split: str | None
    device: dict = field(default_factory=dict)
    segments: list[dict] = field(default_factory=list)
    windows: int = 0
    bit_exact: int = 0
    score_mismatch: int = 0
    state_mismatch: int = 0
    events_device: int = 0
    events_reference: int = 0
    events_equal: bool = True
    first_mismatch: dict | None = None
    infer_us: list[int] = field(default_factory=list)
    host_counters: dict = field(default_factory=dict)
    device_stats: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.windows > 0 and self.bit_exact == self.windows and self.events_equal

    def to_json(self) -> dict:
        inf = np.asarray(self.infer_us, np.float64)
        d = {k: v for k, v in self.__dict__.items() if k != "infer_us"}
        d["bit_exact_pct"] = 100.0 * self.bit_exact / self.windows if self.windows else 0.0
        d["ok"] = self.ok
        d["infer_us"] = {"per_window": self.infer_us,
                         "mean": float(inf.mean()) if inf.size else None,
                         "p50": float(np.percentile(inf, 50)) if inf.size else None,
                         "p95": float(np.percentile(inf, 95)) if inf.size else None,
                         "max": float(inf.max()) if inf.size else None}
        return d

    def summary(self) -> str:
        pct = 100.0 * self.bit_exact / self.windows if self.windows else 0.0
        inf = np.asarray(self.infer_us, np.float64)
        line = (f"hil {self.device.get('target', '?')} model {self.model}: {self.bit_exact}/{self.windows} windows "
                f"bit-exact ({pct:.1f} %), events {self.events_device} device / {self.events_reference} host "
                f"({'equal' if self.events_equal else 'DIFFERENT'}), infer mean "
                f"{inf.mean() if inf.size else 0:.0f} us (device clock), {self.seconds:.1f} s")
        if self.first_mismatch:
            line += f"\n  first mismatch: {json.dumps(self.first_mismatch)}"
        return line


def run_hil(transport: Transport, model: ModelDir, segments: list[tuple[int, np.ndarray]],
            port: str = "?", recording: str = "?", split: str | None = None, timeout: float = 10.0,
            hello_timeout: float = 10.0, chunk: int = 256, max_inflight_chunks: int = 4,
            progress: bool = False) -> HilReport:
    """Streams every segment to the device and compares each window and event with the host."""
    card = model.card
    rep = HilReport(port=port, model=card.name, recording=recording, split=split)
    t0 = time.monotonic()
    session = ReplaySession(transport, target_name=port, hello_timeout=hello_timeout, idle_timeout=timeout,
                            max_inflight_chunks=max_inflight_chunks)
    with session:
        session.provide_model(model)
        info = session.hello(card.name)
        rep.device = {"target": info.target, "fw_version": info.fw_version, "model_name": info.model_name,
                      "model_sha256": info.model_sha256.hex(), "window": info.window, "hop": info.hop,
                      "channels": info.channels, "arena_used": info.arena_used, "arena_size": info.arena_size}
        if (info.window, info.hop, info.channels) != (card.window, card.hop, card.n_channels):
            raise ImuadError(f"device model shape W={info.window} H={info.hop} C={info.channels} differs from "
                             f"the card's W={card.window} H={card.hop} C={card.n_channels}")
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=sum(len(c) for _, c in segments), unit="sample", desc="hil", leave=False)
        for si, (first, counts) in enumerate(segments):
            ref = stream_reference(model, counts)
            res = session.replay(counts, model=card.name, chunk=chunk, bye=False,
                                 on_progress=(bar.update if bar is not None else None))
            dev_out = res.outputs
            n = len(ref.outputs)
            if len(res.windows) != n:
                raise ImuadError(f"segment {si}: device sent {len(res.windows)} windows, host expects {n}")
            same = np.all(dev_out.reshape(n, -1) == ref.outputs.reshape(n, -1), axis=1) if n else np.zeros(0, bool)
            rep.windows += n
            rep.bit_exact += int(same.sum())
            rep.score_mismatch += int(np.sum(res.scores != ref.scores))
            rep.state_mismatch += int(np.sum(res.states != np.asarray(ref.states, np.int64)))
            dev_events = res.event_tuples()
            rep.events_device += len(dev_events)
            rep.events_reference += len(ref.events)
            seg_events_equal = dev_events == ref.events
            rep.events_equal = rep.events_equal and seg_events_equal
            rep.infer_us += [int(w.infer_us) for w in res.windows]
            if rep.first_mismatch is None:
                bad = np.flatnonzero(~same)
                if bad.size:
                    j = int(bad[0])
                    rep.first_mismatch = {"segment": si, "window": j, "start_sample": first + j * card.hop,
                                          "device_out": dev_out[j].tolist(), "host_out": ref.outputs[j].tolist(),
                                          "device_score": int(res.scores[j]), "host_score": int(ref.scores[j])}
                elif not seg_events_equal:
                    rep.first_mismatch = {"segment": si, "events_device": dev_events[:8], "events_host": ref.events[:8]}
            rep.segments.append({"first_sample": first, "samples": int(len(counts)), "windows": n,
                                 "bit_exact": int(same.sum()), "events_device": len(dev_events),
                                 "events_host": len(ref.events), "errors": [str(e) for e in res.errors]})
            if res.stats is not None:
                rep.device_stats = dict(res.stats.__dict__)
        if bar is not None:
            bar.close()
        rep.host_counters = dict(session.decoder.counters)
    rep.seconds = time.monotonic() - t0
    return rep


