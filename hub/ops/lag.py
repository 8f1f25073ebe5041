"""Consumer lag per topic-partition: the group's committed offsets against the partitions' end offsets.

Faust does not export lag, and a consumer only knows about the partitions assigned to it, so every
worker polls the whole group's lag with an admin client (``hub_consumer_lag{topic,partition}``). The
number is the same from every worker of the group; dashboards and alerts take ``max by (topic, partition)``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub import metrics
from hub.settings import Settings

log = logging.getLogger("hub.ops.lag")
ADMIN_TIMEOUT_MS: int = Settings.model_fields["admin_request_timeout_ms"].default


class LagReader:
    """Reads a consumer group's lag; keep one open and call ``read`` repeatedly."""

    def __init__(self, kafka: dict[str, Any], group: str, topics: Iterable[str], *,
                 request_timeout_ms: int = ADMIN_TIMEOUT_MS):
        self.kafka = kafka  # client options (hub.wire.clients.kafka_options)
        self.request_timeout_ms = request_timeout_ms
        self.group = group
        self.topics = list(topics)
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> LagReader:
        self._admin = AIOKafkaAdminClient(request_timeout_ms=self.request_timeout_ms,
                                          client_id="hub-lag-poller", **self.kafka)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, client_id="hub-lag-poller",
                                          **self.kafka)
        await self._consumer.start()
        return self

    async def close(self) -> None:
        for closer in (self._consumer and self._consumer.stop, self._admin and self._admin.close):
            if closer:
                try:
                    await closer()
                except Exception:  # closing a broken connection is not news
                    pass
        self._admin = self._consumer = None

    async def partitions(self) -> list[TopicPartition]:
        assert self._consumer is not None
        found: list[TopicPartition] = []
        for topic in self.topics:
            numbers = self._consumer.partitions_for_topic(topic)
            if not numbers:
                await self._consumer._client.force_metadata_update()
                numbers = self._consumer.partitions_for_topic(topic) or set()
            found += [TopicPartition(topic, p) for p in sorted(numbers)]
        return found

    async def read(self) -> dict[tuple[str, int], int]:
        """``{(topic, partition): records behind}``; a partition the group never committed on counts
        from the partition's first offset (the worker reads from the earliest)."""
        assert self._admin is not None and self._consumer is not None
        tps = await self.partitions()
        if not tps:
            return {}
        committed = await self._admin.list_consumer_group_offsets(self.group, partitions=tps)
        end = await self._consumer.end_offsets(tps)
        begin = await self._consumer.beginning_offsets(tps)
        lag = {}
        for tp in tps:
            meta = committed.get(tp)
            position = meta.offset if meta is not None and meta.offset >= 0 else begin[tp]
            lag[(tp.topic, tp.partition)] = max(end[tp] - position, 0)
        return lag


async def read_lag(kafka: dict[str, Any], group: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """One-off lag reading (tests, ``hub status``)."""
    reader = await LagReader(kafka, group, topics).start()
    try:
        return await reader.read()
    finally:
        await reader.close()


class LagPoller:
    """A daemon thread with its own event loop that refreshes ``hub_consumer_lag`` every ``interval`` s."""

    def __init__(self, kafka: dict[str, Any], group: str, topics: Iterable[str], interval: float = 10.0, *,
                 request_timeout_ms: int = ADMIN_TIMEOUT_MS):
        self.reader = LagReader(kafka, group, topics, request_timeout_ms=request_timeout_ms)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="hub-lag-poller", daemon=True)

    def start(self) -> LagPoller:
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        started = False
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    if not started:
                        await self.reader.start()
                        started = True
                    for (topic, partition), behind in (await self.reader.read()).items():
                        metrics.CONSUMER_LAG.labels(topic, str(partition)).set(behind)
                    metrics.LAG_POLLS.labels("ok").inc()
                    failures = 0
                except Exception as exc:  # the broker may be away for a while: count, log, try again
                    metrics.LAG_POLLS.labels("error").inc()
                    failures += 1  # a group that has not joined yet has no coordinator: quiet at first
                    log.log(logging.WARNING if failures >= 3 else logging.INFO,
                            "consumer lag poll failed (%d in a row): %s: %s", failures, type(exc).__name__,
                            exc)
                    await self.reader.close()
                    started = False
                await asyncio.to_thread(self._stop.wait, self.interval)
        finally:
            await self.reader.close()
