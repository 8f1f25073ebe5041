"""An agency with nothing but an HTTP endpoint receives its requests: village desk -> intake -> a real hub
worker -> agency topic -> dispatcher -> the agency's receiver; signed (Standard Webhooks, verified with the
``standardwebhooks`` package, also across a secret rotation), minimised as on the agency topic, numbered
per request, and every delivery of personal data on the audit topic with channel ``webhook``."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import asyncpg
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.access.credentials import store_of
from hub.core import catalogue
from hub.core.models import RequestLifecycleEvent
from hub.core.records import AuditEntry
from hub.delivery import service
from hub.delivery.model import State
from hub.delivery.receiver import Receiver
from hub.delivery.signing import generate_secret
from hub.dev.sources import SourcePublishers
from hub.wire.clients import registry
from hub.wire.codec import Codec
from hub.wire.tail import collect
from hub.wire.topics import ensure_topics, topic_specs
from tests.integration.delivery.tools import (
    AGENCY,
    STEPS,
    lifecycle,
    opened,
    publish,
    register,
    running,
    topics,
    until,
)


async def test_an_agency_endpoint_receives_its_requests_through_the_whole_hub(delivery_settings, receivers,
                                                                              start_worker):
    settings = delivery_settings(citizen_ref_key="flow-test-key-0123456789abcdef")
    await ensure_topics(settings, topic_specs(settings))
    start_worker(settings)
    secret = generate_secret()
    endpoint = await receivers(Receiver([secret]))
    endpoint_id = await register(settings, endpoint.url, secret=secret)
    assert endpoint.receiver.challenges == 1  # verified before it was stored
    events = lifecycle(6, 3)
    dispatcher = await running(settings)
    try:
        async with SourcePublishers(settings, store_of(settings)) as publisher:
            for step in range(3):  # one status after the other, as a desk would send them
                await publisher.publish_many((e, None) for e in events[step * 6:(step + 1) * 6])
                await asyncio.sleep(0.5)
        await until(lambda: len(endpoint.receiver.ids()) >= len(events), "every event at the endpoint", 90)
    finally:
        await dispatcher.stop()

    got = endpoint.receiver.received
    assert all(r.verified for r in got)
    assert endpoint.receiver.ids() == {e.event_id for e in events}
    assert all(r.webhook_id == r.doc["id"] for r in got)
    records = await collect(settings, [settings.agency_topic(AGENCY), settings.topic_audit],
                            until=lambda rs: len(rs) >= 2 * len(events), timeout=30)
    codec = Codec(registry(settings))
    on_topic = {r.headers["ce_id"]: RequestLifecycleEvent.from_avro(codec.decode(r.value).record)
                for r in records if r.topic == settings.agency_topic(AGENCY)}
    by_request = defaultdict(list)
    for r in got:
        doc = r.doc
        routed = on_topic[doc["id"]]
        assert doc["data"] == routed.model_dump(mode="json", exclude_none=True)  # what the agency topic has
        held = set(doc["data"].get("citizen", {}))
        assert held and held <= catalogue.service(routed.service_code).personal_data
        assert doc["type"] == RequestLifecycleEvent.CE_TYPE and doc["subject"] == routed.request_id
        by_request[doc["subject"]].append(doc)
    for docs in by_request.values():  # numbered per request, in the request's order
        ordered = sorted(docs, key=lambda d: d["sequence"])
        assert [d["sequence"] for d in ordered] == [1, 2, 3]
        assert [d["data"]["status"] for d in ordered] == [s.value for s in STEPS[:3]]

    audit = [AuditEntry.from_avro(codec.decode(r.value).record) for r in records
             if r.topic == settings.topic_audit]
    webhook = [a for a in audit if a.deliveries[0].channel == "webhook"]
    assert {a.event_ce_id for a in webhook} == {e.event_id for e in events}
    for entry in webhook:
        [d] = entry.deliveries
        routed = on_topic[entry.event_ce_id]
        assert d.audience == f"agency:{AGENCY}" and d.topic == endpoint.url
        assert d.personal_fields == sorted(routed.citizen.model_dump(exclude_none=True))
        assert entry.citizen_ref and entry.citizen_ref == routed.enrichment.citizen_ref
    # The attempt log and the finished deliveries keep no personal data.
    store = await opened(settings)
    try:
        page = await store.list_deliveries(endpoint_id=endpoint_id, limit=100)
        assert {d.state for d in page.deliveries} == {State.DELIVERED}
        assert all(d.payload is None for d in page.deliveries)
        log = [a for d in page.deliveries for a in await store.attempts(d.id)]
        assert len(log) == len(events)
        text = repr(log) + repr([d.public() for d in page.deliveries])
        assert not any(e.citizen.nik in text or e.citizen.name in text for e in events)
    finally:
        await store.close()


async def test_signatures_verify_with_either_secret_during_a_rotation_and_only_the_new_one_after(
        delivery_settings, receivers):
    settings = delivery_settings(delivery_time_compression=20_000)  # the 24 h overlap lasts 4.3 s
    await topics(settings)
    old = generate_secret()
    endpoint = await receivers(Receiver([old]))
    endpoint_id = await register(settings, endpoint.url, secret=old)
    events = lifecycle(4, 3, seed=11)
    dispatcher = await running(settings)
    store = await opened(settings)
    try:
        await publish(settings, events[:4])
        await until(lambda: len(endpoint.receiver.received) == 4, "the first batch")
        rotated = await service.rotate_secret(store, settings, endpoint_id)
        new = rotated.secret
        await asyncio.sleep(2 * settings.delivery_refresh_seconds + 0.2)  # the dispatcher picks it up
        await publish(settings, events[4:8])
        await until(lambda: len(endpoint.receiver.received) == 8, "the batch sent during the rotation")
        assert time.time() < rotated.previous_until
        await asyncio.sleep(max(0.0, rotated.previous_until - time.time()) + 0.2)
        await publish(settings, events[8:])
        await until(lambda: len(endpoint.receiver.received) == 12, "the batch sent after the rotation")
    finally:
        await dispatcher.stop()
        await store.close()

    def verifies(secret: str, r) -> bool:  # type: ignore[no-untyped-def]
        try:
            Webhook(secret).verify(r.body, r.headers())
            return True
        except WebhookVerificationError:
            return False

    before, during, after = (endpoint.receiver.received[i:i + 4] for i in (0, 4, 8))
    assert all(verifies(old, r) and not verifies(new, r) for r in before)
    assert all(verifies(old, r) and verifies(new, r) for r in during)  # both sign: either receiver is happy
    assert all(verifies(new, r) and not verifies(old, r) for r in after)
    assert all(len(r.signature.split(" ")) == 2 for r in during)


async def test_the_dispatcher_on_postgresql_retries_and_saves_its_offsets_there(delivery_settings, receivers,
                                                                               postgres):
    admin = await asyncpg.connect(postgres)
    await admin.execute("CREATE DATABASE delivery_flow")
    await admin.close()
    settings = delivery_settings(delivery_store=postgres.rsplit("/", 1)[0] + "/delivery_flow")
    await topics(settings)
    answers = iter([503, 503])  # the first two requests fail, then all is well
    endpoint = await receivers(Receiver(reply=lambda _: (next(answers, 200), {})))
    endpoint_id = await register(settings, endpoint.url, mode="fifo")
    events = lifecycle(5, 2, seed=13)
    dispatcher = await running(settings)
    try:
        await publish(settings, events)
        await until(lambda: endpoint.receiver.ids() == {e.event_id for e in events}, "every event", 60)
    finally:
        await dispatcher.stop()
    store = await opened(settings)
    try:
        page = await store.list_deliveries(endpoint_id=endpoint_id, limit=100)
        assert {d.state for d in page.deliveries} == {State.DELIVERED} and len(page.deliveries) == 10
        assert sorted(d.attempts for d in page.deliveries)[-2:] == [2, 2]
        saved = await store.offsets(settings.delivery_consumer_group,
                                    [(settings.agency_topic(AGENCY), p) for p in range(3)])
        assert sum(saved.values()) == len(events)  # every record settled, its offset saved with it
    finally:
        await store.close()
