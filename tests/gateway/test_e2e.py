"""End to end on a Bumble virtual link: imuad-ble-host (ble_alerts on upstream NimBLE)
<-> `imuad gateway run --backend bumble` -> SQLite."""
from __future__ import annotations

import asyncio
import signal
import struct
import sys
from pathlib import Path

import pytest

from ble_harness import PASSKEY, REPO, scripted_event

sys.path.insert(0, str(REPO / "host"))
from imuad.contracts import ble_payload as pl  # noqa: E402
from imuad.gateway.backends import PairingError  # noqa: E402
from imuad.gateway.store import Store  # noqa: E402


def stored(db: Path) -> list[dict]:
    with Store(db) as s:
        return sorted(s.events(limit=None), key=lambda r: r["seq"])


def assert_exactly(db: Path, seqs: range) -> list[dict]:
    rows = stored(db)
    got = [r["seq"] for r in rows]
    assert got == list(seqs), (f"stored {len(got)} events; missing "
                               f"{sorted(set(seqs) - set(got))[:10]}, extra "
                               f"{sorted(set(got) - set(seqs))[:10]}")
    for r in rows:
        want = scripted_event(r["seq"] - 1)
        assert {k: r[k] for k in want} == want
    return rows


@pytest.mark.timeout(150)
def test_in_order_delivery_of_1200_events(rig):
    n = 1200
    fw = rig.firmware("--events", f"scripted:{n}", "--model-id", "a1b2c3d4")
    gw = rig.gateway(PASSKEY, "--until-acked", str(n))
    assert gw.wait_exit(120) == 0, gw.stderr_tail()
    rows = assert_exactly(rig.db, range(1, n + 1))
    # arrival order == seq order, the model id of the device, no flags on a clean stream
    assert [r["received_at"] for r in rows] == sorted(r["received_at"] for r in rows)
    # model_id u32 0xa1b2c3d4 = SHA-256 bytes d4 c3 b2 a1 (little-endian), stored as hex
    assert {r["model_id"] for r in rows} == {"d4c3b2a1"}
    assert {r["flags"] for r in rows} == {0}
    summary = gw.events("summary")[-1]
    assert summary["stored"] == n and summary["malformed"] == 0 and summary["lost"] == 0
    assert summary["duplicates"] == 0 and summary["pairings"] == 1
    fw.wait_line(rf"^ACK {n}$", 10)
    with Store(rig.db) as s:
        dev = s.device("F0:00:00:00:00:01")
    assert dev["fw_version"] == "imuad-host-0.1" and dev["source"] == "ble"
    assert dev["model_id"] == "d4c3b2a1"


async def _until(cond, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _central_attempts(port: int, tmp: Path) -> dict:
    """An unpaired central, a wrong passkey, legacy pairing, then the right passkey."""
    from bumble.pairing import PairingConfig

    from imuad.gateway.backends.bumble_backend import BumbleBackend, _PasskeyDelegate
    out: dict = {}
    be = BumbleBackend(f"tcp-client:127.0.0.1:{port}", keystore=str(tmp / "intruder.json"),
                       own_address="C0:DE:00:00:00:99")
    await be.open()
    try:
        addr = await be.find(pl.SERVICE_UUID, None, 15)
        received: list[bytes] = []

        link = await be.connect(addr, 10)  # no pairing at all
        for name, op in (("read", link.read_status()), ("subscribe", link.subscribe(received.append)),
                         ("write", link.write_control(pl.encode_ack(3)))):
            try:
                await asyncio.wait_for(op, 10)
                out[name] = "allowed"
            except Exception as exc:  # ATT error: insufficient authentication/encryption
                out[name] = type(exc).__name__ + ": " + str(exc)
        await asyncio.sleep(0.5)
        out["notifications_unpaired"] = len(received)
        await link.close()
        await asyncio.sleep(0.3)

        link = await be.connect(addr, 10)
        try:
            await link.secure(PASSKEY + 1)
            out["wrong_passkey"] = "accepted"
        except PairingError as exc:
            out["wrong_passkey"] = str(exc)
        await link.close()
        await asyncio.sleep(0.3)

        legacy = be.device.pairing_config_factory
        be.device.pairing_config_factory = lambda c: PairingConfig(
            sc=False, mitm=True, bonding=True, delegate=_PasskeyDelegate(PASSKEY))
        link = await be.connect(addr, 10)
        try:
            await link.secure(PASSKEY)
            out["legacy"] = "accepted"
        except PairingError as exc:
            out["legacy"] = str(exc)
        await link.close()
        be.device.pairing_config_factory = legacy
        await asyncio.sleep(0.3)

        link = await be.connect(addr, 10)  # the right passkey works on the same device
        out["right_passkey_bonded_before"] = await link.secure(PASSKEY)
        out["status"] = pl.decode_status(await link.read_status())
        got: list[pl.Event] = []
        await link.subscribe(lambda d: got.append(pl.decode_event(d)))
        await _until(lambda: len(got) >= 3)
        await link.write_control(pl.encode_replay(2))  # device resends 2, 3 flagged replayed
        await _until(lambda: len(got) >= 5)
        out["stream"] = [(e.seq, e.flags) for e in got]
        bad = {}
        for name, data in (("short", b"\x01\x02"), ("op", b"\x09\x00\x00\x00\x00"),
                           ("k>n", struct.pack("<BiiBB", 3, 200, 150, 5, 4)),
                           ("calibrate windows", struct.pack("<BHHHBBHB", 4, 15, 0, 0, 0, 0, 0, 0)),
                           ("calibrate k only", struct.pack("<BHHHBBHB", 4, 64, 0, 0, 2, 0, 0, 0)),
                           ("calibrate margin", struct.pack("<BHHHBBHB", 4, 64, 0, 10_001, 0, 0, 0, 0)),
                           ("calibrate refit", struct.pack("<BHHHBBHB", 4, 64, 0, 0, 0, 0, 0, 2)),
                           ("calibrate short", struct.pack("<BHHHBBHB", 4, 64, 0, 0, 0, 0, 0, 0)[:11])):
            try:
                await link.write_control(data)
                bad[name] = "accepted"
            except Exception as exc:
                bad[name] = str(exc)
        out["bad_control"] = bad
        await link.write_control(pl.encode_ack(3))
        out["status_after_ack"] = pl.decode_status(await link.read_status())
        await link.close()
    finally:
        await be.close()
    return out


@pytest.mark.timeout(120)
def test_unpaired_wrong_passkey_and_legacy_centrals_are_rejected(rig):
    fw = rig.firmware("--events", "stdin", stdin=True)
    for _ in range(3):
        fw.send("push 1 1 200")
    fw.wait_line(r"^PUSHED 3$", 10)
    out = asyncio.run(asyncio.wait_for(_central_attempts(rig.gw_port, rig.tmp), 100))
    for name in ("read", "subscribe", "write"):
        assert out[name] != "allowed", out
        assert "INSUFFICIENT" in out[name].upper(), out[name]
    assert out["notifications_unpaired"] == 0
    assert out["wrong_passkey"] != "accepted" and "pairing" in out["wrong_passkey"]
    assert out["legacy"] != "accepted"
    assert out["right_passkey_bonded_before"] is False
    st = out["status"]
    assert st.last_seq == 3 and st.acked_seq == 0 and st.backlog == 3 and st.capacity == 128
    assert fw.count(r"^SECURED") == 1  # only the right passkey got through
    # device side of REPLAY / ACK / malformed control writes
    assert out["stream"] == [(1, 0), (2, 0), (3, 0), (2, pl.FLAG_REPLAYED), (3, pl.FLAG_REPLAYED)]
    assert all(v != "accepted" for v in out["bad_control"].values()), out["bad_control"]
    after = out["status_after_ack"]
    assert after.acked_seq == 3 and after.backlog == 0 and after.last_seq == 3
    assert fw.count(r"^CONFIG") == 0 and fw.count(r"^REPLAY 2$") == 1
    assert fw.count(r"^CALIBRATE") == 0  # no invalid CALIBRATE reached on_calibrate


@pytest.mark.timeout(120)
def test_bonded_reconnect_needs_no_passkey_and_config_reaches_device(rig):
    n = 60
    fw = rig.firmware("--events", f"scripted:{n}", "--rate", "200")
    gw1 = rig.gateway(PASSKEY, "--until-acked", "20")
    assert gw1.wait_exit(60) == 0, gw1.stderr_tail()
    assert gw1.events("secured")[0]["bonded"] is False
    fw.wait_line(r"^SECURED bonded=1", 10)  # NimBLE side: bonded after pairing

    with Store(rig.db) as s:
        s.queue_command("F0:00:00:00:00:01", "config",
                        {"threshold_on": 200, "threshold_off": 150, "k": 2, "n": 4})
    start = len(fw.lines)
    gw2 = rig.gateway(None, "--until-acked", str(n))  # no passkey: only the bond can work
    assert gw2.wait_exit(60) == 0, gw2.stderr_tail()
    assert [e["bonded"] for e in gw2.events("secured")] == [True]
    fw.wait_line(r"^CONFIG 200 150 2 4$", 10, start=start)
    assert fw.count(r"^PASSKEY") == 1  # displayed once, for the first pairing only
    assert_exactly(rig.db, range(1, n + 1))
    with Store(rig.db) as s:
        assert s.pending_commands() == []
        assert s.device("F0:00:00:00:00:01")["threshold"] == 200


@pytest.mark.timeout(120)
def test_calibrate_command_reaches_device_and_drift_events_are_stored(rig, capsys):
    """`imuad gateway calibrate` -> commands table -> control op 0x04 on the virtual radio ->
    on_calibrate of the NimBLE firmware; its DRIFT / DRIFT_CLEAR / CALIBRATED events come back,
    are stored with their kinds, and CALIBRATED's score becomes the device's threshold."""
    from imuad.cli import main
    fw = rig.firmware("--events", "stdin", stdin=True)
    dev = "F0:00:00:00:00:01"
    assert main(["gateway", "calibrate", "--db", str(rig.db), "--device", dev, "--windows", "512",
                 "--allowed", "2", "--margin-permille", "150", "-k", "2", "-n", "4",
                 "--drift-block", "300"]) == 0
    for line in ("push 1 1 200", "push 4 1 171", "push 5 0 60", "push 6 0 143",
                 "decision 143 107 2 4"):  # what the app does once it has calibrated
        fw.send(line)
    fw.wait_line(r"^DECISION 143 107 2 4$", 10)
    gw = rig.gateway(PASSKEY, "--until-acked", "4")
    assert gw.wait_exit(60) == 0, gw.stderr_tail()
    fw.wait_line(r"^CALIBRATE 512 2 150 2 4 300$", 10)
    assert fw.count(r"^CALIBRATE") == 1
    assert [e["kind"] for e in gw.events("command_sent")] == ["calibrate"]
    assert gw.events("status")[0]["threshold_on"] == 143  # ble_alerts_set_decision
    rows = stored(rig.db)
    assert [(r["seq"], r["kind"], r["score"]) for r in rows] == [
        (1, 1, 200), (2, 4, 171), (3, 5, 60), (4, 6, 143)]
    with Store(rig.db) as s:
        assert s.pending_commands() == []
        assert s.device(dev)["threshold"] == 143
    capsys.readouterr()
    assert main(["gateway", "events", "--db", str(rig.db)]) == 0
    out = capsys.readouterr().out
    for name in ("kind=onset", "kind=drift ", "kind=drift_cleared", "kind=calibrated"):
        assert name in out, out


@pytest.mark.timeout(150)
def test_link_loss_mid_stream_loses_and_duplicates_nothing(rig):
    n = 1500
    fw = rig.firmware("--events", f"scripted:{n}", "--rate", "1500")
    gw = rig.gateway(PASSKEY, "--until-acked", str(n))
    for threshold in (300, 800):
        gw.wait_event("acked", 60, lambda d, t=threshold: d["seq"] >= t)
        mark = len(gw.lines)
        rig.drop_links()
        gw.wait_event("secured", 30, lambda d: d["bonded"], start=mark)
    assert gw.wait_exit(120) == 0, gw.stderr_tail()
    assert fw.count(r"^DISCONNECTED") >= 2
    assert_exactly(rig.db, range(1, n + 1))
    s = gw.events("summary")[-1]
    assert s["stored"] == n and s["lost"] == 0 and s["connections"] >= 3
    assert s["bonded_reconnects"] >= 2


@pytest.mark.timeout(150)
def test_gateway_killed_mid_stream_loses_no_acknowledged_event(rig):
    n = 1500
    rig.firmware("--events", f"scripted:{n}", "--rate", "1500")
    gw1 = rig.gateway(PASSKEY)
    gw1.wait_event("acked", 60, lambda d: d["seq"] >= 400)
    gw1.kill(signal.SIGKILL)
    acked_before = gw1.acked()
    assert acked_before >= 400
    rows = stored(rig.db)
    assert [r["seq"] for r in rows][:acked_before] == list(range(1, acked_before + 1))

    gw2 = rig.gateway(PASSKEY, "--until-acked", str(n))
    assert gw2.wait_exit(120) == 0, gw2.stderr_tail()
    assert gw2.events("secured")[0]["bonded"] is True
    assert_exactly(rig.db, range(1, n + 1))
    assert gw2.events("summary")[-1]["lost"] == 0


@pytest.mark.timeout(120)
def test_backlog_overflow_is_flagged_and_counted_as_lost(rig):
    n, cap = 300, 128
    fw = rig.firmware("--events", f"scripted:{n}", "--no-backpressure")
    fw.wait_line(rf"^SCRIPT_DONE {n}$", 20)  # all pushed before any gateway connects
    gw = rig.gateway(PASSKEY, "--until-acked", str(n))
    assert gw.wait_exit(60) == 0, gw.stderr_tail()
    rows = assert_exactly(rig.db, range(n - cap + 1, n + 1))
    assert rows[0]["flags"] & pl.FLAG_OVERFLOW
    assert all(r["flags"] & pl.FLAG_OVERFLOW == 0 for r in rows[1:])
    s = gw.events("summary")[-1]
    assert s["lost"] == n - cap and s["stored"] == cap


@pytest.mark.timeout(90)
def test_gateway_forwards_stored_events_to_mqtt(rig, broker):
    import json
    import threading
    import time

    import paho.mqtt.client as mqtt
    got, ready = [], threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="e2e-sub")
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe("imuad/+/+/events", qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    sub.connect("127.0.0.1", broker)
    sub.loop_start()
    try:
        assert ready.wait(10)
        n = 100
        rig.firmware("--events", f"scripted:{n}")
        gw = rig.gateway(PASSKEY, "--until-acked", str(n), "--mqtt",
                         f"mqtt://127.0.0.1:{broker}", "--gateway-id", "hall-1")
        assert gw.wait_exit(60) == 0, gw.stderr_tail()
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    # at least once (C9 MQTT): every stored seq arrives; a republish may repeat one
    assert sorted({g[1]["seq"] for g in got}) == list(range(1, n + 1))
    assert {g[1]["gateway_id"] for g in got} == {"hall-1"}
    assert all(t == f"imuad/hall-1/{g['device_id']}/events" for t, g in got)
    assert_exactly(rig.db, range(1, n + 1))

