"""C8 shared test vectors (c8_vectors.json): the event payload, the status layout and the control
writes, byte for byte, in each implementation: the C encoder of the ble_alerts component (through
the nimble-linux build's ble_alerts_c8_vectors tool), the gateway's Python codec, and the
MicroPython app's (device/micropython/esp32: imuad_app.event_payload, ble_alert.BleAlert) run on
the MicroPython unix port the project builds, with stand-ins for `bluetooth`, `aioble` and
`asyncio` (the radio and its tasks)."""
from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from imuad.contracts import ble_payload as pl
from imuad.paths import REPO_ROOT

VECTORS = json.loads((Path(__file__).parent / "c8_vectors.json").read_text())
EVENT_FIELDS = ("kind", "state", "flags", "seq", "uptime_ms", "score", "model_id")
CALIBRATE_FIELDS = ("windows", "allowed", "margin_permille", "k", "n", "drift_block", "refit")
STATUS_FIELDS = ("state", "k", "n", "threshold_on", "threshold_off", "model_id", "last_seq", "acked_seq",
                 "backlog", "capacity", "overflows")


def test_vectors_cover_the_layouts():
    assert {len(bytes.fromhex(e["hex"])) for e in VECTORS["events"]} == {pl.PAYLOAD_LEN}
    assert {len(bytes.fromhex(s["hex"])) for s in VECTORS["status"]} == {pl.STATUS_LEN}
    assert {e["kind"] for e in VECTORS["events"]} == {1, 2, 3, 4, 5, 6}
    assert {c["parsed"]["op"] for c in VECTORS["control"] if c["parsed"]} == {1, 2, 3, 4}
    assert sum(c["parsed"] is None for c in VECTORS["control"]) >= 5
    # every CALIBRATE range bound is crossed by a rejected vector
    assert sum(c["parsed"] is None and c["hex"][:2] == "04" for c in VECTORS["control"]) >= 10


def test_python_gateway_codec():
    for e in VECTORS["events"]:
        ev = pl.Event(**{k: e[k] for k in EVENT_FIELDS})
        assert pl.encode_event(ev).hex() == e["hex"]
        assert pl.decode_event(bytes.fromhex(e["hex"])) == ev
    for b in VECTORS["bad_events"]:
        with pytest.raises(pl.PayloadError):
            pl.decode_event(bytes.fromhex(b["hex"]))
    for s in VECTORS["status"]:
        got = pl.decode_status(bytes.fromhex(s["hex"]))
        assert [getattr(got, k) for k in STATUS_FIELDS] == [s[k] for k in STATUS_FIELDS]
        assert got.fw_version == s["fw_version"]
    for c in VECTORS["control"]:
        p = c["parsed"]
        if p is None:
            continue
        if p["op"] == pl.CTRL_ACK:
            assert pl.encode_ack(p["seq"]).hex() == c["hex"]
        elif p["op"] == pl.CTRL_REPLAY:
            assert pl.encode_replay(p["seq"]).hex() == c["hex"]
        elif p["op"] == pl.CTRL_CALIBRATE:
            assert pl.encode_calibrate({k: v for k, v in p.items() if k != "op"}).hex() == c["hex"]
        else:
            assert pl.encode_config(p["threshold_on"], p["threshold_off"], p["k"], p["n"]).hex() == c["hex"]
    for c in VECTORS["control"]:  # every invalid CONFIG the device rejects, the gateway refuses to send
        data = bytes.fromhex(c["hex"])
        if c["parsed"] is None and len(data) == 11 and data[0] == pl.CTRL_CONFIG:
            with pytest.raises(ValueError):
                pl.encode_config(*struct.unpack("<iiBB", data[1:]))
        if c["parsed"] is None and len(data) == 12 and data[0] == pl.CTRL_CALIBRATE:
            fields = dict(zip(CALIBRATE_FIELDS, struct.unpack("<HHHBBHB", data[1:])))
            with pytest.raises(ValueError):
                pl.encode_calibrate(fields)


def test_c_encoder(build_tree):
    from imuad.build import artefact
    lines = [" ".join(["event", *(str(e[k]) for k in EVENT_FIELDS)]) for e in VECTORS["events"]]
    lines += [f"unpack {b['hex'] or '-'}" for b in VECTORS["bad_events"] + VECTORS["events"]]
    lines += [" ".join(["status", *(str(s[k]) for k in STATUS_FIELDS), s["fw_version"] or "-"])
              for s in VECTORS["status"]]
    lines += [f"control {c['hex'] or '-'}" for c in VECTORS["control"]]
    proc = subprocess.run([str(artefact("nimble-linux", "c8-vectors"))], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    out = iter(proc.stdout.splitlines())
    for e in VECTORS["events"]:
        assert next(out) == e["hex"]
    for b in VECTORS["bad_events"]:
        assert next(out) == "reject", b["why"]
    for e in VECTORS["events"]:
        assert next(out) == " ".join(str(e[k]) for k in EVENT_FIELDS)
    for s in VECTORS["status"]:
        assert next(out) == s["hex"]
    for c in VECTORS["control"]:
        p = c["parsed"]
        fields = ("op", *CALIBRATE_FIELDS) if p and p["op"] == pl.CTRL_CALIBRATE else (
            "op", "seq", "threshold_on", "threshold_off", "k", "n")
        want = "reject" if p is None else " ".join(str(p.get(k, 0)) for k in fields)
        assert next(out) == want, c["hex"]


def test_micropython_app(tmp_path):
    """Run on the MicroPython unix port (not CPython): the module the ESP32 app imports is real
    (imuad.Detector.configure validates CONFIG as on the board); the radio is a stand-in."""
    from imuad.build import artefact
    here = Path(__file__).parent / "mp"
    out = tmp_path / "out.json"
    proc = subprocess.run([str(artefact("micropython")), "-X", "heapsize=4m", str(here / "c8_vectors.py"),
                           str(REPO_ROOT / "device/micropython/esp32"), str(here / "stubs"),
                           str(Path(__file__).parent / "c8_vectors.json"),
                           str(REPO_ROOT / "tests/firmware/fixtures/models/fixture_cnn"), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = json.loads(out.read_text())
    assert got["events"] == [e["hex"] for e in VECTORS["events"]]
    # the app packs the status of its own backlog (capacity 128, model id of the newest event)
    for s, h in zip(VECTORS["status"], got["status"]):
        if s["capacity"] == 128 and (s["backlog"] > 0 or s["model_id"] == 0):
            assert h == s["hex"], s
    assert sum(s["capacity"] == 128 for s in VECTORS["status"]) >= 3
    seqs = sorted({0, 5, 6, 0x01020304, 0xFFFFFFFF})
    for c, r in zip(VECTORS["control"], got["control"]):
        p = c["parsed"] or {"op": 0}
        assert r["acked"] == (p["seq"] if p["op"] == 1 else 0), c["hex"]
        assert r["backlog"] == ([q for q in seqs if q > p["seq"]] if p["op"] == 1 else seqs), c["hex"]
        assert r["notified"] == ([q for q in seqs if q >= p["seq"]] if p["op"] == 2 else []), c["hex"]
        want = [p["threshold_on"], p["threshold_off"], p["k"], p["n"]] if p["op"] == 3 else [0, 0, 1, 1]
        assert r["decision"] == want, c["hex"]
