"""Reading agency-topic records: decoding the ones the dispatcher consumes, and fetching one again by offset.

A record on ``agency.<code>.v1`` is a ``RequestLifecycleEvent`` in the Confluent wire format with
CloudEvents headers, keyed by its request id, exactly as the worker wrote it (minimised for the agency).
:meth:`RecordReader.fetch` reads the record at one (topic, partition, offset) again: for a resend of a
delivery whose payload the store no longer keeps. It answers None when the record is gone (retention:
30 days on agency topics) rather than another record.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.core.models import RequestLifecycleEvent
from hub.errors import KeyMismatch, WrongRecord
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options
from hub.wire.codec import Codec, load_schema

FETCH_TIMEOUT_MS = 5_000


class RecordReader:
    def __init__(self, settings: Settings, codec: Codec):
        self.settings = settings
        self.codec = codec
        codec.reader(load_schema(settings.schemas_dir, RequestLifecycleEvent.SCHEMA))
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    def decode(self, key: bytes | None, value: bytes | None, headers: Any) -> tuple[ce.CloudEvent,
                                                                                     RequestLifecycleEvent]:
        """Raises a ``hub.errors.RecordError`` naming what is wrong with the record."""
        decoded = self.codec.decode(value)
        if decoded.record_name != RequestLifecycleEvent.SCHEMA:
            raise WrongRecord(f"expected {RequestLifecycleEvent.SCHEMA}, got {decoded.record_name}")
        meta = ce.from_headers(headers)
        event = RequestLifecycleEvent.from_avro(decoded.record)
        if key != event.request_id.encode():
            raise KeyMismatch(f"record key {key!r} is not the request id {event.request_id!r}")
        return meta, event

    async def fetch(self, topic: str, partition: int, offset: int,
                    ) -> tuple[ce.CloudEvent, RequestLifecycleEvent] | None:
        async with self._lock:
            if self._consumer is None:
                self._consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False,
                                                  auto_offset_reset="earliest",
                                                  **kafka_options(self.settings))
                await self._consumer.start()
            tp = TopicPartition(topic, partition)
            self._consumer.assign([tp])
            self._consumer.seek(tp, offset)
            batch = await self._consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS, max_records=1)
        for message in batch.get(tp, []):
            if message.offset == offset:
                return self.decode(message.key, message.value, message.headers)
        return None

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
