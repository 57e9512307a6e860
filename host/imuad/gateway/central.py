"""The gateway core, independent of the BLE backend.

One device at a time: find it (service UUID), connect, pair with the passkey or
encrypt with the bond, read its status, subscribe to events, and then for every
batch of notifications: decode (malformed ones are counted and dropped), store in
SQLite (duplicates by seq are ignored), commit, and only then ACK up to the highest
seq below which everything is stored. A hole in the seqs asks the device to REPLAY;
an event flagged "backlog overflowed" tells that the missing seqs below it are gone
for good. On any failure: reconnect with exponential backoff.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..contracts import ble_payload as pl
from ..contracts.calibration import check_request
from ..contracts.decision import check_config
from ..contracts.ranges import RangeError
from .backends import Backend, Link, LinkError, PairingError
from .store import Store

log = logging.getLogger("imuad.gateway")

MAX_BATCH = 512
REPLAY_TIMEOUT_S = 2.0
COMMAND_POLL_S = 1.0


@dataclass
class Counters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    lost: int = 0  # seqs the device dropped from a full backlog
    acks: int = 0
    replays: int = 0
    connections: int = 0
    pairings: int = 0
    bonded_reconnects: int = 0
    failures: int = 0
    commands_sent: int = 0


@dataclass
class GatewayOptions:
    passkey: int | None = None
    address: str | None = None      # only this device (default: first advertising the service)
    scan_timeout: float = 10.0
    connect_timeout: float = 10.0
    backoff_initial: float = 0.25
    backoff_max: float = 8.0
    max_sessions: int | None = None  # stop after this many sessions (tests, bench)
    stop_after_events: int | None = None  # stop once this many seqs are stored and acked


@dataclass
class SessionState:
    device_id: str
    contig: int                # every seq <= contig is stored (or known lost)
    acked: int                 # last ACK written to the device
    replay_from: int | None = None
    replay_at: float = 0.0
    seen: set[int] = field(default_factory=set)


Reporter = Callable[[str, dict[str, Any]], None]


class Gateway:
    def __init__(self, backend: Backend, store: Store, options: GatewayOptions,
                 report: Reporter | None = None, forward: Callable[[str, dict], None] | None = None):
        self.backend = backend
        self.store = store
        self.opts = options
        self.counters = Counters()
        self._report = report or (lambda what, info: None)
        self._forward = forward
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def report(self, what: str, **info: Any) -> None:
        self._report(what, info)

    # -- connection management ------------------------------------------------------------
    async def run(self) -> Counters:
        await self.backend.open()
        backoff = self.opts.backoff_initial
        sessions = 0
        try:
            while not self._stop.is_set():
                if self.opts.max_sessions is not None and sessions >= self.opts.max_sessions:
                    break
                sessions += 1
                try:
                    await self._one_session()
                    backoff = self.opts.backoff_initial
                except PairingError as exc:
                    self.counters.failures += 1
                    self.report("pairing_failed", error=str(exc))
                except (LinkError, asyncio.TimeoutError, pl.PayloadError) as exc:
                    self.counters.failures += 1
                    self.report("link_failed", error=str(exc))
                except Exception as exc:  # backend errors (ATT, HCI, transport): reconnect
                    self.counters.failures += 1
                    log.debug("session failed", exc_info=True)
                    self.report("link_failed", error=repr(exc))
                if self._stop.is_set():
                    break
                self.report("backoff", seconds=backoff)
                try:
                    await asyncio.wait_for(self._stop.wait(), backoff)
                except asyncio.TimeoutError:
                    pass
                backoff = min(backoff * 2, self.opts.backoff_max)
        finally:
            await self.backend.close()
        return self.counters

    async def _unless_stopped(self, coro: Any) -> Any:
        """Await `coro`, or cancel it when stop() is called (a scan may last minutes): raises
        asyncio.CancelledError then. Once a link serves events, _serve stops it gracefully."""
        task = asyncio.ensure_future(coro)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise asyncio.CancelledError("gateway stopped")
        return task.result()

    async def _one_session(self) -> None:
        try:
            address = await self._unless_stopped(self.backend.find(pl.SERVICE_UUID, self.opts.address,
                                                                   self.opts.scan_timeout))
            link = await self._unless_stopped(self.backend.connect(address, self.opts.connect_timeout))
        except asyncio.CancelledError:
            if self._stop.is_set():
                return
            raise
        self.counters.connections += 1
        self.report("connected", address=address)
        try:
            t0 = time.perf_counter()
            try:
                bonded = await self._unless_stopped(link.secure(self.opts.passkey))
            except asyncio.CancelledError:
                if self._stop.is_set():
                    return
                raise
            if bonded:
                self.counters.bonded_reconnects += 1
            else:
                self.counters.pairings += 1
            self.report("secured", address=address, bonded=bonded,
                        seconds=round(time.perf_counter() - t0, 4))
            await self._serve(link)
        finally:
            await link.close()
            self.report("disconnected", address=address)

    # -- one secured link -------------------------------------------------------------------
    async def _serve(self, link: Link) -> None:
        status = pl.decode_status(await link.read_status())
        device_id = link.address
        self.store.upsert_device(device_id, model_id=pl.model_id_hex(status.model_id),
                                 fw_version=status.fw_version, last_seen=time.time(),
                                 state=status.state, threshold=status.threshold_on, source="ble")
        # Everything <= the device's acked_seq was stored by a gateway already.
        start = max(status.acked_seq, 0)
        contig = self.store.contiguous_seq(device_id, start)
        st = SessionState(device_id=device_id, contig=contig, acked=status.acked_seq)
        self.report("status", device_id=device_id, **asdict(status), contig=contig)

        queue: asyncio.Queue[bytes] = asyncio.Queue()
        await link.subscribe(queue.put_nowait)
        self.report("subscribed", device_id=device_id)
        # Always ACK once now: it also starts the stream when the device restored our
        # subscription from the bond (and ACKs what was stored before a crash).
        await self._ack(link, st)
        debounce = (status.k, status.n)  # for threshold-only commands (C9 payload)
        await self._send_commands(link, device_id, debounce)

        gone = asyncio.ensure_future(link.wait_disconnected())
        stop = asyncio.ensure_future(self._stop.wait())
        next_poll = 0.0
        try:
            while True:
                get = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({get, gone, stop}, timeout=COMMAND_POLL_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                if get in done:
                    batch = [get.result()]
                    while len(batch) < MAX_BATCH and not queue.empty():
                        batch.append(queue.get_nowait())
                    await self._handle_batch(link, st, batch)
                if gone in done:
                    raise LinkError(f"{device_id} disconnected")
                if stop in done or self._done(st):
                    if self._done(st):
                        await self._send_commands(link, device_id, debounce)
                        self._stop.set()
                    return
                if time.monotonic() >= next_poll:
                    await self._send_commands(link, device_id, debounce)
                    await self._check_replay(link, st)
                    next_poll = time.monotonic() + COMMAND_POLL_S
        finally:
            for f in (gone, stop):
                f.cancel()

    def _done(self, st: SessionState) -> bool:
        n = self.opts.stop_after_events
        return n is not None and st.acked >= n

    async def _handle_batch(self, link: Link, st: SessionState, batch: list[bytes]) -> None:
        now = time.time()
        events: list[pl.Event] = []
        for data in batch:
            self.counters.received += 1
            try:
                events.append(pl.decode_event(data))
            except pl.PayloadError as exc:
                self.counters.malformed += 1
                log.debug("dropped notification %s: %s", bytes(data).hex(), exc)
        rows = [dict(seq=e.seq, kind=e.kind, state=e.state, score=e.score,
                     uptime_ms=e.uptime_ms, model_id=pl.model_id_hex(e.model_id), flags=e.flags,
                     received_at=now) for e in events if e.seq > st.contig]
        inserted = self.store.insert_events(st.device_id, rows)  # committed (durable) here
        self.counters.stored += inserted
        self.counters.duplicates += len(events) - inserted
        if events:
            last = events[-1]
            self.store.upsert_device(st.device_id, last_seen=now, state=last.state,
                                     uptime_ms=last.uptime_ms)
        calibrated = [r for r in rows if r["kind"] == pl.KIND_CALIBRATED]
        if inserted and calibrated:  # its score is the device's new threshold_on (C5b)
            newest = max(calibrated, key=lambda r: r["seq"])
            self.store.upsert_device(st.device_id, threshold=newest["score"])
        if self._forward is not None and inserted:
            for r in rows:
                self._forward(st.device_id, r)

        # Seqs below an overflow-flagged event that are still missing are lost for good.
        for e in events:
            if e.overflowed and e.seq - 1 > st.contig:
                have = self.store.contiguous_seq(st.device_id, st.contig)
                missing = self._count_missing(st.device_id, st.contig, e.seq - 1)
                if missing:
                    self.counters.lost += missing
                    self.report("lost", device_id=st.device_id, before=e.seq, count=missing)
                st.contig = max(have, e.seq - 1)
        st.contig = self.store.contiguous_seq(st.device_id, st.contig)
        if st.contig > st.acked:
            await self._ack(link, st)
        if st.replay_from is not None and st.contig >= st.replay_from:
            st.replay_from = None
        newest = max((e.seq for e in events), default=st.contig)
        if newest > st.contig + 1 and st.replay_from is None:
            await self._request_replay(link, st)

    def _count_missing(self, device_id: str, after: int, upto: int) -> int:
        rows = self.store.db.execute(
            "SELECT COUNT(*) FROM events WHERE device_id = ? AND seq > ? AND seq <= ?",
            (device_id, after, upto)).fetchone()[0]
        return (upto - after) - rows

    async def _ack(self, link: Link, st: SessionState) -> None:
        await link.write_control(pl.encode_ack(st.contig))
        st.acked = st.contig
        self.counters.acks += 1
        self.report("acked", device_id=st.device_id, seq=st.contig)

    async def _request_replay(self, link: Link, st: SessionState) -> None:
        st.replay_from = st.contig + 1
        st.replay_at = time.monotonic()
        self.counters.replays += 1
        self.report("replay", device_id=st.device_id, seq=st.replay_from)
        await link.write_control(pl.encode_replay(st.replay_from))

    async def _check_replay(self, link: Link, st: SessionState) -> None:
        if st.replay_from is not None and time.monotonic() - st.replay_at > REPLAY_TIMEOUT_S:
            await self._request_replay(link, st)

    async def _send_commands(self, link: Link, device_id: str,
                             debounce: tuple[int, int] | None = None) -> None:
        """Forward queued `config` and `calibrate` commands. A config payload without k and n
        (the dashboard's threshold change) keeps the device's current `debounce` = (k, n)."""
        for cmd in self.store.pending_commands(device_id):
            if cmd["kind"] not in ("config", "calibrate"):
                log.warning("command %s: unknown kind %r, skipped", cmd["id"], cmd["kind"])
                self.store.mark_sent(cmd["id"])
                continue
            p = cmd["payload"]
            threshold = None
            try:
                if not isinstance(p, dict):
                    raise RangeError("payload", f"payload {p!r} is not an object")
                if cmd["kind"] == "calibrate":
                    # the new threshold is known once the device reports CALIBRATED (kind 6)
                    data = pl.encode_calibrate(check_request(p))
                else:
                    cfg = check_config(p)
                    if "k" not in cfg and debounce is not None:
                        cfg["k"], cfg["n"] = debounce
                    data = pl.encode_config(cfg["threshold_on"], cfg["threshold_off"],
                                            cfg.get("k"), cfg.get("n"))
                    threshold = cfg["threshold_on"]
            except RangeError as exc:  # DecisionError is one too
                log.warning("command %s: bad %s payload %r (%s), skipped", cmd["id"], cmd["kind"],
                            p, exc)
                self.report("command_rejected", device_id=device_id, id=cmd["id"], error=str(exc))
                self.store.mark_sent(cmd["id"])
                continue
            await link.write_control(data)
            self.store.mark_sent(cmd["id"])
            if threshold is not None:
                self.store.upsert_device(device_id, threshold=threshold)
            self.counters.commands_sent += 1
            self.report("command_sent", device_id=device_id, id=cmd["id"], kind=cmd["kind"])
