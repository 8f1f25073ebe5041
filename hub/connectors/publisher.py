"""What every connector shares: an idempotent Kafka producer that publishes lifecycle events to its intake
topic (each source has its own, writable by its principal alone: ``intake.desa.<node>.v1``,
``intake.agency.<code>.v1``; see ``hub.access.catalogue``).

Key = request id (one request's events stay in order), value = Avro in the Confluent wire format,
CloudEvents binary-mode headers (``ce_source`` = the connector's source, ``ce_id`` = the event id,
so a resend after a crash is recognised downstream as the same event). Prometheus counters
``hub_connector_published_total`` / ``hub_connector_failed_total`` per connector.

The producer is created by ``start()`` and thrown away by ``stop()``, so a connector that lost the
broker can ``stop()`` and ``start()`` again (a fresh producer id; see ``hub.connectors.outbox``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer

from hub import metrics
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec, Encoder, load_schema

log = logging.getLogger(__name__)

#: One record to publish: the event, its CloudEvents source (None = the publisher's), its traceparent.
Item = tuple[RequestLifecycleEvent, "str | None", "str | None"]


class Publisher:
    """Publishes lifecycle events to the intake topic. ``async with Publisher(...) as p: await p.publish(e)``.

    Idempotent producer (``enable_idempotence``, ``acks=all``): the broker drops the producer's own
    retries; a resend by a *new* producer (after a crash) is caught downstream by ``ce_source`` + ``ce_id``.
    """

    def __init__(self, settings: Settings, connector: str, source: str, *, topic: str,
                 codec: Codec | None = None, linger_ms: int = 5, request_timeout_ms: int | None = None):
        self.settings = settings
        self.connector = connector
        self.source = source
        self.codec = codec or Codec(registry(settings))
        self.topic = topic
        self.linger_ms = linger_ms
        self.request_timeout_ms = request_timeout_ms or settings.connector_request_timeout_ms
        self._producer: AIOKafkaProducer | None = None
        self._encoder: Encoder | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> Publisher:
        """Register the schema (once) and connect a fresh producer; raises if the registry or broker is
        down."""
        if self._encoder is None:
            schema = load_schema(self.settings.schemas_dir, RequestLifecycleEvent.SCHEMA)
            self._encoder = await asyncio.to_thread(self.codec.encoder, self.topic, schema)
        producer = AIOKafkaProducer(
            **kafka_options(self.settings), enable_idempotence=True, acks="all",
            linger_ms=self.linger_ms, max_batch_size=256 * 1024, request_timeout_ms=self.request_timeout_ms,
            client_id=f"hub-connector-{self.connector}",
        )
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self._producer = producer
        return self

    async def stop(self) -> None:
        """Flush what is buffered, then close (graceful shutdown)."""
        producer = self._producer
        if producer is not None:  # kept until closed: a stop cut short can still be abort()ed
            await producer.flush()
            await producer.stop()
            self._producer = None

    async def abort(self) -> None:
        """Close *without* flushing (shutdown while the broker is away): unacknowledged records are
        dropped here; the caller still has them (the outbox resends them, same event ids)."""
        from aiokafka.errors import KafkaError

        producer, self._producer = self._producer, None
        if producer is None:
            return
        # aiokafka's idempotent producer retries a batch until the broker takes it, and stop() waits
        # for that: cancel the sender first, fail what is pending, then close the connections.
        task = getattr(getattr(producer, "_sender", None), "sender_task", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            producer._message_accumulator.fail_all(KafkaError("producer aborted"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), timeout=10)

    async def __aenter__(self) -> Publisher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _record(self, event: RequestLifecycleEvent, source: str | None, traceparent: str | None,
                ) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        assert self._encoder is not None, "Publisher.start() first"
        meta = ce.CloudEvent(id=event.event_id, source=source or self.source, type=event.CE_TYPE,
                             subject=event.request_id, time=event.occurred_at,
                             traceparent=traceparent or ce.new_traceparent())
        return event.request_id.encode(), self._encoder(event.to_avro()), ce.to_headers(meta)

    def _live(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("Publisher.start() first")
        return self._producer

    async def publish(self, event: RequestLifecycleEvent, *, source: str | None = None,
                      traceparent: str | None = None) -> None:
        """Publish one event and wait until the brokers have it (acks=all)."""
        key, value, headers = self._record(event, source, traceparent)
        try:
            await self._live().send_and_wait(self.topic, value, key=key, headers=headers)
        except Exception:
            metrics.PUBLISH_FAILED.labels(self.connector).inc()
            raise
        metrics.PUBLISHED.labels(self.connector).inc()

    async def send_batch(self, items: Sequence[Item]) -> list[BaseException | None]:
        """Publish a batch without waiting per record; one outcome per item (None = acknowledged)."""
        producer = self._live()
        outcomes: list[BaseException | None] = [None] * len(items)
        futures: list[tuple[int, asyncio.Future]] = []
        for i, (event, source, traceparent) in enumerate(items):
            key, value, headers = self._record(event, source, traceparent)
            try:
                futures.append((i, await producer.send(self.topic, value, key=key, headers=headers)))
            except Exception as exc:  # metadata wait timed out, buffer full, producer closing
                outcomes[i] = exc
        results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        for (i, _), result in zip(futures, results, strict=True):
            if isinstance(result, BaseException):
                outcomes[i] = result
        failed = sum(1 for o in outcomes if o is not None)
        metrics.PUBLISHED.labels(self.connector).inc(len(items) - failed)
        if failed:
            metrics.PUBLISH_FAILED.labels(self.connector).inc(failed)
        return outcomes

    async def publish_many(self, events: Iterable[tuple[RequestLifecycleEvent, str | None]]) -> int:
        """Publish a batch (event, source); returns when all are acknowledged, raises the first failure."""
        return all_acknowledged(await self.send_batch([(e, s, None) for e, s in events]))


def all_acknowledged(outcomes: Sequence[BaseException | None]) -> int:
    """How many ``send_batch`` outcomes there are, once none is a failure; else raises the first one."""
    for outcome in outcomes:
        if outcome is not None:
            raise outcome
    return len(outcomes)
