"""The dispatcher's single writer: admissions, outcomes and input offsets, one transaction per cycle.

Everything that changes a delivery goes through :class:`Journal`, in order, so its decisions never race:

* **admit** a batch of records read from agency topics: find the deliveries a crash may have left
  (``sending`` ones are attempted again with the same sequence number, hence the same body), reserve
  sequence numbers for new ones, and decide per delivery: *send* now (queued in the endpoint's lane),
  *park* it (``scheduled``, due now: the lane is full, the breaker open or the endpoint paused), *hold*
  it (fifo: the request already has an unresolved delivery to this endpoint) or *skip* it (the endpoint
  is disabled);
* an attempt's **outcome** (``hub.delivery.outcome.decide``): delivered, scheduled for later, exhausted,
  or the endpoint is gone; the attempt log row; in fifo mode the request's next held delivery is
  released when one is delivered or exhausted;
* a **deferred** job (breaker open, endpoint paused): parked without using up an attempt.

Each cycle takes every operation queued since the last one, waits until the audit entries of its
deliveries of personal data are on ``hub.audit.v1`` (sent by the lane as soon as the 2xx came,
acknowledged by the brokers *before* the delivery is marked delivered: at least once, with a stable
audit id), then writes one store transaction that also saves the input offsets the book allows
(``hub.delivery.offsets``). Only after the commit are jobs queued,
leases released and offsets committed to Kafka: a ``kill -9`` at any point leaves the store and the
offsets consistent, and the records after the saved offsets are read again.

A store that fails mid-cycle is not retried here: the error stops the dispatcher (its orchestrator
restarts it, and it resumes from the store), because the in-memory book and fifo sets have moved.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hub import metrics
from hub.core.models import RequestLifecycleEvent
from hub.delivery import breaker as breakers
from hub.delivery import payload
from hub.delivery.lanes import Job, Lane
from hub.delivery.model import Attempt, Delivery, EndpointStatus, Notice, State
from hub.delivery.offsets import TP, OffsetBook
from hub.delivery.outcome import Answer, Verdict, decide, ok, result
from hub.delivery.store import SubscriptionStore, Unit
from hub.wire.cloudevents import CloudEvent

log = logging.getLogger("hub.delivery")
AUDIT_BACKOFF_MAX = 10.0
ACK_WAIT = 1.0  # the longest a cycle of outcomes only waits for audit acknowledgements before it looks again
#: ``hub_delivery_outcomes_total{outcome}`` values.
OUTCOMES = ("delivered", "exhausted", "skipped", "parked")


@dataclass(slots=True)
class Incoming:
    """One record read from an agency topic and the lanes whose filters select it."""

    tp: TP
    offset: int
    meta: CloudEvent
    event: RequestLifecycleEvent
    lanes: list[Lane]
    data: str | None = None  # the event as JSON, made once for all its endpoints


@dataclass(slots=True)
class _Admit:
    records: list[Incoming]
    empty: list[tuple[TP, int]]  # records no endpoint wants (or that could not be read)


@dataclass(slots=True)
class Audit:
    """An audit entry on its way to ``hub.audit.v1``: ``ack`` resolves when the brokers have it."""

    record: dict[str, object]  # the AuditEntry as its Avro record (``hub.delivery.payload.audit_record``)
    ack: asyncio.Future[object]


@dataclass(slots=True)
class _Outcome:
    lane: Lane
    job: Job
    body: bytes | None
    answer: Answer | None
    at: float
    audit: Audit | None = None


@dataclass(slots=True)
class _Defer:
    lane: Lane
    job: Job


@dataclass(slots=True)
class _Note:
    lane: Lane
    kind: str
    message: str


Op = _Admit | _Outcome | _Defer | _Note


class Hooks(Protocol):
    def hint(self, at: float) -> None: ...
    def committed(self, offsets: dict[TP, int]) -> None: ...
    async def send_audit(self, record: dict[str, object]) -> asyncio.Future[object]:
        """Hand the entry to the producer; the future resolves when the brokers acknowledge it."""
        ...


@dataclass(slots=True)
class _Effects:
    pushes: list[tuple[Lane, Job]] = field(default_factory=list)
    releases: list[tuple[Lane, str]] = field(default_factory=list)
    updates: list[Delivery] = field(default_factory=list)  # written once, at the end of the cycle
    attempts: list[Attempt] = field(default_factory=list)
    hint: float | None = None

    def wake(self, at: float) -> None:
        self.hint = at if self.hint is None else min(self.hint, at)


_ids = random.Random()


def _unacknowledged(op: Op) -> bool:
    return isinstance(op, _Outcome) and op.audit is not None and not op.audit.ack.done()


def new_id() -> str:
    """A delivery id (80 random bits; an identifier, not a secret: the API's tokens protect what it opens)."""
    return f"dl_{_ids.getrandbits(80):020x}"


class Journal:
    def __init__(self, store: SubscriptionStore, book: OffsetBook, hooks: Hooks, *, group: str,
                 compression: float, rng: random.Random | None = None):
        self.store = store
        self.book = book
        self.hooks = hooks
        self.group = group
        self.compression = compression
        self.rng = rng or random.Random()
        self.last_notice: dict[str, float | None] = {}
        self._ops: list[tuple[Op, asyncio.Future[None] | None]] = []
        self._wake = asyncio.Event()

    # -- submitting ----------------------------------------------------------------------------------
    def _submit(self, op: Op, wait: bool) -> asyncio.Future[None] | None:
        future = asyncio.get_running_loop().create_future() if wait else None
        self._ops.append((op, future))
        self._wake.set()
        return future

    def admit(self, records: list[Incoming], empty: list[tuple[TP, int]]) -> asyncio.Future[None]:
        """Admit a batch; the future resolves once it is committed (and its jobs are queued)."""
        future = self._submit(_Admit(records, empty), wait=True)
        assert future is not None
        return future

    def outcome(self, lane: Lane, job: Job, body: bytes | None, answer: Answer | None,
                audit: Audit | None = None) -> None:
        self._submit(_Outcome(lane, job, body, answer, time.time(), audit), wait=False)

    def defer(self, lane: Lane, job: Job) -> None:
        self._submit(_Defer(lane, job), wait=False)

    def note(self, lane: Lane, kind: str, message: str) -> None:
        self._submit(_Note(lane, kind, message), wait=False)

    def pending(self) -> int:
        return len(self._ops)

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed."""
        future = self._submit(_Admit([], []), wait=True)
        assert future is not None
        await future

    # -- the cycle -----------------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        while not (stopping.is_set() and not self._ops):
            if not self._ops:
                self._wake.clear()
                waiter = asyncio.create_task(self._wake.wait())
                stop = asyncio.create_task(stopping.wait())
                await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stop.cancel()
                continue
            batch, self._ops = self._ops, []
            # An outcome whose audit entry the brokers have not acknowledged yet waits for a later cycle,
            # so that it holds back neither admissions nor other outcomes.
            waiting = [(op, f) for op, f in batch if _unacknowledged(op)]
            if waiting:
                batch = [(op, f) for op, f in batch if not _unacknowledged(op)]
                self._ops = waiting + self._ops
                if not batch:
                    await self._await_ack_or_work(waiting)
                    continue
            try:
                await self._cycle([op for op, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("stopped"))
                raise
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_result(None)

    async def _await_ack_or_work(self, waiting: list[tuple[Op, asyncio.Future[None] | None]]) -> None:
        self._wake.clear()
        acks = {op.audit.ack for op, _ in waiting if isinstance(op, _Outcome) and op.audit is not None}
        work = asyncio.ensure_future(self._wake.wait())
        watched: set[asyncio.Future[Any]] = {*acks, work}
        await asyncio.wait(watched, timeout=ACK_WAIT, return_when=asyncio.FIRST_COMPLETED)
        work.cancel()

    async def _cycle(self, ops: Sequence[Op]) -> None:
        await self._confirm_audit(ops)
        now = time.time()
        effects = _Effects()
        async with self.store.unit() as unit:
            for op in ops:
                if isinstance(op, _Admit):
                    await self._apply_admit(unit, op, now, effects)
                elif isinstance(op, _Outcome):
                    await self._apply_outcome(unit, op, effects)
                elif isinstance(op, _Defer):
                    await self._apply_defer(unit, op, now, effects)
                else:
                    await self._apply_note(unit, op, now)
            await unit.update(effects.updates)
            await unit.log(effects.attempts)
            offsets = self.book.changes()
            if offsets:
                await unit.save_offsets(self.group, offsets, now)
        for lane, job in effects.pushes:
            lane.push(job)
        for lane, delivery_id in effects.releases:
            lane.release(delivery_id)
        if effects.hint is not None:
            self.hooks.hint(effects.hint)
        if offsets:
            self.hooks.committed(offsets)

    async def _confirm_audit(self, ops: Sequence[Op]) -> None:
        """Every audit entry of this cycle's deliveries acknowledged before they are marked delivered (sent
        when the answer came; one the brokers refused is sent again until they take it)."""
        for op in ops:
            if not isinstance(op, _Outcome) or op.audit is None:
                continue
            backoff = 0.2
            while True:
                try:
                    await op.audit.ack
                    break
                except Exception as exc:  # the brokers are away: nothing is marked delivered meanwhile
                    log.warning("audit entry not written (%r); retrying in %.1fs", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, AUDIT_BACKOFF_MAX)
                    op.audit.ack = await self.hooks.send_audit(op.audit.record)

    # -- admission -----------------------------------------------------------------------------------
    async def _apply_admit(self, unit: Unit, op: _Admit, now: float, fx: _Effects) -> None:
        for tp, offset in op.empty:
            self.book.read(tp, offset, 0)
        if not op.records:
            return
        keys = {(lane.id, r.meta.source, r.meta.id) for r in op.records for lane in r.lanes}
        existing = await unit.find(sorted(keys))
        wanted = Counter((lane.id, r.event.request_id) for r in op.records for lane in r.lanes
                         if (lane.id, r.meta.source, r.meta.id) not in existing)
        first = await unit.reserve(dict(wanted), now) if wanted else {}
        taken: Counter[tuple[str, str]] = Counter()
        queued: Counter[str] = Counter()
        inserts: list[Delivery] = []
        updates: list[Delivery] = []
        for record in op.records:
            unsettled = 0
            for lane in record.lanes:
                old = existing.get((lane.id, record.meta.source, record.meta.id))
                if old is not None and old.state is not State.SENDING:
                    continue  # decided before a restart: delivered, parked or skipped
                if old is None:
                    pair = (lane.id, record.event.request_id)
                    seq = first[pair] + taken[pair]
                    taken[pair] += 1
                    delivery = self._new(lane, record, seq, now)
                else:
                    delivery = old
                decided = self._decide(lane, record, delivery, now, queued, fx, again=old is not None)
                (inserts if old is None else updates).append(decided)
                if decided.state is State.SENDING:
                    unsettled += 1
            self.book.read(record.tp, record.offset, unsettled)
        await unit.insert(inserts)
        await unit.update(updates)

    def _new(self, lane: Lane, record: Incoming, seq: int, now: float) -> Delivery:
        meta, event = record.meta, record.event
        return Delivery(id=new_id(), endpoint_id=lane.id, agency=lane.endpoint.agency,
                        request_id=event.request_id, ce_source=meta.source, ce_id=meta.id, ce_type=meta.type,
                        seq=seq, topic=record.tp[0], partition=record.tp[1], offset=record.offset,
                        state=State.SENDING, created_at=now, updated_at=now,
                        personal=payload.personal_fields(event))

    def _decide(self, lane: Lane, record: Incoming, d: Delivery, now: float, queued: Counter[str],
                fx: _Effects, *, again: bool) -> Delivery:
        if lane.endpoint.status is EndpointStatus.DISABLED:
            self._count(lane, "skipped")
            return replace(d, state=State.SKIPPED, payload=None, updated_at=now)
        if record.data is None:
            record.data = payload.data(record.event)
        body = payload.body(record.meta, record.event, d.seq, record.data)
        request = d.request_id
        if lane.fifo and not again and request in lane.busy:
            return replace(d, state=State.HELD, payload=body.decode(), next_at=None, updated_at=now)
        if lane.fifo:
            lane.busy.add(request)  # at once: the next record of this batch must see it
        if lane.accepting() and queued[lane.id] < lane.room():
            queued[lane.id] += 1
            job = Job(replace(d, state=State.SENDING), body, (record.tp, record.offset))
            fx.pushes.append((lane, job))
            return job.delivery
        fx.wake(now)
        return replace(d, state=State.SCHEDULED, payload=body.decode(), next_at=now, updated_at=now)

    # -- outcomes ------------------------------------------------------------------------------------
    async def _apply_outcome(self, unit: Unit, op: _Outcome, fx: _Effects) -> None:
        lane, d, answer, now = op.lane, op.job.delivery, op.answer, op.at
        fx.releases.append((lane, d.id))
        if op.job.origin is not None:
            self.book.settle(*op.job.origin)
        if answer is None:
            new = replace(d, state=State.EXHAUSTED, next_at=None, updated_at=now,
                          last_error="the record is no longer on its topic")
            fx.updates.append(new)
            self._count(lane, "exhausted")
            await self._resolved(unit, lane, new, now, fx)
            return
        decision = decide(answer, d.round_attempts + 1, now, self.rng, self.compression)
        body = op.body.decode() if op.body is not None else None
        error = None if ok(answer) else (answer.error_class or f"HTTP {answer.status}")
        new = replace(d, attempts=d.attempts + 1, last_status=answer.status, updated_at=now, last_error=error)
        verdict = decision.verdict
        if verdict is Verdict.DELIVERED:
            new = replace(new, state=State.DELIVERED, next_at=None, payload=None)
        elif verdict is Verdict.EXHAUSTED:
            new = replace(new, state=State.EXHAUSTED, next_at=None, payload=body)
        else:
            new = replace(new, state=State.SCHEDULED, next_at=decision.next_at, payload=body)
            fx.wake(decision.next_at or now)
        fx.updates.append(new)
        fx.attempts.append(Attempt(
            delivery_id=d.id, endpoint_id=d.endpoint_id, event_id=d.ce_id, attempt=new.attempts,
            at=now - answer.duration, duration_ms=int(answer.duration * 1000), outcome=verdict.value,
            status_code=answer.status, error_class=answer.error_class, response=answer.excerpt,
            next_at=new.next_at))
        self._observe(lane, new, answer, now)
        await self._track_failing(unit, lane, ok(answer), now)
        if verdict is Verdict.GONE:
            await self._disable(unit, lane, now, "gone", "the endpoint answered 410 Gone")
        if new.state in (State.DELIVERED, State.EXHAUSTED):
            await self._resolved(unit, lane, new, now, fx)

    def _observe(self, lane: Lane, d: Delivery, answer: Answer, now: float) -> None:
        labels = (lane.endpoint.agency, lane.id)
        metrics.DELIVERY_ATTEMPTS.labels(*labels, result(answer)).inc()
        metrics.DELIVERY_REQUEST.labels(*labels).observe(answer.duration)
        if d.state is State.DELIVERED:
            self._count(lane, "delivered")
            metrics.DELIVERY_LATENCY.labels(*labels).observe(max(0.0, now - d.created_at))
        elif d.state is State.EXHAUSTED:
            self._count(lane, "exhausted")
            log.warning("delivery exhausted", extra={"endpoint_id": lane.id, "delivery_id": d.id,
                                                     "event_id": d.ce_id, "request_id": d.request_id})

    @staticmethod
    def _count(lane: Lane, what: str) -> None:
        metrics.DELIVERY_OUTCOMES.labels(lane.endpoint.agency, lane.id, what).inc()

    async def _resolved(self, unit: Unit, lane: Lane, d: Delivery, now: float, fx: _Effects) -> None:
        """fifo: the request's next held delivery may go."""
        if not lane.fifo:
            return
        released = await unit.release(lane.id, d.request_id, now)
        if released is not None:
            fx.wake(now)
        else:
            lane.busy.discard(d.request_id)  # at once: a later admission of this cycle must see it

    async def _track_failing(self, unit: Unit, lane: Lane, ok: bool, now: float) -> None:
        if ok:
            if lane.failing_since is not None:
                lane.failing_since = None
                await unit.set_endpoint(lane.id, now, failing_since=None)
            return
        if lane.failing_since is None:
            lane.failing_since = now
            await unit.set_endpoint(lane.id, now, failing_since=now)
        elif (lane.endpoint.status is EndpointStatus.ACTIVE
              and breakers.should_disable(lane.failing_since, now, self.compression)):
            await self._disable(unit, lane, now, "disabled", "no successful delivery for 5 days")

    async def _disable(self, unit: Unit, lane: Lane, now: float, kind: str, reason: str) -> None:
        if lane.endpoint.status is EndpointStatus.DISABLED:
            return
        await unit.set_endpoint(lane.id, now, status=EndpointStatus.DISABLED, disabled_reason=reason)
        lane.update(replace(lane.endpoint, status=EndpointStatus.DISABLED, disabled_reason=reason))
        metrics.DELIVERY_DISABLED.labels(lane.endpoint.agency, lane.id).set(1)
        log.warning("endpoint disabled: %s", reason,
                    extra={"endpoint_id": lane.id, "agency": lane.endpoint.agency})
        await self._notify(unit, lane, kind, f"endpoint {lane.id} disabled: {reason}", now, force=True)

    async def _notify(self, unit: Unit, lane: Lane, kind: str, message: str, now: float, *,
                      force: bool = False) -> None:
        agency = lane.endpoint.agency  # last_notice is preloaded by the dispatcher (no read inside a unit)
        if not force and not breakers.may_notify(self.last_notice.get(agency), now, self.compression):
            return
        self.last_notice[agency] = now
        await unit.notice(Notice(agency, lane.id, kind, message, now))
        metrics.DELIVERY_NOTICES.labels(agency, kind).inc()

    # -- deferred jobs, notes ------------------------------------------------------------------------
    async def _apply_defer(self, unit: Unit, op: _Defer, now: float, fx: _Effects) -> None:
        d = op.job.delivery
        fx.releases.append((op.lane, d.id))
        if op.job.origin is not None:
            self.book.settle(*op.job.origin)
        if d.state is State.SENDING and op.job.body is not None:
            fx.updates.append(replace(d, state=State.SCHEDULED, next_at=now, updated_at=now,
                                      payload=op.job.body.decode()))
            self._count(op.lane, "parked")

    async def _apply_note(self, unit: Unit, op: _Note, now: float) -> None:
        await self._notify(unit, op.lane, op.kind, op.message, now)

