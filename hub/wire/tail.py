"""Read records back from hub topics: for the demo, ``hub tail`` and the integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.settings import Settings


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


async def collect(settings: Settings, topics: Iterable[str], *, until: Callable[[list[Record]], bool],
                  timeout: float = 60.0) -> list[Record]:
    """Read every partition of ``topics`` from the beginning (no consumer group, nothing committed)
    until ``until(records)`` is true or ``timeout`` seconds pass; returns what was read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False,
                                group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Record] = []
    try:
        partitions = []
        for topic in topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                await consumer._client.force_metadata_update()  # topic created after start
                found = consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in found]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
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
