"""The Faust worker: one app, one agent (concurrency 1), at-least-once, dead letters for bad records.

The ``lifecycle`` agent reads three co-partitioned topics (all keyed by the id whose table entry they
touch): intake (lifecycle events from connectors), the internal SLA timer topic, and the internal journey
topic. Per record it calls the pure engine (``hub.streams.engine`` / ``hub.streams.journey``), sends what
the engine returns, then saves the table entry (changelog) and updates the local timer index.

State: two tables, ``requests`` (key request id) and ``journeys`` (key parent request id), values the
entries' compact JSON bytes, memory or RocksDB store (``HUB_TABLE_STORE``; ``hub.streams.store`` fills a
memory table from its changelog before Faust's recovery, and drops local RocksDB files a worker left after
an unclean stop, so they are restored from the changelog), compacted changelogs. Output records go
straight to the producer (``hub.streams.emit``). The SLA timer keeps a
DeadlineIndex of the partitions this worker owns, rebuilt from the tables when recovery completes after
every rebalance; a due timer becomes a tick record on the timer topic, so the entry is only changed by the
agent that owns it.

Scale by partitions and worker processes, never by agent concurrency (faust #606: with concurrency > 1
an offset can be committed past an unfinished event).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import faust
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from hub import metrics
from hub.core import catalogue, sla
from hub.core.journeys import JourneyState
from hub.core.lifecycle import TERMINAL, Status
from hub.core.records import SlaStage
from hub.errors import BadTick, TooLarge
from hub.settings import Settings
from hub.streams import journey as journeys
from hub.streams import timing
from hub.streams.emit import Emitter, OutputRefused
from hub.streams.engine import Engine, Result, pack, unpack
from hub.streams.offsets import guard
from hub.streams.router import STAGE, Outgoing, check_outputs, check_readable, check_size, dead_letter
from hub.streams.store import store_url
from hub.wire import cloudevents as ce
from hub.wire.deadletter import Origin, is_bad_record, reason_of
from hub.wire.clients import faust_options, registry
from hub.wire.registry import RegistryError
from hub.wire.codec import Codec
from hub.wire.topics import intake_topics
from hub.wire.partitioner import CachedPartitioner

log = logging.getLogger("hub.worker")

TRANSIENT = (RegistryError, KafkaError, ConnectionError)
MAX_BACKOFF = 30.0
TICK_TYPE = "id.go.banyuwangikab.hub.sla.tick"


def create_app(settings: Settings) -> faust.App:
    app = guard(faust.App(
        settings.app_id,
        **faust_options(settings),  # broker list and credentials (hub.wire.clients)
        store=store_url(settings.table_store),  # rocksdb:// -> rebuilt from the changelog after a crash
        table_standby_replicas=settings.table_standby_replicas,
        processing_guarantee="at_least_once",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=settings.producer_linger_ms / 1000,
        producer_max_batch_size=settings.producer_batch_bytes,
        producer_partitioner=CachedPartitioner(),  # same partitions as Kafka's default, hash computed once per key
        # a dead letter carries the largest record a broker accepts, plus its reason headers
        producer_max_request_size=settings.dead_letter_max_bytes + 64 * 1024,
        # failover in seconds: a worker that dies without leaving is dropped after the session timeout; with
        # static membership a restarted worker takes its partitions back without a rebalance
        broker_session_timeout=settings.broker_session_timeout_seconds,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_seconds,
        consumer_group_instance_id=settings.worker_instance_id,
        web_enabled=False,
        topic_disable_leader=True,  # no leader topic: every worker runs the SLA timer for its own partitions
        datadir=str(settings.worker_data_dir),
    ))  # guard: a group without commits re-reads from the start after a seek (hub.streams.offsets)
    if settings.citizen_ref_key is None:
        log.warning("HUB_CITIZEN_REF_KEY is not set: events carry no pseudonymous citizen_ref")
    codec = Codec(registry(settings))
    agencies = catalogue.agencies()
    box: dict[str, Engine] = {}
    index = [sla.DeadlineIndex(settings.sla_index_bucket_seconds)]
    offset = timedelta(seconds=settings.sla_clock_offset_seconds)

    # Values are the entries' compact JSON bytes (hub.streams.engine.pack): a few hundred bytes held per
    # open request instead of a tree of dicts, and no Faust (de)serialization on the hot path.
    requests = app.Table("requests", default=None, value_type=bytes, partitions=settings.topic_partitions)
    journey_table = app.Table("journeys", default=None, value_type=bytes, partitions=settings.topic_partitions)
    intake = frozenset(intake_topics(settings))
    inputs = app.topic(*sorted(intake), settings.topic_timer, settings.topic_journey,
                       key_serializer="raw", value_serializer="raw", partitions=settings.topic_partitions)

    # the agent's records go straight to the producer (hub.streams.emit); a stalled output path turns
    # readiness off until records move again
    emitter = Emitter(app, on_stuck=lambda reason: _mark_ready(reason is None, reason or "output path moving"))

    # ------------------------------------------------------------------ timer index -------------
    def rebuild_index() -> None:
        """Timers of every open request and journey in the partitions this worker owns (after recovery)."""
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic in intake}
        fresh = sla.DeadlineIndex(settings.sla_index_bucket_seconds)
        open_requests: Counter[tuple[str, str]] = Counter()
        # Millions of long-lived objects are built here: cyclic GC passes over a growing heap would
        # only slow this down; they are frozen into the permanent generation at the end.
        gc.disable()
        try:
            for rid, raw in list(requests.items()):
                entry = unpack(raw)
                if not entry or entry.get("p") not in owned:
                    continue
                status = Status(entry["state"]["status"])
                if status not in TERMINAL:
                    open_requests[(entry["agency"], status.value)] += 1
                clock = sla.SlaClock.from_dict(entry["clock"]) if entry["clock"] else None
                p = timing.plan(clock, status, frozenset(entry["fired"]), finished_at=None, was_done=True)
                for kind, at in p.arm:
                    fresh.add(rid, timing.timer_kind(SlaStage.REQUEST, kind), at)
            metrics.OPEN_REQUESTS.clear()
            for (agency, status_name), n in open_requests.items():
                metrics.OPEN_REQUESTS.labels(agency, status_name).set(n)
            for pid, raw in list(journey_table.items()):
                entry = unpack(raw)
                if not entry or entry.get("p") not in owned:
                    continue
                js = JourneyState.from_dict(entry["journey"])
                p = timing.plan(js.clock, js.status, frozenset(js.fired), finished_at=None, was_done=True)
                for kind, at in p.arm:
                    fresh.add(pid, timing.timer_kind(SlaStage.JOURNEY, kind), at)
        finally:
            # The recovered state is long-lived: keep the cyclic GC from re-scanning it on every full
            # collection (a full collection over 1M open requests takes ~2 s, see bench/).
            gc.freeze()
            gc.enable()
        index[0] = fresh
        log.info("SLA timer index rebuilt: %d timers for partitions %s", len(fresh), sorted(owned))
        _mark_ready(True, f"{len(owned)} intake partitions recovered")

    @requests.on_recover
    async def _recovered() -> None:
        # Faust calls the tables' recovery callbacks once *all* of them are restored
        # (Recovery.on_recovery_completed), so one callback rebuilds the timers of both tables.
        rebuild_index()

    @app.timer(interval=settings.sla_tick_seconds)
    async def sla_timer() -> None:
        now = datetime.now(UTC) + offset
        due = index[0].due(now)
        for i, (rid, kind, _at) in enumerate(due):
            value = json.dumps({"id": rid, "kind": kind, "now": now.isoformat()}).encode()
            meta = ce.CloudEvent(f"tick/{rid}/{kind}/{now.isoformat()}", settings.source, TICK_TYPE, rid, now)
            headers = [(k, v) for k, v in ce.to_headers(meta) if k != "content-type"]
            try:
                await emitter.send(Outgoing(settings.topic_timer, "sla-timer", rid.encode(), value,
                                            [*headers, ("content-type", b"application/json")]))
            except KafkaError as exc:  # keep what is not sent yet: the next round tries again
                for left in due[i:]:
                    index[0].add(*left)
                log.warning("SLA timer: cannot send ticks now (%r); %d due timers kept for the next round",
                            exc, len(due) - i)
                return

    @app.task
    async def _register_schemas() -> None:
        backoff = 1.0
        while True:  # the admin registers the schemas (hub schemas register); the worker only looks them up
            try:
                box["engine"] = await asyncio.to_thread(Engine, settings, codec, agencies)
                break
            except RegistryError as exc:
                log.warning("schemas not available yet (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        log.info("schemas found; lifecycle engine routing to %d agencies", len(agencies))

    # ------------------------------------------------------------------ the agent --------------
    def handle(engine: Engine, message) -> tuple[Result, faust.Table | None, str | None]:  # type: ignore[no-untyped-def]
        key = message.key.decode("utf-8", "replace") if message.key else None
        origin = Origin(message.topic, message.partition, message.offset)
        if message.topic in intake:
            entry = unpack(requests.get(key)) if key else None
            return engine.on_intake(entry, message.key, message.value, message.headers, origin,
                                    message.partition), requests, key
        if message.topic == settings.topic_journey:
            entry = unpack(journey_table.get(key)) if key else None
            return journeys.on_step(engine, entry, message.key, message.value, message.headers,
                                    message.partition), journey_table, key
        try:
            tick = json.loads(message.value)
            stage, kind = timing.parse_timer_kind(tick["kind"])
            now = datetime.fromisoformat(tick["now"])
            rid = tick["id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadTick(f"timer record {origin.topic}[{origin.partition}]@{origin.offset}: {exc!r}") from exc
        if stage is SlaStage.REQUEST:
            return engine.on_tick(unpack(requests.get(rid)), kind, now), requests, rid
        return journeys.on_tick(engine, unpack(journey_table.get(rid)), kind, now), journey_table, rid

    @app.agent(inputs, concurrency=1)
    async def lifecycle(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            message = event.message
            metrics.EVENTS_IN.labels(message.topic).inc()
            started = time.perf_counter()
            backoff = 0.5
            stage = {settings.topic_timer: "sla-timer", settings.topic_journey: "journey"}.get(message.topic, STAGE)
            table, key = None, None
            while True:
                engine = box.get("engine")
                try:
                    if engine is None:
                        raise RegistryError("schemas are not registered yet")
                    check_readable(message.headers)  # a header key the client could not decode (hub.compat)
                    if message.topic in intake:
                        check_size(message.key, message.value, message.headers, settings.intake_max_record_bytes,
                                   f"intake record {message.topic}[{message.partition}]@{message.offset}")
                    result, table, key = handle(engine, message)
                    check_outputs(result.outs, settings.output_max_record_bytes)  # all or none is sent
                    break
                except TRANSIENT as exc:  # not the record's fault: retry, never drop, never give up
                    log.warning("transient error on %s[%d]@%d, retrying in %.1fs: %s",
                                message.topic, message.partition, message.offset, backoff, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                except Exception as exc:  # one bad record must never stop the stream
                    origin = Origin(message.topic, message.partition, message.offset)
                    if is_bad_record(exc):
                        log.warning("dead letter %s[%d]@%d: %s: %s", origin.topic, origin.partition,
                                    origin.offset, reason_of(exc), exc, extra=_log_ids(message))
                    else:  # a bug, not a bad record: counted apart, logged with its traceback, kept
                        metrics.INTERNAL_ERRORS.labels(stage).inc()
                        log.exception("internal error on %s[%d]@%d (dead-lettered as internal_error)",
                                      origin.topic, origin.partition, origin.offset, extra=_log_ids(message))
                    result = Result(outs=[dead_letter(settings, exc, message.key, message.value,
                                                      message.headers, origin, stage)])
                    metrics.DEAD_LETTERS.labels(stage, reason_of(exc)).inc()
                    break
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            try:
                await emitter.send_patiently(result.outs, where)
            except OutputRefused as exc:  # refused for good: never retried, the input becomes a dead letter
                origin = Origin(message.topic, message.partition, message.offset)
                refused = TooLarge(f"{where}: {exc}") if isinstance(exc.error, MessageSizeTooLargeError) else exc
                log.warning("dead letter %s: %s", where, refused, extra=_log_ids(message))
                metrics.DEAD_LETTERS.labels(stage, reason_of(refused)).inc()
                result = Result(outs=[dead_letter(settings, refused, message.key, message.value, message.headers,
                                                  origin, stage)])
                await emitter.send_patiently(result.outs, where)
            if result.entry is not None and table is not None and key is not None:
                table[key] = pack(result.entry)
            for rid, kind in result.disarm:
                index[0].remove(rid, kind)
            for rid, kind, at in result.arm:
                index[0].add(rid, kind, at)
            _count(result)
            metrics.PROCESSING.labels(stage).observe(time.perf_counter() - started)

    return app


def _log_ids(message) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """request_id (the record key) and event_id (ce_id) of a record, for the JSON log line."""
    ids = {"topic": message.topic, "partition": str(message.partition), "offset": str(message.offset)}
    if message.key:
        ids["request_id"] = message.key.decode("utf-8", "replace")
    ce_id = dict(message.headers or ()).get("ce_id")
    if ce_id:
        ids["event_id"] = ce_id.decode("utf-8", "replace")
    return ids


def _mark_ready(ready: bool, reason: str) -> None:
    """Tell the ops endpoints (/readyz) whether this worker can do its work (owns recovered partitions and
    can write its outputs)."""
    from hub.ops.runtime import mark_ready

    mark_ready(ready, reason)


def _count(result: Result) -> None:
    if result.duplicate:
        metrics.DUPLICATES.labels(STAGE).inc()
    accepted = result.accepted
    if accepted is not None and not result.redelivery:
        metrics.EVENTS_ROUTED.labels(result.source, accepted.agency, accepted.status.value).inc()
        metrics.END_TO_END.labels(STAGE).observe(
            max(0.0, (datetime.now(UTC) - accepted.occurred_at).total_seconds()))
    if result.status_change:
        agency, old, new = result.status_change
        if old is not None and old not in TERMINAL:
            metrics.OPEN_REQUESTS.labels(agency, old.value).dec()
        if new not in TERMINAL:
            metrics.OPEN_REQUESTS.labels(agency, new.value).inc()
    for agency, code, kind in result.sla:
        metrics.SLA_EVENTS.labels(agency, code, kind).inc()
