"""What an agency will do: read the hub's topics with Confluent's own Python client and its schema-registry
AvroDeserializer, pointed at the registry's Confluent-compatible API."""

from __future__ import annotations

import asyncio

from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import StringDeserializer

from hub.connectors.village_desk import VillageDeskConnector
from hub.core import catalogue
from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.wire.topics import ensure_topics, topic_specs

N = 24


def _consume(settings, topics: list[str], want: int, *, max_polls: int = 600) -> list:  # type: ignore[no-untyped-def]
    consumer = DeserializingConsumer({
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": f"{settings.app_id}-agency-reader",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "key.deserializer": StringDeserializer("utf_8"),
        "value.deserializer": AvroDeserializer(SchemaRegistryClient({"url": settings.registry_url})),
    })
    consumer.subscribe(topics)
    messages = []
    try:
        for _ in range(max_polls):  # bounded by polls, not by a timed assertion
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            messages.append(message)
            if len(messages) >= want:
                break
    finally:
        consumer.close()
    return messages


async def test_an_agency_reads_its_topic_with_confluents_avro_deserializer(make_settings, start_worker):
    settings = make_settings()
    await ensure_topics(settings, topic_specs(settings))
    start_worker(settings)
    events = list(village_requests(N, seed=33))
    async with VillageDeskConnector(settings) as desk:
        assert await desk.submit_many(events) == N

    agency_topics = sorted({settings.agency_topic(a) for a in catalogue.agencies()})
    messages = await asyncio.to_thread(_consume, settings, [*agency_topics, settings.topic_feed], 2 * N)
    sent = {e.request_id: e for e in events}
    by_topic: dict[str, list] = {}
    for m in messages:
        by_topic.setdefault(m.topic(), []).append(m)
    assert len(by_topic.get(settings.topic_feed, [])) == N
    assert sum(len(v) for k, v in by_topic.items() if k in agency_topics) == N

    for message in messages:
        record = message.value()  # a plain dict, decoded by Confluent's deserializer via the registry
        assert isinstance(record, dict) and message.key() == record["request_id"]
        event = RequestLifecycleEvent.from_avro(record)
        original = sent[event.request_id]
        headers = {k: v.decode() for k, v in message.headers() or []}
        assert headers["ce_id"] == original.event_id and headers["ce_subject"] == original.request_id
        assert headers["ce_type"] == RequestLifecycleEvent.CE_TYPE and headers["ce_specversion"] == "1.0"
        # What was sent, less what this subscriber may not see (and plus the hub's enrichment).
        assert event.model_copy(update={"citizen": None, "enrichment": None}) == \
            original.model_copy(update={"citizen": None})
        if message.topic() == settings.topic_feed:
            assert event.citizen is None
        else:
            service = catalogue.service(original.service_code)
            assert message.topic() == settings.agency_topic(service.agency)
            held = event.citizen.model_dump(exclude_none=True) if event.citizen else {}
            assert set(held) <= service.personal_data
            assert held == {k: v for k, v in original.citizen.model_dump(exclude_none=True).items()
                            if k in service.personal_data}
