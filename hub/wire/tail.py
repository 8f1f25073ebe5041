"""Read records back from hub topics: for the demo, ``hub tail`` and the integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from hub.settings import Settings
from hub.wire.clients import kafka_options


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


async def partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` (refreshing metadata once for a topic created after start)."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


async def read_to_end(kafka: dict[str, Any], topic: str, *, only: Iterable[int] | None = None,
                      max_records: int = 5000, stall_seconds: float = 60.0,
                      **consumer_options: object) -> AsyncIterator[ConsumerRecord]:
    """Every record of ``topic`` (or of its partitions ``only``) from the beginning up to its end as it is
    now (no consumer group, nothing committed), partition by partition in offset order within each.
    Raises ``TimeoutError`` naming the partitions if no record comes for ``stall_seconds`` before the end.
    ``kafka``: the client options (``hub.wire.clients.kafka_options``)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, auto_offset_reset="earliest",
                                **kafka, **consumer_options)
    await consumer.start()
    try:
        tps = await partitions(consumer, topic)
        if only is not None:
            wanted = set(only)
            tps = [tp for tp in tps if tp.partition in wanted]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        progress = loop.time()
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=max_records)
            if batch:
                progress = loop.time()
            elif loop.time() - progress > stall_seconds:
                raise TimeoutError(f"no record from {sorted((tp.topic, tp.partition) for tp in pending)} for "
                                   f"{stall_seconds:.0f}s before their end offsets "
                                   f"{ {tp.partition: ends[tp] for tp in pending} }")
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp]:
                        yield message
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()


async def collect(settings: Settings, topics: Iterable[str], *, until: Callable[[list[Record]], bool],
                  timeout: float = 60.0) -> list[Record]:
    """Read every partition of ``topics`` from the beginning (no consumer group, nothing committed)
    until ``until(records)`` is true or ``timeout`` seconds pass; returns what was read."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, auto_offset_reset="earliest",
                                **kafka_options(settings))
    await consumer.start()
    records: list[Record] = []
    try:
        assigned = [tp for topic in topics for tp in await partitions(consumer, topic)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until(records) and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for messages in batch.values():
                records.extend(
                    Record(m.topic, m.partition, m.offset, m.key, m.value,
                           {k: v.decode("utf-8", "replace") for k, v in (m.headers or ())})
                    for m in messages
                )
        return records
    finally:
        await consumer.stop()
