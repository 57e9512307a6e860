"""Live updates: one poller tails the store, every browser gets server-sent events.

A single task reads new `events` rows after the store's cursor (SQLite's rowid; the fleet's
id) and fans them out to bounded per-client queues. It wakes every `poll_s` on SQLite (the
gateway is another process: no change notification) and at once on PostgreSQL's NOTIFY. The
cost per wake is one indexed range query whatever the number of clients; a client too slow to
drain its queue is dropped (its browser reconnects with Last-Event-ID and backfills).
Memory per client is bounded: each event is encoded once and every queue holds a
reference to the same item (8 bytes a slot), writes are cut at CHUNK_BYTES, and the
number of streams is capped by `limits.StreamSlots`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from .queries import StoreReader

log = logging.getLogger("imuad.dashboard")

POLL_S = 0.1
QUEUE_MAX = 20000
KEEPALIVE_S = 15.0
DISCONNECT_CHECK_S = 2.0
MAX_BACKFILL = 5000
CHUNK_BYTES = 64 * 1024  # one socket write: a stalled client holds at most about this much


@dataclass(eq=False)
class Subscriber:
    device_id: str | None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: bool = False


class Broadcaster:
    def __init__(self, reader: StoreReader, poll_s: float = POLL_S) -> None:
        self.reader = reader
        self.poll_s = poll_s
        self.cursor = 0
        self.subscribers: set[Subscriber] = set()
        self._devices_version: tuple[Any, ...] | None = None
        self._task: asyncio.Task | None = None
        self.error: str | None = None  # last store error of the poller, logged once

    async def start(self) -> None:
        self.cursor = await asyncio.to_thread(self.reader.max_event_id)
        self._devices_version = await asyncio.to_thread(self.reader.devices_version)
        self._task = asyncio.create_task(self._run(), name="imuad-live-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for sub in list(self.subscribers):
            self._push(sub, None)

    def subscribe(self, device_id: str | None) -> Subscriber:
        sub = Subscriber(device_id)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def _push(self, sub: Subscriber, item: tuple[str, Any] | None) -> None:
        try:
            sub.queue.put_nowait(item)
        except asyncio.QueueFull:
            sub.dropped = True
            self.subscribers.discard(sub)

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except self.reader.source.errors as exc:  # damaged, locked or unreachable store: one line, retry
                if str(exc) != self.error:
                    log.warning("live poller: store %s unreadable (%s); retrying",
                                self.reader.path, exc)
                self.error = str(exc)
            except Exception:  # anything else must not kill live updates either
                log.exception("live poller: store read failed, retrying")
            else:
                self.error = None
            try:  # PostgreSQL wakes this at once with NOTIFY; SQLite just sleeps
                await self.reader.source.wait_change(self.poll_s)
            except self.reader.source.errors as exc:
                if str(exc) != self.error:
                    log.warning("live poller: no change notification from %s (%s); retrying",
                                self.reader.path, exc)
                self.error = str(exc)

    async def poll_once(self) -> int:
        events = await asyncio.to_thread(self.reader.events_after, self.cursor)
        while events:
            self.cursor = events[-1]["id"]
            subs = list(self.subscribers)
            for ev in events:
                item = None  # encoded once; every queue holds the same object
                for sub in subs:
                    if sub.device_id is None or sub.device_id == ev["device_id"]:
                        if item is None:
                            item = ("event", (ev["id"], sse("event", ev, ev["id"])))
                        self._push(sub, item)
            if len(events) < 5000:
                break
            events = await asyncio.to_thread(self.reader.events_after, self.cursor)
        version = await asyncio.to_thread(self.reader.devices_version)
        if version != self._devices_version:
            self._devices_version = version
            item = ("devices", None)
            for sub in list(self.subscribers):
                self._push(sub, item)
        return self.cursor


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(bc: Broadcaster, device_id: str | None, last_id: int | None,
                 is_disconnected: Any, max_events: int | None = None) -> AsyncIterator[str]:
    """SSE body: backfill after Last-Event-ID, then live events until the client leaves."""
    sub = bc.subscribe(device_id)
    sent = 0
    seen: set[int] = set()  # backlog ids, so queued duplicates are skipped
    last_write = time.monotonic()
    try:
        yield "retry: 2000\n\n"
        if last_id is not None:
            backlog = await asyncio.to_thread(bc.reader.events_after, last_id, MAX_BACKFILL)
            for ev in backlog:
                if device_id is None or ev["device_id"] == device_id:
                    seen.add(ev["id"])
                    yield sse("event", ev, ev["id"])
                    sent += 1
        while max_events is None or sent < max_events:
            if sub.dropped and sub.queue.empty():
                return  # too slow: the browser reconnects with Last-Event-ID
            try:
                item = await asyncio.wait_for(sub.queue.get(), DISCONNECT_CHECK_S)
            except asyncio.TimeoutError:
                # an idle stream only learns of a closed socket by asking: do so every few
                # seconds, so a departed browser does not stay subscribed
                if await is_disconnected():
                    return
                now = time.monotonic()
                if now - last_write >= KEEPALIVE_S:
                    last_write = now
                    yield ": keepalive\n\n"
                continue
            last_write = time.monotonic()
            # drain what is already queued into one write: at 1000 events/s this is one
            # socket send per poll instead of one per event
            chunk: list[str] = []
            size = 0
            while True:
                if item is None:
                    if chunk:
                        yield "".join(chunk)
                    return
                kind, payload = item
                if kind == "event":
                    event_id, text = payload
                    if event_id not in seen and (max_events is None or sent < max_events):
                        chunk.append(text)
                        size += len(text)
                        sent += 1
                else:
                    chunk.append(sse(kind, payload))
                if size >= CHUNK_BYTES or sub.queue.empty() or \
                        (max_events is not None and sent >= max_events):
                    break
                item = sub.queue.get_nowait()
            if chunk:
                yield "".join(chunk)
    finally:
        bc.unsubscribe(sub)
