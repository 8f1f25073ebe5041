"""Poison records on the real broker never stop a partition: a header key that is not UTF-8 (which kills
aiokafka's fetcher without hub.compat), a record over the intake limit, an unknown schema id twice; each is a
dead letter with its reason and position, and the records after them are routed."""

from __future__ import annotations

import struct

from aiokafka import AIOKafkaProducer

from hub.connectors.village_desk import source_of
from hub.dev.simulator import village_requests
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec, load_schema
from hub.wire.tail import collect
from tests.support.poison import RawKey, send_raw


def _record(codec, topic, event):  # type: ignore[no-untyped-def]
    encoder = codec.encoder(topic, load_schema(codec_schemas_dir(), event.SCHEMA))
    meta = ce.CloudEvent(event.event_id, source_of(event.region_code), event.CE_TYPE, event.request_id,
                         event.occurred_at)
    return event.request_id.encode(), encoder(event.to_avro()), ce.to_headers(meta)


def codec_schemas_dir():  # type: ignore[no-untyped-def]
    from hub.settings import REPO_ROOT

    return REPO_ROOT / "schemas"


async def test_poison_records_are_dead_letters_and_the_partition_goes_on(make_settings, start_worker,
                                                                         as_principal):
    settings = make_settings(topic_partitions=1)
    start_worker(settings)
    desk = as_principal(settings, "desk-banyuwangi")
    topic = settings.desk_intake_topic("banyuwangi")
    codec = Codec(registry(desk))
    first, poisoned, big, after = village_requests(4, seed=71)
    key, value, headers = _record(codec, topic, poisoned)
    good = [_record(codec, topic, e) for e in (first, after)]
    oversize = _record(codec, topic, big)
    unknown = struct.pack(">BI", 0, 2**31 - 11) + b"\x00"

    producer = AIOKafkaProducer(**kafka_options(desk), acks="all")  # not idempotent: a raw batch goes as is
    await producer.start()
    try:
        await producer.send_and_wait(topic, good[0][1], key=good[0][0], headers=good[0][2])
        await send_raw(producer, topic, 0, [(key, value, [(RawKey(b"ce_\xff\xfe"), b"x"), *headers])])
        await producer.send_and_wait(topic, oversize[1], key=oversize[0],
                                     headers=[*oversize[2],
                                              ("padding", b"p" * (settings.intake_max_record_bytes + 1))])
        for _ in range(2):  # the second is answered from the codec's memory, not the registry
            await producer.send_and_wait(topic, unknown, key=b"U", headers=good[1][2])
        await producer.send_and_wait(topic, good[1][1], key=good[1][0], headers=good[1][2])
    finally:
        await producer.stop()

    records = await collect(settings, [settings.topic_dlq, settings.topic_feed],
                            until=lambda rs: len(rs) >= 6, timeout=90)
    dlq = sorted((r for r in records if r.topic == settings.topic_dlq), key=lambda r: r.offset)
    assert [(r.headers["dlq_reason"], int(r.headers["dlq_offset"])) for r in dlq] == [
        ("unreadable_record", 1), ("too_large", 2), ("unknown_schema_id", 3), ("unknown_schema_id", 4)]
    assert dlq[0].value == value and dlq[0].key == key  # the original bytes, for replay
    assert "not UTF-8" in dlq[0].headers["dlq_error"] and "limit" in dlq[1].headers["dlq_error"]
    assert len(dlq[1].headers["dlq_error"]) < 500  # the error names the size, it does not echo the record
    assert [r.key.decode() for r in records if r.topic == settings.topic_feed] == [first.request_id,
                                                                                  after.request_id]
