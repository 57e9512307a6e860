"""C8 payload decoding: layout, rejection of malformed notifications, Hypothesis fuzz."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "host"))
from imuad.contracts import ble_payload as pl  # noqa: E402

u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
events = st.builds(pl.Event, kind=st.integers(1, 6), state=st.integers(0, 255),
                   flags=st.integers(0, 255), seq=u32, uptime_ms=u32, score=i32, model_id=u32)


def test_layout_is_the_contract():
    data = bytes.fromhex("01 01 01 02 07000000 e8030000 feffffff d4c3b2a1".replace(" ", ""))
    ev = pl.decode_event(data)
    assert ev == pl.Event(kind=1, state=1, flags=2, seq=7, uptime_ms=1000, score=-2,
                          model_id=0xA1B2C3D4)
    assert ev.overflowed and not ev.replayed
    assert pl.model_id_hex(ev.model_id) == "d4c3b2a1"  # first 4 SHA-256 bytes
    assert len(data) == pl.PAYLOAD_LEN == 20


@pytest.mark.parametrize("data, why", [
    (b"", "0 bytes"), (bytes(19), "19 bytes"),
    (bytes([2]) + bytes(19), "version 2"),
    (bytes([1, 0]) + bytes(18), "kind 0"), (bytes([1, 7]) + bytes(18), "kind 7"),
    (bytes([1, 255]) + bytes(18), "kind 255"),
])
def test_malformed_notifications_are_rejected(data, why):
    with pytest.raises(pl.PayloadError):
        pl.decode_event(data)


@settings(max_examples=500, derandomize=True)
@given(events)
def test_roundtrip(ev):
    assert pl.decode_event(pl.encode_event(ev)) == ev


@settings(max_examples=2000, derandomize=True)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_payload_error(data):
    try:
        ev = pl.decode_event(data)
    except pl.PayloadError:
        assert len(data) < 20 or data[0] != 1 or not 1 <= data[1] <= 6
        return
    assert len(data) >= 20 and ev.seq == struct.unpack_from("<I", data, 4)[0]


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=80))
def test_status_decoder_decodes_or_raises_payload_error(data):
    if len(data) < pl.STATUS_LEN or data[:1] != b"\x01":
        with pytest.raises(pl.PayloadError):
            pl.decode_status(data)
    else:
        assert pl.decode_status(data).backlog == struct.unpack_from("<H", data, 24)[0]


def test_control_encodings():
    assert pl.encode_ack(0x01020304) == bytes([1, 4, 3, 2, 1])
    assert pl.encode_replay(5) == bytes([2, 5, 0, 0, 0])
    assert pl.encode_config(200, 150, 2, 4) == struct.pack("<BiiBB", 3, 200, 150, 2, 4)
    for bad in ((100, 150, 2, 4), (200, 150, 0, 4), (200, 150, 5, 4), (200, 150, 2, 33)):
        with pytest.raises(ValueError):
            pl.encode_config(*bad)


def test_drift_and_calibrated_kinds_decode():
    for kind in (pl.KIND_DRIFT, pl.KIND_DRIFT_CLEAR, pl.KIND_CALIBRATED):
        ev = pl.Event(kind, 0, 0, 9, 100, -7, 1)
        assert pl.decode_event(pl.encode_event(ev)) == ev
    assert (pl.KIND_DRIFT, pl.KIND_DRIFT_CLEAR, pl.KIND_CALIBRATED) == (4, 5, 6)


def test_calibrate_encoding():
    from imuad.contracts.calibration import CalibrationRequest
    from imuad.contracts.ranges import RangeError
    req = dict(windows=1024, allowed=3, margin_permille=150, k=2, n=4, drift_block=500)
    assert pl.encode_calibrate(req) == struct.pack("<BHHHBBHB", 4, 1024, 3, 150, 2, 4, 500, 0)
    assert len(pl.encode_calibrate(req)) == 12
    assert pl.encode_calibrate({**req, "refit": 1})[-1] == 1
    # omitted fields take the request defaults; k = n = 0 keeps the device's debounce
    assert pl.encode_calibrate({}) == struct.pack("<BHHHBBHB", 4, 1024, 0, 100, 0, 0, 0, 0)
    assert pl.encode_calibrate(CalibrationRequest(windows=16)) == pl.encode_calibrate({"windows": 16})
    for field, bad in (("windows", 15), ("windows", 4097), ("allowed", 1001),
                       ("margin_permille", 10_001), ("drift_block", 65_536), ("k", True),
                       ("n", 33), ("k", 5), ("refit", 2), ("bogus", 1)):
        patch = {field: bad, "n": 4} if field == "k" and bad == 5 else {field: bad}
        with pytest.raises(RangeError) as exc:
            pl.encode_calibrate({**req, **patch})
        assert exc.value.field == field, (field, bad, exc.value)
    with pytest.raises(RangeError) as exc:
        pl.encode_calibrate({"k": 2, "n": 0})
    assert exc.value.field == "n"


async def _feed(batch):
    from imuad.gateway.central import Gateway, GatewayOptions, SessionState
    from imuad.gateway.store import Store

    class FakeLink:
        address = "AA"

        def __init__(self) -> None:
            self.writes: list[bytes] = []

        async def write_control(self, data):
            self.writes.append(data)

    store = Store(":memory:")
    gw = Gateway(backend=None, store=store, options=GatewayOptions())
    link = FakeLink()
    st_ = SessionState(device_id="AA", contig=0, acked=0)
    await gw._handle_batch(link, st_, batch)
    return gw, store, link, st_


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=20))
def test_core_counts_and_drops_garbage(batch):
    import asyncio
    gw, store, link, st_ = asyncio.run(_feed(batch))
    valid = []
    for d in batch:
        try:
            valid.append(pl.decode_event(d))
        except pl.PayloadError:
            pass
    assert gw.counters.received == len(batch)
    assert gw.counters.malformed == len(batch) - len(valid)
    # seq <= the contiguous prefix (here 0) is a duplicate by definition
    assert gw.counters.stored + gw.counters.duplicates == len(valid)
    assert store.count_events() == gw.counters.stored


def test_core_stores_acks_and_requests_replay_for_a_hole():
    import asyncio
    mk = lambda s, f=0: pl.encode_event(pl.Event(1, 1, f, s, 0, 0, 0))  # noqa: E731
    gw, store, link, st_ = asyncio.run(_feed([mk(1), mk(2), mk(2), b"junk", mk(5)]))
    assert [e["seq"] for e in store.events(limit=None)] == [5, 2, 1]
    assert gw.counters.duplicates == 1 and gw.counters.malformed == 1
    assert link.writes == [pl.encode_ack(2), pl.encode_replay(3)]
    gw, store, link, st_ = asyncio.run(_feed([mk(4, pl.FLAG_OVERFLOW), mk(5)]))
    assert gw.counters.lost == 3 and link.writes == [pl.encode_ack(5)]


def test_core_sends_calibrate_and_config_commands_in_order():
    """C9 `calibrate` goes out as control op 0x04 on the same path as `config`; a bad payload
    is rejected (marked sent, nothing written) and the threshold waits for CALIBRATED."""
    import asyncio

    from imuad.gateway.central import Gateway, GatewayOptions
    from imuad.gateway.store import Store

    class Link:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        async def write_control(self, data):
            self.writes.append(bytes(data))

    store = Store(":memory:")
    store.upsert_device("AA", threshold=128)
    req = dict(windows=512, allowed=2, margin_permille=150, k=0, n=0, drift_block=300)
    store.queue_command("AA", "calibrate", req)
    store.queue_command("AA", "calibrate", {**req, "windows": 8})       # out of range
    store.queue_command("AA", "calibrate", {**req, "k": 3})             # k without n
    store.queue_command("AA", "calibrate", [1, 2])                      # not an object
    store.queue_command("AA", "config", {"threshold_on": 140, "threshold_off": 90})
    reports: list[tuple[str, dict]] = []
    gw = Gateway(backend=None, store=store, options=GatewayOptions(),
                 report=lambda what, info: reports.append((what, info)))
    link = Link()
    asyncio.run(gw._send_commands(link, "AA", debounce=(3, 5)))
    assert link.writes == [struct.pack("<BHHHBBHB", 4, 512, 2, 150, 0, 0, 300, 0),
                           struct.pack("<BiiBB", 3, 140, 90, 3, 5)]
    assert store.pending_commands("AA") == []
    rejected = [info["error"] for what, info in reports if what == "command_rejected"]
    assert len(rejected) == 3 and "windows" in rejected[0] and "n" in rejected[1]
    assert [info["kind"] for what, info in reports if what == "command_sent"] == ["calibrate", "config"]
    assert gw.counters.commands_sent == 2
    assert store.device("AA")["threshold"] == 140  # from the config, not from the calibrate


def test_core_stores_drift_events_and_takes_the_calibrated_threshold():
    import asyncio
    mk = lambda s, kind, score: pl.encode_event(pl.Event(kind, 0, 0, s, 0, score, 0))  # noqa: E731
    gw, store, link, _ = asyncio.run(_feed([mk(1, pl.KIND_DRIFT, 171), mk(2, pl.KIND_DRIFT_CLEAR, 60),
                                              mk(3, pl.KIND_CALIBRATED, 143)]))
    assert gw.counters.malformed == 0
    assert [(e["seq"], e["kind"], e["score"]) for e in store.events(limit=None)] == [
        (3, 6, 143), (2, 5, 60), (1, 4, 171)]
    assert store.device("AA")["threshold"] == 143
    assert link.writes == [pl.encode_ack(3)]
