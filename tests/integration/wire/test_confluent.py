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
from hub.wire.clients import confluent_options, confluent_registry_options

N = 24


def _consume(settings, topics: list[str], group: str, want: int, *, max_polls: int = 600) -> list:  # type: ignore[no-untyped-def]
    """Read as an agency integrator would: confluent-kafka over SASL_SSL/SCRAM-SHA-512 with the CA file, and
    Confluent's own Avro deserializer against the registry (HTTP basic, the same credentials)."""
    consumer = DeserializingConsumer({
        **confluent_options(settings),
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "key.deserializer": StringDeserializer("utf_8"),
        "value.deserializer": AvroDeserializer(SchemaRegistryClient(confluent_registry_options(settings))),
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


async def test_an_agency_reads_its_topic_with_confluents_avro_deserializer(make_settings, start_worker,
                                                                          as_principal):
    settings = make_settings()
    start_worker(settings)
    events = list(village_requests(N, seed=33))
    async with VillageDeskConnector(as_principal(settings, "desk-banyuwangi")) as desk:
        assert await desk.submit_many(events) == N

    agency = "dukcapil"
    mine = [e for e in events if catalogue.service(e.service_code).agency == agency]
    assert mine, "the sample must hold requests for the agency"
    dukcapil = as_principal(settings, f"agency-{agency}")
    messages = await asyncio.to_thread(_consume, dukcapil, [settings.agency_topic(agency)],
                                       f"agency.{agency}.integrator", len(mine))
    feed = await asyncio.to_thread(_consume, as_principal(settings, "mall"), [settings.topic_feed],
                                   "mall.integrator", N)
    assert len(messages) == len(mine) and len(feed) == N
    sent = {e.request_id: e for e in events}

    for message in [*messages, *feed]:
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
