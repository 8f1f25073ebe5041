"""The Faust app of a hub worker: one agent (concurrency 1) over batches, at-least-once, dead letters for bad
records. Everything it does is in :class:`hub.streams.worker.Worker`; this module only wires it to Faust.

The ``lifecycle`` agent reads three co-partitioned topics (all keyed by the id whose table entry they touch):
the intake topics (one per source), the internal SLA timer topic, and the internal journey topic, in batches
of at most ``worker_batch_max`` events waiting at most ``worker_batch_wait_ms`` (``stream.take_events``: at
low load a batch of one leaves within a few milliseconds). State: two tables, ``requests`` (key request id)
and ``journeys`` (key parent request id), memory or RocksDB store (``HUB_TABLE_STORE``;
``hub.streams.store``), with compacted changelogs. The SLA timer keeps a deadline index of the partitions this
worker owns, rebuilt from the tables when recovery completes after every rebalance; a due timer becomes a tick
record on the timer topic, so an entry is only ever changed by the agent that owns it.

Scale by partitions and worker processes, never by agent concurrency (faust #606: with concurrency > 1 an
offset can be committed past an unfinished event).
"""

from __future__ import annotations

import logging

import faust

from hub import compat
from hub.settings import Settings
from hub.streams.store import store_url
from hub.streams.worker import Worker
from hub.wire.clients import faust_options
from hub.wire.partitioner import CachedPartitioner

log = logging.getLogger("hub.worker")


def create_app(settings: Settings) -> faust.App:
    # rewind_fresh_partitions: a group without commits re-reads from the start after a seek (hub.compat)
    app = compat.rewind_fresh_partitions(faust.App(
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
        # the same partitions as Kafka's default, the hash computed once per key
        producer_partitioner=CachedPartitioner(),
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
    ))
    if settings.citizen_ref_key is None:
        log.warning("HUB_CITIZEN_REF_KEY is not set: events carry no pseudonymous citizen_ref")
    worker = Worker(app, settings)
    app.hub_worker = worker
    batch_max, batch_wait = settings.worker_batch_max, settings.worker_batch_wait_ms / 1000

    @worker.requests.on_recover
    async def _recovered() -> None:
        # Faust calls the tables' recovery callbacks once *all* of them are restored
        # (Recovery.on_recovery_completed), so one callback rebuilds the timers of both tables.
        worker.rebuild_index()

    @app.timer(interval=settings.sla_tick_seconds)
    async def sla_timer() -> None:
        await worker.tick()

    @app.task
    async def _start_engine() -> None:
        await worker.start_engine()

    @app.agent(worker.inputs, concurrency=1)
    async def lifecycle(stream):
        async for events in stream.take_events(batch_max, batch_wait):
            await worker.process(events)

    return app
