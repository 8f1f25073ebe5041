"""``hub deliver``: the dispatcher, a consumer of the agency topics that POSTs to agency endpoints.

    agency.<code>.v1 ──► consume ──► filters ──► journal (admit) ──► lane per endpoint ──► HTTPS
                             ▲                       │    ▲                │ outcome
                   seek to the store's offsets       │    └──── journal ◄──┘ (attempt log, schedule)
                                                     └──► store ◄── scheduler (due deliveries) ──► lanes

* One consumer group (``HUB_DELIVERY_GROUP``, default ``<app_id>-dispatcher``) over every agency topic
  (subscribed by pattern: a topic created later joins); several dispatchers share the partitions. A
  dispatcher retries only the parked deliveries of the partitions it owns, so each delivery has one owner
  at a time.
* Input offsets live in the store and are saved in the same transaction as the deliveries they settle
  (``hub.delivery.journal``); on assignment the consumer seeks to them. They are also committed to Kafka,
  for lag monitoring. Records appended to a topic more than ``HISTORY_MARGIN`` before an endpoint
  existed are not delivered to it (a new endpoint does not get 30 days of history).
* Endpoints are read from the store every ``HUB_DELIVERY_REFRESH_SECONDS``; lanes follow
  (``hub.delivery.fleet``, which also keeps the gauges and purges old rows).
* Audit entries of deliveries of personal data go to ``hub.audit.v1`` through an idempotent producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from hub import metrics
from hub.core import catalogue
from hub.core.records import AuditEntry
from hub.delivery import breaker as breakers
from hub.delivery import payload, urlpolicy
from hub.delivery import sender as senders
from hub.delivery.filters import Subject, matches
from hub.delivery.fleet import Fleet
from hub.delivery.journal import Audit, Incoming, Journal
from hub.delivery.lanes import Job, Lane
from hub.delivery.model import Delivery
from hub.delivery.offsets import TP, OffsetBook
from hub.delivery.outcome import Answer
from hub.delivery.reader import RecordReader
from hub.delivery.scheduler import Scheduler
from hub.delivery.store import SubscriptionStore, open_store
from hub.ops import runtime
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec, Encoder, load_schema

log = logging.getLogger("hub.delivery")

HISTORY_MARGIN = 300.0
#: Operations the journal may have waiting before the consumer stops reading.
JOURNAL_BACKLOG = 20_000
#: Batches read while earlier ones are still being admitted (the journal commits them together).
ADMISSIONS_AHEAD = 2
#: The audit producer batches for this long: fewer, larger produce requests (no delivery waits on it but
#: its own outcome; the journal goes on with the others meanwhile).
AUDIT_LINGER_MS = 20
#: Deliveries queued in lanes that keep up, above which the consumer waits before reading more.
JOBS_AHEAD = 1000
DRAIN_SECONDS = 20.0


class _Listener(ConsumerRebalanceListener):
    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.dispatcher.revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.dispatcher.assigned(list(assigned))


class Dispatcher:
    """``await Dispatcher(settings).run(stopping)``; ``start``/``stop`` for tests that drive it."""

    def __init__(self, settings: Settings, *, store: SubscriptionStore | None = None,
                 agencies: list[str] | None = None):
        self.settings = settings
        self.store = store or open_store(settings)
        self.topics = {settings.agency_topic(a): a for a in (agencies or catalogue.agencies())}
        self.book = OffsetBook()
        self.owned_partitions: dict[str, set[int]] = {}
        self.journal = Journal(self.store, self.book, self, group=settings.delivery_consumer_group,
                               compression=settings.delivery_time_compression, rng=random.Random())
        self.scheduler = Scheduler(self.store, lambda: self.lanes.values(), self.owned,
                                   settings.delivery_poll_seconds)
        self.fleet = Fleet(settings, self.store, set(self.topics.values()),
                           last_notice=self.journal.last_notice, wake=self.scheduler.hint)
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()  # scheduler and refresh
        self._reading = asyncio.Event()  # set: the consumer stops reading
        self._journal_stop = asyncio.Event()  # set last: the journal finishes what it has and returns
        self._to_commit: dict[TP, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._codec: Codec | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._audit: Encoder | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> Dispatcher:
        s = self.settings
        await self.store.open()
        self._codec = Codec(registry(s))
        self.reader = RecordReader(s, self._codec)
        schema = load_schema(s.schemas_dir, AuditEntry.SCHEMA)
        self._audit = await asyncio.to_thread(self._codec.encoder, s.topic_audit, schema)
        self._producer = AIOKafkaProducer(**kafka_options(s), acks="all", enable_idempotence=True,
                                          linger_ms=AUDIT_LINGER_MS, max_batch_size=256 * 1024,
                                          client_id="hub-dispatcher")
        await self._producer.start()
        self.http = senders.client(s)
        self.sender = senders.Sender(self.http, senders.policy(s))
        await self.fleet.refresh(self, self.sender)
        # The journal runs before the consumer starts: joining the group calls the rebalance listener,
        # which flushes the journal (aiokafka's ``start`` joins the group before it returns).
        loops = (("journal", self.journal.run, self._journal_stop),
                 ("scheduler", self.scheduler.run, self._stopping),
                 ("refresh", self._refresh, self._stopping))
        self._tasks = {name: asyncio.create_task(loop(event), name=f"dispatcher-{name}")
                       for name, loop, event in loops}
        self._consumer = AIOKafkaConsumer(**kafka_options(s), group_id=s.delivery_consumer_group,
                                          enable_auto_commit=False, auto_offset_reset="earliest",
                                          client_id="hub-dispatcher", max_poll_records=s.delivery_batch_max)
        # A pattern, not a list: an agency topic that does not exist (yet) is no error, it joins when created.
        pattern = "^(?:" + "|".join(re.escape(t) for t in sorted(self.topics)) + ")$"
        self._consumer.subscribe(pattern=pattern, listener=_Listener(self))
        await self._consumer.start()
        self._tasks["consume"] = asyncio.create_task(self._consume(self._reading), name="dispatcher-consume")
        return self

    async def run(self, stopping: asyncio.Event) -> None:
        """Until ``stopping`` is set or a part of the dispatcher fails (then it raises, after stopping)."""
        await self.start()
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait({waiter, *self._tasks.values()}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in self._tasks.values():
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop reading, let the requests in flight finish (up to ``DRAIN_SECONDS``), save, close.
        What is still queued stays as the store has it: ``sending`` (read again after the saved offset)
        or ``scheduled``."""
        runtime.mark_ready(False, "stopping")
        self._reading.set()
        self._stopping.set()
        tasks, self._tasks = self._tasks, {}
        for name in ("consume", "scheduler", "refresh"):
            task = tasks.get(name)
            if task is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, DRAIN_SECONDS)
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and any(lane.in_flight for lane in self.lanes.values()):
            await asyncio.sleep(0.05)
        await self.fleet.close()
        self._journal_stop.set()
        journal = tasks.get("journal")
        if journal is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(journal, DRAIN_SECONDS)
        await self._commit_kafka()
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        with contextlib.suppress(Exception):
            await self.http.close()
        with contextlib.suppress(Exception):
            await self.reader.close()
        await self.store.close()

    async def _refresh(self, stopping: asyncio.Event) -> None:
        await self.fleet.run(stopping, self, self.sender)

    @property
    def lanes(self) -> dict[str, Lane]:
        return self.fleet.lanes

    # -- the consumer --------------------------------------------------------------------------------
    def owned(self, topic: str) -> set[int]:
        return self.owned_partitions.get(topic, set())

    async def assigned(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.owned_partitions.setdefault(tp.topic, set()).add(tp.partition)
        saved = await self.store.offsets(self.settings.delivery_consumer_group,
                                         [(tp.topic, tp.partition) for tp in tps])
        for tp in tps:
            offset = saved.get((tp.topic, tp.partition))
            if offset is not None and self._consumer is not None:
                self._consumer.seek(tp, offset)
        for lane in self.lanes.values():
            if lane.fifo:
                mine = {tp.partition for tp in tps if tp.topic == lane.topic}
                if mine:
                    lane.busy |= await self.store.busy_requests(lane.id, mine)
        if tps:
            self.ready.set()
            runtime.mark_ready(True, "partitions assigned")
        self.scheduler.hint(time.time())

    async def revoked(self, tps: list[TopicPartition]) -> None:
        await self.journal.flush()
        await self._commit_kafka()
        for tp in tps:
            self.owned_partitions.get(tp.topic, set()).discard(tp.partition)
            self.book.forget((tp.topic, tp.partition))

    async def _consume(self, stopping: asyncio.Event) -> None:
        assert self._consumer is not None
        outstanding: deque[asyncio.Future[None]] = deque()
        while not stopping.is_set():
            if self.journal.pending() > JOURNAL_BACKLOG or self._ahead() >= JOBS_AHEAD:
                await asyncio.sleep(0.005)
                continue
            batch = await self._consumer.getmany(timeout_ms=200, max_records=self.settings.delivery_batch_max)
            records: list[Incoming] = []
            empty: list[tuple[TP, int]] = []
            for tp, messages in batch.items():
                lanes = self.fleet.of_topic(tp.topic)
                for message in messages:
                    found = self._incoming(message, lanes) if lanes else None
                    if found is None:
                        empty.append(((tp.topic, tp.partition), message.offset))
                    else:
                        records.append(found)
            if records or empty:
                outstanding.append(self.journal.admit(records, empty))
            while len(outstanding) > ADMISSIONS_AHEAD or (outstanding and outstanding[0].done()):
                await outstanding.popleft()  # raises if the journal failed
            await self._commit_kafka()
        for future in outstanding:
            await future

    def _ahead(self) -> int:
        """Deliveries waiting in lanes that still take more. A full lane (a slow endpoint) does not count:
        what it cannot take is parked in the store, and the other endpoints' events must not wait for it;
        when every lane keeps up, reading waits for them instead of parking what they would soon send."""
        return sum(len(lane.queue) for lane in self.lanes.values() if lane.accepting())

    def _incoming(self, message: Any, lanes: list[Lane]) -> Incoming | None:
        try:
            meta, event = self.reader.decode(message.key, message.value, message.headers)
        except Exception as exc:  # not a record of ours: the hub's dead letters are upstream
            metrics.DELIVERY_UNREADABLE.labels(message.topic).inc()
            log.warning("skipping %s[%d]@%d: %s", message.topic, message.partition, message.offset,
                        type(exc).__name__)
            return None
        subject = Subject(meta.type, event.service_code, event.status.value, event.region_code)
        appended = message.timestamp / 1000
        chosen = [lane for lane in lanes if appended >= lane.endpoint.created_at - HISTORY_MARGIN
                  and matches(lane.endpoint.filters, subject)]
        if not chosen:
            return None
        return Incoming((message.topic, message.partition), message.offset, meta, event, chosen)

    def committed(self, offsets: dict[TP, int]) -> None:
        self._to_commit.update(offsets)

    async def _commit_kafka(self) -> None:
        if not self._to_commit or self._consumer is None:
            return
        pending, self._to_commit = self._to_commit, {}
        assignment = self._consumer.assignment()
        offsets = {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in pending.items()
                   if TopicPartition(t, p) in assignment}
        if offsets:
            with contextlib.suppress(Exception):  # the store holds the truth; Kafka's copy is for lag views
                await self._consumer.commit(offsets)

    # -- lane host -----------------------------------------------------------------------------------
    def outcome(self, lane: Lane, job: Job, body: bytes | None, answer: Answer | None,
                audit: Audit | None = None) -> None:
        self.journal.outcome(lane, job, body, answer, audit)

    def defer(self, lane: Lane, job: Job) -> None:
        self.journal.defer(lane, job)

    async def body_of(self, delivery: Delivery) -> bytes | None:
        from hub.delivery.payload import body

        found = await self.reader.fetch(delivery.topic, delivery.partition, delivery.offset)
        return body(found[0], found[1], delivery.seq) if found else None

    def want_more(self, lane: Lane) -> None:
        self.scheduler.hint(time.time())

    def breaker_moved(self, lane: Lane, before: breakers.State) -> None:
        state = lane.breaker.state
        metrics.DELIVERY_BREAKER.labels(lane.endpoint.agency, lane.id).set(breakers.GAUGE[state])
        log.info("breaker %s -> %s", before.value, state.value, extra={"endpoint_id": lane.id})
        if state is breakers.State.OPEN and before is breakers.State.CLOSED:
            self.journal.note(lane, "failing", f"endpoint {lane.id} is failing: most attempts of the last "
                                               f"minutes failed; deliveries are parked and retried")
        self.scheduler.hint(lane.breaker.probe_at if state is breakers.State.OPEN else time.time())

    def hint(self, at: float) -> None:
        self.scheduler.hint(at)

    async def audit(self, lane: Lane, job: Job, body: bytes) -> Audit:
        """The audit entry of a delivery of personal data, handed to the producer now (the journal waits for
        its acknowledgement before it marks the delivery delivered)."""
        e = lane.endpoint
        record = payload.audit_record(endpoint_id=e.id, where=urlpolicy.redact(e.url), agency=e.agency,
                                      payload=body, personal=job.delivery.personal, at=datetime.now(UTC))
        return Audit(record, await self.send_audit(record))

    async def send_audit(self, record: dict[str, Any]) -> asyncio.Future[object]:
        assert self._producer is not None and self._audit is not None
        request_id = str(record["request_id"])
        meta = ce.CloudEvent(str(record["audit_id"]), self.settings.delivery_source, AuditEntry.CE_TYPE,
                             request_id, record["recorded_at"])
        try:
            return await self._producer.send(self.settings.topic_audit, self._audit(record),
                                             key=request_id.encode(), headers=ce.to_headers(meta))
        except Exception as exc:  # not even queued (buffer full, producer closing): the journal retries
            failed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed
