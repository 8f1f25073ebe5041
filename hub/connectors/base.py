"""What every connector shares: an idempotent Kafka producer that publishes lifecycle events to intake.

Key = request id (one request's events stay in order), value = Avro in the Confluent wire format,
CloudEvents binary-mode headers (``ce_source`` = the connector's source, ``ce_id`` = the event id,
so a resend after a crash is recognised downstream as the same event).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from hub import metrics
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, Encoder, load_schema
from hub.wire.registry import SchemaRegistry


class Publisher:
    """Publishes lifecycle events to the intake topic. ``async with Publisher(...) as p: await p.publish(e)``."""

    def __init__(self, settings: Settings, connector: str, source: str, *, codec: Codec | None = None,
                 linger_ms: int = 5):
        self.settings = settings
        self.connector = connector
        self.source = source
        self.codec = codec or Codec(SchemaRegistry(settings.registry_url))
        self.topic = settings.topic_intake
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_list, enable_idempotence=True, acks="all",
            linger_ms=linger_ms, max_batch_size=256 * 1024, client_id=f"hub-connector-{connector}",
        )
        self._encoder: Encoder | None = None

    async def start(self) -> Publisher:
        schema = load_schema(self.settings.schemas_dir, RequestLifecycleEvent.SCHEMA)
        self._encoder = await asyncio.to_thread(self.codec.encoder, self.topic, schema)
        await self._producer.start()
        return self

    async def stop(self) -> None:
        """Flush what is buffered, then close."""
        await self._producer.flush()
        await self._producer.stop()

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

    async def publish(self, event: RequestLifecycleEvent, *, source: str | None = None,
                      traceparent: str | None = None) -> None:
        """Publish one event and wait until the brokers have it (acks=all)."""
        key, value, headers = self._record(event, source, traceparent)
        try:
            await self._producer.send_and_wait(self.topic, value, key=key, headers=headers)
        except Exception:
            metrics.PUBLISH_FAILED.labels(self.connector).inc()
            raise
        metrics.PUBLISHED.labels(self.connector).inc()

    async def publish_many(self, events: Iterable[tuple[RequestLifecycleEvent, str | None]]) -> int:
        """Publish a batch (event, source) without waiting per event; returns when all are acknowledged."""
        futures = []
        for event, source in events:
            key, value, headers = self._record(event, source, None)
            futures.append(await self._producer.send(self.topic, value, key=key, headers=headers))
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        metrics.PUBLISHED.labels(self.connector).inc(len(results) - len(failed))
        if failed:
            metrics.PUBLISH_FAILED.labels(self.connector).inc(len(failed))
            raise failed[0]
        return len(results)
