"""One lane per endpoint: its queue, at most a few requests in flight, its breaker and rate limit.

Isolation is structural: each lane has its own ``HUB_DELIVERY_MAX_IN_FLIGHT`` worker tasks and its own
queue of at most ``HUB_DELIVERY_QUEUE_LIMIT`` deliveries; when the queue is full (the endpoint is slow),
down (the breaker is open) or paused, new deliveries for it are parked in the store instead
(:meth:`Lane.accepting`), so the consumer never waits on one endpoint and no endpoint waits on another.

A lane does no bookkeeping of its own: it hands every result to its host (the dispatcher, which passes
it to the journal) and keeps a delivery *leased* (:attr:`Lane.leased`) from the moment it is queued
until the journal has committed its outcome, so the scheduler never fetches it twice.

Invariants: at most ``max_in_flight`` requests of a lane are in flight; a job whose attempt the breaker
or the endpoint's status refuses is handed back (``defer``) without an attempt; only the attempt the
breaker let through as its probe reports ``probe=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from hub.delivery import signing
from hub.delivery.breaker import Breaker, State
from hub.delivery.model import Delivery, Endpoint, EndpointStatus, Mode
from hub.delivery.outcome import Answer, ok
from hub.delivery.sender import Sender
from hub.delivery.throttle import TokenBucket

TP = tuple[str, int]


@dataclass(slots=True)
class Job:
    delivery: Delivery
    body: bytes | None  # None: read the record again from Kafka (a resend of a delivered one)
    origin: tuple[TP, int] | None = None  # (partition, offset) of a record not yet settled in the book
    probe: bool = False


class Host(Protocol):
    def outcome(self, lane: Lane, job: Job, body: bytes | None, answer: Answer | None,
                audit: Any = None) -> None: ...
    async def audit(self, lane: Lane, job: Job, body: bytes) -> Any: ...
    def defer(self, lane: Lane, job: Job) -> None: ...
    async def body_of(self, delivery: Delivery) -> bytes | None: ...
    def want_more(self, lane: Lane) -> None: ...
    def breaker_moved(self, lane: Lane, before: State) -> None: ...


class Lane:
    def __init__(self, endpoint: Endpoint, topic: str, host: Host, sender: Sender, *, max_in_flight: int,
                 queue_limit: int, compression: float):
        self.endpoint = endpoint
        self.topic = topic
        self.host = host
        self.sender = sender
        self.compression = compression
        self.queue_limit = queue_limit
        self.breaker = Breaker(compression)
        self.bucket = TokenBucket(endpoint.rate_limit, now=time.time())
        self.queue: deque[Job] = deque()
        self.leased: set[str] = set()
        self.busy: set[str] = set()  # fifo: requests with an unresolved delivery to this endpoint
        self.failing_since = endpoint.failing_since
        self.more_due = False  # the scheduler left due deliveries in the store for want of room
        self.in_flight = 0
        self._ready = asyncio.Event()
        self._tasks = [asyncio.create_task(self._work(), name=f"lane-{endpoint.id}-{i}")
                       for i in range(max_in_flight)]

    @property
    def id(self) -> str:
        return self.endpoint.id

    @property
    def fifo(self) -> bool:
        return self.endpoint.mode is Mode.FIFO

    def update(self, endpoint: Endpoint) -> None:
        if endpoint.rate_limit != self.endpoint.rate_limit:
            self.bucket = TokenBucket(endpoint.rate_limit, now=time.time())
        self.endpoint = endpoint

    def room(self) -> int:
        """How many more deliveries the lane takes in memory."""
        return max(0, self.queue_limit - len(self.leased))

    def sendable(self) -> bool:
        return self.endpoint.status is EndpointStatus.ACTIVE

    def accepting(self) -> bool:
        """Does a new delivery go to the queue (else it is parked in the store)?"""
        return self.sendable() and self.breaker.state is State.CLOSED and self.room() > 0

    def push(self, job: Job) -> None:
        self.leased.add(job.delivery.id)
        self.queue.append(job)
        self._ready.set()

    def release(self, delivery_id: str) -> None:
        """The journal committed this delivery's outcome."""
        self.leased.discard(delivery_id)

    def secrets(self, now: float) -> list[str]:
        e = self.endpoint
        return signing.signing_secrets(e.secret, e.previous_secret, e.previous_until, now)

    async def _next(self) -> Job:
        while not self.queue:
            self._ready.clear()
            await self._ready.wait()
        return self.queue.popleft()

    async def _work(self) -> None:
        while True:
            job = await self._next()
            self.in_flight += 1
            try:
                await self._attempt(job)
            finally:
                self.in_flight -= 1
                if self.more_due and len(self.queue) < len(self._tasks):
                    self.host.want_more(self)

    async def _attempt(self, job: Job) -> None:
        if not self.sendable() or not self.breaker.allow(time.time()):
            self.host.defer(self, job)
            return
        job.probe = self.breaker.state is State.HALF_OPEN
        while (wait := self.bucket.take(time.time())) > 0:
            await asyncio.sleep(wait)
        body = job.body if job.body is not None else await self.host.body_of(job.delivery)
        answer = audit = None
        if body is not None:
            answer = await self.sender.deliver(self.endpoint.url, self.secrets(time.time()),
                                               job.delivery.ce_id, body)
            before = self.breaker.state
            self.breaker.record(time.time(), ok(answer), probe=job.probe)
            if self.breaker.state is not before:
                self.host.breaker_moved(self, before)
            if ok(answer) and job.delivery.personal:  # on its way to hub.audit.v1 at once
                audit = await self.host.audit(self, job, body)
        self.host.outcome(self, job, body, answer, audit)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def idle(self) -> bool:
        return not self.queue and self.in_flight == 0
