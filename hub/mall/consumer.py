"""The view's follower: reads ``mpp.feed.v1``, ``hub.sla.v1`` and ``hub.audit.v1`` and applies each batch to
the store, with the batch's next offsets, in one transaction.

* No consumer group: the follower assigns itself every partition of the three topics and seeks to the
  offsets stored *in the view's database* (``hub.mall.store``), from the beginning for a partition it has
  never read. So a restart resumes exactly after the last batch the database holds (nothing lost, nothing
  applied twice: a record read again is recognised by its key anyway), resetting the database rebuilds the
  view from the topics, and the mall principal needs only read rights on the three topics.
* A record that cannot be read (not ours, or not the model's shape) is counted on ``hub_mall_skipped_total``
  and passed: the hub's own dead-letter topic is upstream of here. Anything else (registry or broker away,
  database refusing) stops the batch, and the follower starts over from the stored offsets after a back-off.
* Every Kafka client comes from ``hub.wire.clients.kafka_options``; records are decoded with the hub's codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError as PydanticError

from hub import metrics
from hub.backoff import RECONNECT_MAX, RECONNECT_START, Backoff
from hub.core.models import RequestLifecycleEvent
from hub.core.records import AuditEntry, SlaEvent
from hub.errors import RecordError, WrongRecord
from hub.mall.store import Applied, ViewStore
from hub.mall.view import AuditItem, FeedItem, Item, SlaItem
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec, load_schema

log = logging.getLogger(__name__)

POLL_MS = 300
LAG_EVERY = 2.0  # seconds between lag updates


class Decoder:
    """Kafka records of the three topics as view items (raises ``RecordError`` for a record not ours)."""

    def __init__(self, settings: Settings, codec: Codec):
        self.settings = settings
        self.codec = codec
        self.kinds: dict[str, Any] = {settings.topic_feed: RequestLifecycleEvent,
                                      settings.topic_sla: SlaEvent,
                      settings.topic_audit: AuditEntry}
        for model in self.kinds.values():
            codec.reader(load_schema(settings.schemas_dir, model.SCHEMA))

    @property
    def topics(self) -> list[str]:
        return list(self.kinds)

    def item(self, topic: str, partition: int, offset: int, value: bytes | None,
             headers: Sequence[tuple[str, bytes]] | None) -> Item:
        model = self.kinds[topic]
        decoded = self.codec.decode(value)
        if decoded.record_name != model.SCHEMA:
            raise WrongRecord(f"{topic} carries {model.SCHEMA}, not {decoded.record_name}")
        try:
            if model is RequestLifecycleEvent:
                meta = ce.from_headers(headers)
                event = RequestLifecycleEvent.from_avro(decoded.record)
                # The feed carries no personal data; the view would not keep it if it did.
                return FeedItem(partition, offset, meta.source, meta.id,
                                event.model_copy(update={"citizen": None}))
            if model is SlaEvent:
                return SlaItem(partition, offset, SlaEvent.model_validate(decoded.record))
            return AuditItem(partition, offset, AuditEntry.model_validate(decoded.record))
        except PydanticError as exc:
            raise WrongRecord(f"{topic}[{partition}]@{offset} is not a {model.SCHEMA}: "
                              f"{exc.error_count()} field(s) refused") from None


class ViewFollower:
    """Follows the three topics into ``store``; ``on_applied`` hears of every committed batch."""

    def __init__(self, settings: Settings, store: ViewStore, *, codec: Codec | None = None,
                 on_applied: Callable[[Applied], Awaitable[None] | None] | None = None):
        self.settings = settings
        self.store = store
        self.decoder = Decoder(settings, codec or Codec(registry(settings)))
        self.on_applied = on_applied
        self.caught_up = asyncio.Event()  # set once the view reached the ends the topics had at start
        self.applied = 0
        self.lag: dict[str, int] = {}
        self._targets: dict[Any, int] = {}

    def _decode(self, messages: Sequence[Any]) -> list[Item]:
        items: list[Item] = []
        for m in messages:
            try:
                items.append(self.decoder.item(m.topic, m.partition, m.offset, m.value, m.headers))
            except RecordError as exc:
                metrics.MALL_SKIPPED.labels(m.topic, exc.reason_code).inc()
                log.warning("mall view: skipping %s[%d]@%d (%s): %s", m.topic, m.partition, m.offset,
                            exc.reason_code, str(exc)[:200])
        return items

    async def _assign(self, consumer: Any, stopping: asyncio.Event) -> list[Any]:
        from hub.wire.tail import partitions

        while not stopping.is_set():
            tps = [tp for topic in self.decoder.topics for tp in await partitions(consumer, topic)]
            if {tp.topic for tp in tps} == set(self.decoder.topics):
                consumer.assign(tps)
                stored = await self.store.positions()
                for tp in tps:
                    offset = stored.get((tp.topic, tp.partition))
                    if offset is None:
                        await consumer.seek_to_beginning(tp)
                    else:
                        consumer.seek(tp, offset)
                ends = await consumer.end_offsets(tps)
                self._targets = {tp: ends[tp] for tp in tps}
                return tps
            log.info("mall view: waiting for topics %s", self.decoder.topics)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 2.0)
        return []

    async def _lag(self, consumer: Any, tps: list[Any]) -> None:
        per_topic: dict[str, int] = {t: 0 for t in self.decoder.topics}
        behind_target = False
        for tp in tps:
            position = await consumer.position(tp)
            high = consumer.highwater(tp)
            if high is not None:
                per_topic[tp.topic] += max(high - position, 0)
            if position < self._targets.get(tp, 0):
                behind_target = True
        for topic, n in per_topic.items():
            metrics.MALL_LAG.labels(topic).set(n)
        self.lag = per_topic
        if not behind_target:
            self.caught_up.set()

    async def apply(self, messages: Sequence[Any]) -> Applied:
        """Decode and apply one batch with its next offsets (one transaction)."""
        offsets: dict[tuple[str, int], int] = {}
        for m in messages:
            offsets[(m.topic, m.partition)] = max(offsets.get((m.topic, m.partition), 0), m.offset + 1)
        items = self._decode(messages)
        started = time.perf_counter()
        applied = await self.store.apply(items, offsets)
        metrics.MALL_APPLY.observe(time.perf_counter() - started)
        for m in messages:
            metrics.MALL_APPLIED.labels(m.topic).inc()
        if applied.duplicates:
            metrics.MALL_DUPLICATES.inc(applied.duplicates)
        self.applied += len(items)
        if self.on_applied is not None:
            done = self.on_applied(applied)
            if done is not None:
                await done
        return applied

    async def run(self, stopping: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer

        backoff = Backoff(RECONNECT_START, RECONNECT_MAX)
        while not stopping.is_set():
            consumer = AIOKafkaConsumer(**kafka_options(self.settings), group_id=None,
                                        enable_auto_commit=False,
                                        auto_offset_reset="earliest")
            try:
                await consumer.start()
                tps = await self._assign(consumer, stopping)
                last_lag = 0.0
                await self._lag(consumer, tps)
                while not stopping.is_set():
                    batch = await consumer.getmany(timeout_ms=POLL_MS,
                                                   max_records=self.settings.mall_batch_records)
                    messages = sorted((m for ms in batch.values() for m in ms),
                                      key=lambda m: (m.topic != self.settings.topic_feed, m.partition,
                                                     m.offset))
                    if messages:
                        await self.apply(messages)
                    if not messages or time.monotonic() - last_lag > LAG_EVERY:
                        await self._lag(consumer, tps)
                        last_lag = time.monotonic()
                    backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("mall view: follower stopped (%r); from the stored offsets again in %.1fs",
                            exc, backoff.delay)
                await backoff.wait(stopping)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
