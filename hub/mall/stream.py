"""The live stream (server-sent events) of the mall feed: every new step the view stored, in the view's order.

Each event is ``id: <partition>:<offset>`` (its position on the feed), ``event: request`` and a JSON
``data`` line (no personal data: the view holds none). A client that reconnects sends the last id it saw as
``Last-Event-ID`` and gets everything after it: the id names a stored step, whose ``seq`` (the view's own
order) says where to resume, from memory when recent (:attr:`Broadcaster.buffer`), else from the database. An
id the view does not know (the view was rebuilt, or the id is not ours) starts the client at the live end with
an ``event: reset`` first, so a dashboard reloads its snapshot. A comment line every heartbeat keeps proxies
and the client's own timeout from closing an idle stream.

One :class:`Broadcaster` per process: the follower ``publish``-es each committed batch; each client's
generator waits on one shared "something new" event, then reads the buffer, so fanning out to many clients
costs one JSON encoding per event, not one per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from hub import metrics
from hub.mall.store import Applied, ViewStore
from hub.mall.view import StreamEvent

__all__ = ["Broadcaster", "Frame", "HEARTBEAT", "RESET"]

HEARTBEAT = ": heartbeat\n\n"
RESET = 'event: reset\ndata: {"reason": "unknown Last-Event-ID: reload the view"}\n\n'
RETRY_MS = 3000
STORE_PAGE = 500


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    agency: str
    text: str  # the SSE frame, encoded once

    @classmethod
    def of(cls, event: StreamEvent) -> Frame:
        data = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)
        return cls(event.seq, event.agency, f"id: {event.id}\nevent: request\ndata: {data}\n\n")


def parse_event_id(value: str) -> tuple[int, int] | None:
    partition, sep, offset = value.strip().partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        return None
    return int(partition), int(offset)


class Broadcaster:
    def __init__(self, store: ViewStore, *, buffer: int = 20000, heartbeat: float = 15.0):
        self.store = store
        self.buffer: deque[Frame] = deque(maxlen=buffer)
        self.heartbeat = heartbeat
        self.latest = 0
        self._news = asyncio.Event()
        self.clients = 0

    async def start(self) -> None:
        self.latest = await self.store.last_seq()

    def publish(self, applied: Applied) -> None:
        """A committed batch: its new steps go to every client."""
        self.extend(applied.events)

    def extend(self, events: Iterable[StreamEvent]) -> None:
        added = False
        for event in events:
            self.buffer.append(Frame.of(event))
            self.latest = max(self.latest, event.seq)
            added = True
        if added:
            news, self._news = self._news, asyncio.Event()
            news.set()

    def reset(self) -> None:
        """The view was emptied (rebuilt): forget what was sent."""
        self.buffer.clear()
        self.latest = 0

    async def resume_point(self, last_event_id: str | None) -> tuple[int, bool]:
        """(seq to stream after, whether the client must reload): the live end without an id."""
        if not last_event_id:
            return self.latest, False
        position = parse_event_id(last_event_id)
        seq = await self.store.seq_at(*position) if position else None
        if seq is None:
            return self.latest, True
        return seq, False

    async def _after(self, seq: int) -> list[Frame]:
        if self.buffer and seq >= self.buffer[0].seq - 1:
            return [f for f in self.buffer if f.seq > seq] if seq < self.latest else []
        if seq >= self.latest:
            return []
        return [Frame.of(e) for e in await self.store.stream_after(seq, STORE_PAGE)]

    async def frames(self, after: int, agency: str | None = None, *,
                     reload: bool = False) -> AsyncIterator[str]:
        """The SSE text for one client, from ``after`` on, only ``agency``'s steps if given; never ends."""
        self.clients += 1
        metrics.MALL_SSE_CLIENTS.inc()
        try:
            yield f"retry: {RETRY_MS}\n\n"
            if reload:
                yield RESET
            while True:
                news = self._news
                frames = await self._after(after)
                for frame in frames:
                    after = frame.seq
                    if agency is None or frame.agency == agency:
                        yield frame.text
                if frames:
                    continue
                try:
                    await asyncio.wait_for(news.wait(), self.heartbeat)
                except TimeoutError:
                    yield HEARTBEAT
        finally:
            self.clients -= 1
            metrics.MALL_SSE_CLIENTS.dec()

    async def aclose(self) -> None:
        """Wake every waiting client (they end when their connection closes)."""
        with contextlib.suppress(Exception):
            self._news.set()
