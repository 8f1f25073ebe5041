"""The worker's output path on the real broker: records land, keyed like Kafka's default partitioner, and
a record the broker refuses stops every later offset commit and crashes the worker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from hub.streams.emit import DeliveryFailed, Emitter
from hub.streams.kafka_io import Outgoing
from hub.wire.clients import kafka_options
from hub.wire.partitioner import CachedPartitioner
from hub.wire.topics import TopicSpec, ensure_topics


class _Producer:
    """Faust's producer as the Emitter sees it: the started aiokafka producer and a flush."""

    def __init__(self, producer: AIOKafkaProducer):
        self.producer = producer

    def _ensure_producer(self) -> AIOKafkaProducer:
        return self.producer

    async def flush(self) -> None:
        await self.producer.flush()


class _App:
    def __init__(self, producer: AIOKafkaProducer):
        self.producer = _Producer(producer)
        self.crashed: list[BaseException] = []

    async def crash(self, reason: BaseException) -> None:
        self.crashed.append(reason)


async def test_records_arrive_on_the_default_partition_and_a_refused_one_blocks_the_commit(make_settings):
    settings = make_settings(provisioned=False)  # topics of its own (the admin)
    small, ok = f"{settings.app_id}.small", f"{settings.app_id}.ok"
    await ensure_topics(settings, [TopicSpec(ok, "test", 6, 1),
                                   TopicSpec(small, "test", 1, 1, {"max.message.bytes": "2000"})])
    producer = AIOKafkaProducer(**kafka_options(settings), acks="all", enable_idempotence=True,
                                partitioner=CachedPartitioner(), max_request_size=1 << 20)
    await producer.start()
    app = _App(producer)
    emitter = Emitter(app)  # type: ignore[arg-type]
    try:
        keys = [f"SK-{i:04d}".encode() for i in range(60)]
        await emitter.send_all(Outgoing(ok, "test", k, b"v" + k, [("ce_id", k)]) for k in keys)
        await app.producer.flush()  # what Faust calls before committing offsets: nothing failed
        consumer = AIOKafkaConsumer(ok, **kafka_options(settings), auto_offset_reset="earliest")
        await consumer.start()
        try:
            got: dict[bytes, int] = {}
            for _ in range(30):
                for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                    got.update({r.key: tp.partition for r in records})
                if len(got) >= len(keys):
                    break
        finally:
            await consumer.stop()
        default = DefaultPartitioner()
        assert got == {k: default(k, list(range(6)), list(range(6))) for k in keys}

        await emitter.send(Outgoing(small, "test", b"SK-big", b"x" * 10_000, []))  # the broker refuses it
        with pytest.raises(DeliveryFailed, match="not delivered"):
            await app.producer.flush()
        await asyncio.sleep(0.1)
        assert len(app.crashed) == 1 and small in str(app.crashed[0])
        with pytest.raises(DeliveryFailed):  # and nothing more is sent after it
            await emitter.send(Outgoing(ok, "test", b"SK-after", b"v", []))
    finally:
        await producer.stop()


async def test_records_for_a_topic_not_there_yet_wait_and_then_arrive_once(make_settings):
    settings = make_settings(provisioned=False)  # topics of its own (the admin)
    late = f"{settings.app_id}.late"
    producer = AIOKafkaProducer(**kafka_options(settings), acks="all", enable_idempotence=True,
                                request_timeout_ms=1000)  # how long a send waits for the topic's metadata
    await producer.start()
    emitter = Emitter(_App(producer))  # type: ignore[arg-type]
    outs = [Outgoing(late, "test", b"SK-1", f"v{i}".encode(), [("ce_id", f"e{i}".encode())])
            for i in range(3)]
    try:
        sending = asyncio.create_task(emitter.send_patiently(outs, "intake[0]@7"))
        await asyncio.sleep(3)
        assert not sending.done(), "the broker has no such topic (auto-create is off): the send must wait"
        await ensure_topics(settings, [TopicSpec(late, "test", 1, 1)])
        await asyncio.wait_for(sending, 60)
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(late, **kafka_options(settings), auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: list[bytes] = []
        for _ in range(30):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                got += [r.value for r in records]
            if len(got) >= 3:
                break
    finally:
        await consumer.stop()
    assert got == [b"v0", b"v1", b"v2"]
