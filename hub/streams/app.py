"""The Faust worker: one app, agents with concurrency 1, at-least-once, dead letters for bad records.

Scale by partitions and worker processes, never by agent concurrency (faust #606: with concurrency > 1
an offset can be committed past an unfinished event).
"""

from __future__ import annotations

import asyncio
import logging
import time

import faust
from aiokafka.errors import KafkaError

from hub import metrics
from hub.core import catalogue
from hub.settings import Settings
from hub.streams.router import STAGE, IntakeRouter, Outgoing
from hub.wire.codec import Codec
from hub.wire.deadletter import Origin, reason_of
from hub.wire.registry import RegistryError, SchemaRegistry

log = logging.getLogger("hub.worker")

TRANSIENT = (RegistryError, KafkaError, ConnectionError)
MAX_BACKOFF = 30.0


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.bootstrap_list],
        store="memory://",
        processing_guarantee="at_least_once",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=False,
        datadir=str(settings.worker_data_dir),
    )
    codec = Codec(SchemaRegistry(settings.registry_url))
    agencies = catalogue.agencies()
    router_box: dict[str, IntakeRouter] = {}
    channels: dict[str, faust.TopicT] = {}

    def channel(name: str) -> faust.TopicT:
        if name not in channels:
            channels[name] = app.topic(name, key_serializer="raw", value_serializer="raw",
                                       partitions=settings.topic_partitions)
        return channels[name]

    intake = channel(settings.topic_intake)

    async def send(out: Outgoing) -> None:
        await channel(out.topic).send(key=out.key, value=out.value, headers=out.headers)
        metrics.EVENTS_OUT.labels(out.topic, out.audience).inc()

    @app.task
    async def _register_schemas() -> None:
        router_box["router"] = await asyncio.to_thread(IntakeRouter, settings, codec, agencies)
        log.info("schemas registered; routing to %d agencies and %s", len(agencies), settings.topic_feed)

    @app.agent(intake, concurrency=1)
    async def route_intake(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            message = event.message
            metrics.EVENTS_IN.labels(message.topic).inc()
            started = time.perf_counter()
            backoff = 0.5
            while True:
                router = router_box.get("router")
                try:
                    if router is None:
                        raise RegistryError("schemas are not registered yet")
                    outs = router.process(message.key, message.value, message.headers)
                    break
                except TRANSIENT as exc:  # not the record's fault: retry, never drop, never give up
                    log.warning("transient error on %s[%d]@%d, retrying in %.1fs: %s",
                                message.topic, message.partition, message.offset, backoff, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                except Exception as exc:  # one bad record must never stop the stream
                    origin = Origin(message.topic, message.partition, message.offset)
                    log.warning("dead letter %s[%d]@%d: %s: %s", origin.topic, origin.partition,
                                origin.offset, reason_of(exc), exc)
                    outs = [router.dead_letter(exc, message.key, message.value, message.headers, origin)]
                    metrics.DEAD_LETTERS.labels(STAGE, reason_of(exc)).inc()
                    break
            for out in outs:
                await send(out)
            metrics.PROCESSING.labels(STAGE).observe(time.perf_counter() - started)

    return app
