"""The worker's shell: one object that owns the app's state (tables, timer index, engine, emitter,
readiness) and moves batches of records in and out of Kafka around the pure request engine.

:meth:`Worker.process` takes a batch (Faust ``stream.take_events``) and, event by event in arrival order (so
per key, and per partition, in offset order): decodes and decides (``hub.streams.engine`` /
``hub.streams.journey``) on the key's working entry -- read from the table once per key and batch --, checks
every output fits, hands the outputs to the producer (``hub.streams.emit``), and moves the key's timers;
then writes each changed key to its table once. Records the engine refuses are dead-lettered with their
reason; transient failures (registry, broker) are retried with back-off (``hub.backoff``), never dropped. A
writer schema the codec has not cached yet is fetched in a thread (``Codec.unresolved`` / ``prefetch``): a
slow or frozen registry holds the batch (order is kept), never the event loop with its heartbeats and ticks.

At-least-once, exactly as before batches: Faust acknowledges the batch's events only after :meth:`process`
returns (``Stream.take_events`` acks after the consumer asks for the next batch), and it flushes the producer
before every offset commit, where a failed delivery stops the commit (``hub.compat.check_after_flush``). A
crash re-delivers the batch; the engine recognises its own redelivery (same topic, partition, offset) and
sends the same records with the same CloudEvents ids.

:meth:`rebuild_index` rebuilds the SLA timer index of the partitions the worker owns from the timers each
entry carries (``hub.streams.entry.timers_of``): a plain read, no arithmetic.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from hub import compat, metrics
from hub.backoff import Backoff, retry
from hub.core import catalogue, sla
from hub.core.lifecycle import TERMINAL
from hub.core.records import SlaStage
from hub.errors import BadTick, TooLarge
from hub.settings import Settings
from hub.streams import journey as journeys
from hub.streams import timing
from hub.streams.emit import Emitter, OutputRefused
from hub.streams.engine import RequestEngine, Result
from hub.streams.entry import JourneyEntry, RequestEntry, decode_journey, decode_request, encode, timers_of
from hub.streams.kafka_io import STAGE, Outgoing, check_outputs, check_readable, check_size, dead_letter
from hub.wire import cloudevents as ce
from hub.wire.clients import registry
from hub.wire.codec import Codec
from hub.wire.deadletter import Origin, is_bad_record, reason_of
from hub.wire.registry import RegistryError
from hub.wire.topics import intake_topics

log = logging.getLogger("hub.worker")

TRANSIENT = (RegistryError, KafkaError, ConnectionError)
TICK_TYPE = "id.go.banyuwangikab.hub.sla.tick"
#: Back-off of an input the engine cannot handle yet (registry or broker away) and of the schema look-up.
RETRY_START, RETRY_MAX = 0.5, 30.0
REQUESTS, JOURNEYS = 0, 1  # which table a working entry belongs to
Slot = tuple[int, str]


def _log_ids(message: Any) -> dict[str, str]:
    """request_id (the record key) and event_id (ce_id) of a record, for the JSON log line."""
    ids = {"topic": message.topic, "partition": str(message.partition), "offset": str(message.offset)}
    if message.key:
        ids["request_id"] = message.key.decode("utf-8", "replace")
    ce_id = dict(message.headers or ()).get("ce_id")
    if ce_id:
        ids["event_id"] = ce_id.decode("utf-8", "replace")
    return ids


def mark_ready(ready: bool, reason: str) -> None:
    """Tell the ops endpoints (/readyz) whether this worker can do its work (owns recovered partitions and can
    write its outputs)."""
    from hub.ops.runtime import mark_ready as mark

    mark(ready, reason)


class Worker:
    """The state of one worker process and what it does with it (see the module doc)."""

    def __init__(self, app: Any, settings: Settings, *, on_ready: Callable[[bool, str], None] = mark_ready):
        self.app = app
        self.settings = settings
        self.on_ready = on_ready
        self.codec = Codec(registry(settings))
        self.agencies = catalogue.agencies()
        self.engine: RequestEngine | None = None  # once the schemas are found (start_engine)
        self.index = sla.DeadlineIndex(settings.sla_index_bucket_seconds)
        self.clock_offset = timedelta(seconds=settings.sla_clock_offset_seconds)
        # Values are the entries' compact binary form (hub.streams.entry): a few hundred bytes held per open
        # request, and no Faust (de)serialization on the hot path.
        p = settings.topic_partitions
        self.requests = app.Table("requests", default=None, value_type=bytes, partitions=p)
        self.journeys = app.Table("journeys", default=None, value_type=bytes, partitions=p)
        self.tables = (self.requests, self.journeys)
        self.intake = frozenset(intake_topics(settings))
        self.inputs = app.topic(*sorted(self.intake), settings.topic_timer, settings.topic_journey,
                                key_serializer="raw", value_serializer="raw", partitions=p)
        self.stages = {settings.topic_timer: "sla-timer", settings.topic_journey: "journey"}
        # a stalled output path turns readiness off until records move again
        self.emitter = Emitter(app, on_stuck=lambda reason: self.on_ready(reason is None,
                                                                           reason or "output path moving"))

    # ------------------------------------------------------------------ start-up ------------------
    async def start_engine(self) -> None:
        """Build the engine once the admin has registered the schemas (the worker only looks them up)."""
        def build() -> Any:
            return asyncio.to_thread(RequestEngine, self.settings, self.codec, self.agencies)

        self.engine = await retry(build, retry_on=(RegistryError,), backoff=Backoff(1.0, RETRY_MAX), log=log,
                                  what="looking the schemas up")
        log.info("schemas found; lifecycle engine routing to %d agencies", len(self.agencies))

    def rebuild_index(self) -> None:
        """Timers of every open request and journey in the partitions this worker owns (after recovery)."""
        owned = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic in self.intake}
        fresh = sla.DeadlineIndex(self.settings.sla_index_bucket_seconds)
        open_requests: Counter[tuple[str, str]] = Counter()
        terminal = {s.value for s in TERMINAL}
        add = fresh.add
        # Millions of long-lived objects are built here: cyclic GC passes over a growing heap would only slow
        # this down; they are frozen into the permanent generation at the end.
        gc.disable()
        try:
            for table in self.tables:
                counted = table is self.requests
                for key, raw in list(table.data.items()):
                    if not raw:
                        continue
                    view = timers_of(raw)
                    if view.partition not in owned:
                        continue
                    if counted and view.status not in terminal:
                        open_requests[(view.agency, view.status)] += 1
                    for timer in view.armed:
                        add(key, timing.intern_kind(timer.kind), timer.at)
            metrics.OPEN_REQUESTS.clear()
            for (agency, status), n in open_requests.items():
                metrics.OPEN_REQUESTS.labels(agency, status).set(n)
        finally:
            # The recovered state is long-lived: keep the cyclic GC from re-scanning it on every full
            # collection (a full collection over 1M open requests takes ~2 s, see bench/).
            gc.freeze()
            gc.enable()
        self.index = fresh
        log.info("SLA timer index rebuilt: %d timers for partitions %s", len(fresh), sorted(owned))
        self.on_ready(True, f"{len(owned)} intake partitions recovered")

    # ------------------------------------------------------------------ the SLA timer --------------
    async def tick(self) -> None:
        """Due timers become tick records on the timer topic (only the agent owning an entry changes it)."""
        now = datetime.now(UTC) + self.clock_offset
        due = self.index.due(now)
        for i, (rid, kind, _at) in enumerate(due):
            value = json.dumps({"id": rid, "kind": kind, "now": now.isoformat()}).encode()
            meta = ce.CloudEvent(f"tick/{rid}/{kind}/{now.isoformat()}", self.settings.source, TICK_TYPE, rid,
                                 now)
            headers = [(k, v) for k, v in ce.to_headers(meta) if k != "content-type"]
            try:
                await self.emitter.send(Outgoing(self.settings.topic_timer, "sla-timer", rid.encode(), value,
                                                 [*headers, ("content-type", b"application/json")]))
            except KafkaError as exc:  # keep what is not sent yet: the next round tries again
                for left in due[i:]:
                    self.index.add(*left)
                log.warning("SLA timer: cannot send ticks now (%r); %d due timers kept for the next round",
                            exc, len(due) - i)
                return

    # ------------------------------------------------------------------ batches --------------------
    async def process(self, events: Sequence[Any]) -> None:
        """One batch of Faust events (see the module doc)."""
        work: dict[Slot, RequestEntry | JourneyEntry | None] = {}
        dirty: set[Slot] = set()
        for event in events:
            message = event.message
            started = time.perf_counter()
            metrics.EVENTS_IN.labels(message.topic).inc()
            stage = self.stages.get(message.topic, STAGE)
            result, slot = await self._decide_patiently(message, stage, work)
            result = await self._send(message, stage, result)
            if result.entry is not None and slot is not None:
                work[slot] = result.entry
                dirty.add(slot)
            for rid, kind in result.disarm:
                self.index.remove(rid, kind)
            for rid, kind, at in result.arm:
                self.index.add(rid, kind, at)
            _count(result)
            metrics.PROCESSING.labels(stage).observe(time.perf_counter() - started)
        for slot in dirty:  # each changed key once: the store, and its changelog record to the producer
            entry = work[slot]
            assert entry is not None
            value = encode(entry)
            topic, key, persisted = compat.write_table(self.tables[slot[0]], slot[1], value, entry.partition)
            await self.emitter.send_patiently([Outgoing(topic, "changelog", key, value, [], entry.partition)],
                                              f"the {topic} record of {slot[1]}", persisted)

    def _entry(self, work: dict[Slot, Any], slot: Slot) -> Any:
        """The key's working entry: read from its table once per batch."""
        if slot in work:
            return work[slot]
        raw = self.tables[slot[0]].data.get(slot[1])
        entry = work[slot] = (decode_request if slot[0] == REQUESTS else decode_journey)(raw)
        return entry

    def _decide(self, engine: RequestEngine, message: Any, work: dict[Slot, Any],
                ) -> tuple[Result, Slot | None]:
        key = message.key.decode("utf-8", "replace") if message.key else None
        topic = message.topic
        if topic in self.intake:
            entry = self._entry(work, (REQUESTS, key)) if key else None
            origin = Origin(topic, message.partition, message.offset)
            result = engine.on_intake(entry, message.key, message.value, message.headers, origin,
                                      message.partition)
            return result, (REQUESTS, key) if key else None
        if topic == self.settings.topic_journey:
            entry = self._entry(work, (JOURNEYS, key)) if key else None
            return (journeys.on_step(engine.out, entry, message.key, message.value, message.headers,
                                     message.partition), (JOURNEYS, key) if key else None)
        try:
            tick = json.loads(message.value)
            stage, kind = timing.parse_timer_kind(tick["kind"])
            now = datetime.fromisoformat(tick["now"])
            rid = tick["id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadTick(f"timer record {topic}[{message.partition}]@{message.offset}: {exc!r}") from exc
        if stage is SlaStage.REQUEST:
            slot = (REQUESTS, rid)
            return engine.on_tick(self._entry(work, slot), kind, now), slot
        slot = (JOURNEYS, rid)
        return journeys.on_tick(engine.out, self._entry(work, slot), kind, now), slot

    async def _decide_patiently(self, message: Any, stage: str, work: dict[Slot, Any],
                                ) -> tuple[Result, Slot | None]:
        """The engine's result for one record; a bad record becomes its dead letter, a transient failure is
        waited out (the batch waits with it: order is kept)."""
        backoff = Backoff(RETRY_START, RETRY_MAX)
        while True:
            engine = self.engine
            try:
                if engine is None:
                    raise RegistryError("schemas are not registered yet")
                check_readable(message.headers)  # a header key the client could not decode (hub.compat)
                if message.topic in self.intake:
                    check_size(message.key, message.value, message.headers,
                               self.settings.intake_max_record_bytes,
                               f"intake record {message.topic}[{message.partition}]@{message.offset}")
                if (schema_id := self.codec.unresolved(message.value)) is not None:
                    # the registry is asked off the event loop: heartbeats, /metrics and ticks go on
                    await asyncio.to_thread(self.codec.prefetch, schema_id)
                result, slot = self._decide(engine, message, work)
                check_outputs(result.outs, self.settings.output_max_record_bytes)  # all or none is sent
                return result, slot
            except TRANSIENT as exc:  # not the record's fault: retry, never drop, never give up
                log.warning("transient error on %s[%d]@%d, retrying in %.1fs: %s", message.topic,
                            message.partition, message.offset, backoff.delay, exc)
                await backoff.wait()
            except Exception as exc:  # one bad record must never stop the stream
                return self._dead_letter(message, stage, exc), None

    def _dead_letter(self, message: Any, stage: str, exc: BaseException) -> Result:
        origin = Origin(message.topic, message.partition, message.offset)
        if is_bad_record(exc):
            log.warning("dead letter %s[%d]@%d: %s: %s", origin.topic, origin.partition, origin.offset,
                        reason_of(exc), exc, extra=_log_ids(message))
        else:  # a bug, not a bad record: counted apart, logged with its traceback, kept
            metrics.INTERNAL_ERRORS.labels(stage).inc()
            log.error("internal error on %s[%d]@%d (dead-lettered as internal_error)", origin.topic,
                      origin.partition, origin.offset, exc_info=exc, extra=_log_ids(message))
        metrics.DEAD_LETTERS.labels(stage, reason_of(exc)).inc()
        return Result(outs=[dead_letter(self.settings, exc, message.key, message.value, message.headers,
                                        origin, stage)])

    async def _send(self, message: Any, stage: str, result: Result) -> Result:
        """Hand the result's records to the producer; one refused for good dead-letters the input instead."""
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        try:
            await self.emitter.send_patiently(result.outs, where)
            return result
        except OutputRefused as exc:  # refused for good: never retried, the input becomes a dead letter
            refused = TooLarge(f"{where}: {exc}") if isinstance(exc.error, MessageSizeTooLargeError) else exc
            dead = self._dead_letter(message, stage, refused)
            await self.emitter.send_patiently(dead.outs, where)
            return dead


def _count(result: Result) -> None:
    if result.duplicate:
        metrics.DUPLICATES.labels(STAGE).inc()
    accepted = result.accepted
    if accepted is not None and not result.redelivery:
        metrics.EVENTS_ROUTED.labels(result.source, accepted["agency"], accepted["status"]).inc()
        metrics.END_TO_END.labels(STAGE).observe(
            max(0.0, (datetime.now(UTC) - accepted["occurred_at"]).total_seconds()))
    if result.status_change:
        agency, old, new = result.status_change
        if old is not None and old not in TERMINAL:
            metrics.OPEN_REQUESTS.labels(agency, old.value).dec()
        if new not in TERMINAL:
            metrics.OPEN_REQUESTS.labels(agency, new.value).inc()
    for agency, code, kind in result.sla:
        metrics.SLA_EVENTS.labels(agency, code, kind).inc()
