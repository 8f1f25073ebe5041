"""The scheduler: feeds each lane the parked deliveries that fall due, from the store.

Per pass, for every sendable lane with room, it asks the store for that endpoint's due deliveries (``state
= scheduled``, ``next_at <= now``, on partitions this dispatcher owns, not already leased), at most as many
as the lane has room for: one endpoint with 100,000 due deliveries never crowds out another, because
each lane is fed separately. A lane whose breaker is open gets nothing until its probe time, then one
delivery (the probe); its due deliveries wait without using up attempts.

It sleeps until the earliest known due time, at most ``HUB_DELIVERY_POLL_SECONDS`` (other processes --
the API, the CLI -- make deliveries due too), and is woken early by :meth:`Scheduler.hint` (the journal
parked or released something, a lane ran low, an endpoint was resumed). Passes are at least
``MIN_PASS`` apart, so a busy dispatcher does not spend itself on queries.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable

from hub.delivery.breaker import State
from hub.delivery.lanes import Job, Lane
from hub.delivery.store import SubscriptionStore

MIN_PASS = 0.02


class Scheduler:
    def __init__(self, store: SubscriptionStore, lanes: Callable[[], Iterable[Lane]],
                 owned: Callable[[str], set[int]], poll: float):
        self.store = store
        self.lanes = lanes
        self.owned = owned
        self.poll = poll
        self._next = math.inf
        self._wake = asyncio.Event()

    def hint(self, at: float) -> None:
        """Something may fall due at ``at``: look by then."""
        if at < self._next:
            self._next = at
            self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self._next = math.inf
            until = await self.feed(time.time())
            await self._sleep(until)
            await asyncio.sleep(MIN_PASS)

    async def _sleep(self, until: float) -> None:
        while True:
            now = time.time()
            until = min(until, self._next)
            if now >= until:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), until - now)
            except asyncio.TimeoutError:
                return

    async def feed(self, now: float) -> float:
        """One pass; returns when the next one is due."""
        wake_at = now + self.poll
        for lane in list(self.lanes()):
            if not lane.sendable():
                continue
            partitions = self.owned(lane.topic)
            if not partitions:
                continue
            limit = lane.room()
            if lane.breaker.state is State.OPEN:
                if now < lane.breaker.probe_at:
                    wake_at = min(wake_at, lane.breaker.probe_at)
                    continue
                limit = 0 if lane.leased else 1  # one probe; a queued job may be it already
            if limit > 0:
                rows = await self.store.due(lane.id, partitions, now, limit, exclude=lane.leased)
                lane.more_due = len(rows) == limit and lane.breaker.state is State.CLOSED
                for delivery in rows:
                    body = delivery.payload.encode() if delivery.payload is not None else None
                    lane.push(Job(delivery, body))
            if not lane.more_due:
                earliest = await self.store.earliest(lane.id, partitions, now)
                if earliest is not None:
                    wake_at = min(wake_at, earliest)
        return wake_at
