"""A consumer-group reader of one hub topic for connectors (the desk's feed ledger, an agency's topic)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRecord

from hub.backoff import RECONNECT_MAX, RECONNECT_START, Backoff
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec, load_schema

log = logging.getLogger(__name__)

#: What a follower hands its handler: (event, ce_source) pairs, in partition order.
Seen = list[tuple[RequestLifecycleEvent, str]]


class Follower:
    """Reads lifecycle events from one hub topic as a consumer group; the handler's work is done
    before the offsets are committed (at least once). Reconnects with back-off while Kafka is away;
    a record that cannot be decoded is logged and skipped (the hub's own DLQ is upstream of here)."""

    def __init__(self, settings: Settings, topic: str, group_id: str,
                 handler: Callable[[Seen], Awaitable[None]], *, codec: Codec | None = None):
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.handler = handler
        self.codec = codec or Codec(registry(settings))
        self.codec.reader(load_schema(settings.schemas_dir, RequestLifecycleEvent.SCHEMA))
        self.ready = asyncio.Event()  # set once partitions are assigned
        self.count = 0

    def _decode(self, message: ConsumerRecord[Any, Any]) -> tuple[RequestLifecycleEvent, str] | None:
        try:
            event = RequestLifecycleEvent.from_avro(self.codec.decode(message.value).record)
            return event, ce.from_headers(message.headers).source
        except Exception as exc:
            log.warning("%s: skipping %s[%d]@%d: %r", self.group_id, message.topic, message.partition,
                        message.offset, exc)
            return None

    async def run(self, stopping: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer

        backoff = Backoff(RECONNECT_START, RECONNECT_MAX)
        while not stopping.is_set():
            consumer = AIOKafkaConsumer(self.topic, **kafka_options(self.settings), group_id=self.group_id,
                                        enable_auto_commit=False, auto_offset_reset="earliest")
            try:
                await consumer.start()
                while not stopping.is_set():
                    batch = await consumer.getmany(timeout_ms=300, max_records=500)
                    if consumer.assignment():
                        self.ready.set()
                    items = [d for messages in batch.values() for m in messages if (d := self._decode(m))]
                    if items:
                        await self.handler(items)
                        self.count += len(items)
                    if batch:
                        await consumer.commit()
                    backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: consumer failed (%r); retrying in %.1fs", self.group_id, exc, backoff.delay)
                await backoff.wait(stopping)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
