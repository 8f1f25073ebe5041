"""End to end on the real broker and registry: village connector -> worker -> agency topics + feed + DLQ."""

from __future__ import annotations

import json
import struct
from collections import Counter
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from hub.connectors.publisher import Publisher
from hub.connectors.village_desk import VillageDeskConnector, source_of
from hub.core import catalogue
from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec
from hub.wire.tail import collect

N = 400


async def test_every_request_reaches_its_agency_and_the_feed_once(make_settings, start_worker, as_principal):
    settings = make_settings()
    start_worker(settings)
    events = list(village_requests(N, seed=7))
    async with VillageDeskConnector(as_principal(settings, "desk-banyuwangi")) as desk:
        assert await desk.submit_many(events) == N

    agency_topics = {settings.agency_topic(a) for a in catalogue.agencies()}
    records = await collect(
        settings, [*agency_topics, settings.topic_feed],
        until=lambda rs: len(rs) >= 2 * N, timeout=90)
    # Give a duplicate the chance to show up before judging.
    records = await collect(settings, [*agency_topics, settings.topic_feed],
                            until=lambda rs: len(rs) > 2 * N, timeout=3)

    codec = Codec(registry(settings))
    sent = {e.request_id: e for e in events}
    feed = [r for r in records if r.topic == settings.topic_feed]
    agency = [r for r in records if r.topic in agency_topics]
    assert len(feed) == N and len(agency) == N
    assert Counter(r.key.decode() for r in feed) == Counter(list(sent))  # none lost, none duplicated
    assert Counter(r.key.decode() for r in agency) == Counter(list(sent))

    for record in agency:
        event = RequestLifecycleEvent.from_avro(codec.decode(record.value).record)
        original = sent[event.request_id]
        service = catalogue.service(original.service_code)
        assert record.topic == settings.agency_topic(service.agency)
        assert record.headers["ce_id"] == original.event_id
        assert record.headers["ce_source"] == f"/smart-kampung/{original.region_code}"
        assert record.headers["ce_subject"] == original.request_id
        # Purpose limitation: only the fields the service needs.
        held = set(event.citizen.model_dump(exclude_none=True)) if event.citizen else set()
        assert held <= service.personal_data
        # Nothing but the citizen block changes; the lifecycle engine adds its enrichment.
        assert event.enrichment is not None and event.enrichment.service_name == service.name_id
        assert event.model_copy(update={"citizen": None, "enrichment": None}) == original.model_copy(
            update={"citizen": None})
    for record in feed:
        event = RequestLifecycleEvent.from_avro(codec.decode(record.value).record)
        assert event.citizen is None, "the MPP feed carries no personal data"


async def test_bad_records_go_to_the_dead_letter_topic_and_the_stream_goes_on(make_settings, start_worker,
                                                                             as_principal):
    settings = make_settings(topic_partitions=1)  # one partition: "the next good record" is well defined
    worker = start_worker(settings)
    desk = as_principal(settings, "desk-banyuwangi")
    intake = settings.desk_intake_topic("banyuwangi")
    good_before, bad_service, bad_nik, good_after = village_requests(4, seed=11)
    bad_service = bad_service.model_copy(update={"service_code": "NO_SUCH_SERVICE"})
    bad_nik = bad_nik.model_copy(
        update={"citizen": bad_nik.citizen.model_copy(update={"nik": "3510991234560001"})})
    headers = ce.to_headers(ce.CloudEvent("x-1", "/test", "test", "X", datetime.now(UTC)))

    async with Publisher(desk, "test", "/smart-kampung", topic=intake) as publisher:
        await publisher.publish(good_before, source=source_of(good_before.region_code))
        producer = AIOKafkaProducer(**kafka_options(desk))
        await producer.start()
        await producer.send_and_wait(intake, b"\xff\x00garbage", key=b"G", headers=headers)
        await producer.send_and_wait(intake, struct.pack(">BI", 0, 2**31 - 7) + b"\x00",
                                     key=b"U", headers=headers)
        await producer.stop()
        for event in (bad_service, bad_nik, good_after):
            await publisher.publish(event, source=source_of(event.region_code))

    records = await collect(settings, [settings.topic_dlq, settings.topic_feed],
                            until=lambda rs: len(rs) >= 6, timeout=60)
    dlq = sorted((r for r in records if r.topic == settings.topic_dlq), key=lambda r: r.offset)
    feed = [r.key.decode() for r in records if r.topic == settings.topic_feed]
    assert feed == [good_before.request_id, good_after.request_id]
    assert [r.headers["dlq_reason"] for r in dlq] == [
        "bad_framing", "unknown_schema_id", "invalid_content", "invalid_content"]
    assert [int(r.headers["dlq_offset"]) for r in dlq] == [1, 2, 3, 4]
    assert all(r.headers["dlq_topic"] == intake for r in dlq)
    assert dlq[0].value == b"\xff\x00garbage"                      # original bytes, untouched
    assert "service_code" in dlq[2].headers["dlq_error"] and "NO_SUCH_SERVICE" in dlq[2].headers["dlq_error"]
    assert "citizen.nik" in dlq[3].headers["dlq_error"] and "351099" in dlq[3].headers["dlq_error"]
    assert dlq[2].headers["ce_id"] == bad_service.event_id          # original headers kept
    # The worker's JSON log names the request and the event of each dead letter (and no NIK).
    logged = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
    lines = [e for e in logged if e.get("msg", "").startswith("dead letter")]
    assert any(e.get("request_id") == bad_service.request_id and e.get("event_id") == bad_service.event_id
               for e in lines)
    assert bad_nik.citizen.nik not in worker.log_path.read_text()
