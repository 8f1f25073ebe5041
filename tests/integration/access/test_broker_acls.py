"""Access control on the real, secured broker and registry: nothing without credentials, each principal only
what the catalogue grants it, every refusal Kafka's (or the registry's) own."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
    TopicAuthorizationFailedError as TopicDenied,
)
from aiokafka.structs import OffsetAndMetadata

from hub.access import quotas
from hub.connectors.village_desk import source_of
from hub.dev.simulator import village_requests
from hub.dev.sources import SourcePublishers
from hub.wire.clients import kafka_options, registry
from hub.wire.registry import RegistryDenied
from hub.wire.tail import collect


async def _start(client) -> None:  # type: ignore[no-untyped-def]
    await asyncio.wait_for(client.start(), 30)


async def test_without_credentials_or_with_a_wrong_password_nothing_connects(make_settings):
    settings = make_settings(provisioned=False)
    plain = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, request_timeout_ms=5000)
    with pytest.raises((KafkaConnectionError, KafkaError, asyncio.TimeoutError)):
        await _start(plain)  # nothing listens in plaintext
    await plain.stop()
    wrong = AIOKafkaProducer(**kafka_options(settings.as_principal("agency-pln", "not-the-password")),
                             request_timeout_ms=5000)
    with pytest.raises((KafkaConnectionError, KafkaError, asyncio.TimeoutError)):
        await _start(wrong)
    await wrong.stop()
    unknown_ca = AIOKafkaProducer(**{**kafka_options(settings), "ssl_context": ssl.create_default_context()},
                                  request_timeout_ms=5000)
    with pytest.raises((KafkaConnectionError, KafkaError, asyncio.TimeoutError, ssl.SSLError)):
        await _start(unknown_ca)  # the client verifies the broker: a CA it does not know is refused
    await unknown_ca.stop()


async def test_an_agency_reads_only_its_topic_in_its_own_groups_and_writes_only_its_intake(make_settings,
                                                                                          as_principal):
    settings = make_settings(topic_partitions=1)
    pln = as_principal(settings, "agency-pln")
    # its own topic, in a group under its prefix: allowed
    own = AIOKafkaConsumer(settings.agency_topic("pln"), **kafka_options(pln), group_id="agency.pln.test",
                           auto_offset_reset="earliest", enable_auto_commit=False)
    await _start(own)
    try:
        await own.getmany(timeout_ms=1500)
    finally:
        await own.stop()
    # another agency's topic: refused by the broker
    other = AIOKafkaConsumer(**kafka_options(pln), group_id=None, enable_auto_commit=False)
    await _start(other)
    try:
        other.assign([TopicPartition(settings.agency_topic("dukcapil"), 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            await other.seek_to_beginning()
            await other.getmany(timeout_ms=3000)
            await other.getone()
    finally:
        await other.stop()
    # a consumer group outside its prefix: refused
    foreign = AIOKafkaConsumer(settings.agency_topic("pln"), **kafka_options(pln), group_id="agency.dukcapil.x",
                               enable_auto_commit=False)
    with pytest.raises(GroupAuthorizationFailedError):
        await _start(foreign)
        await foreign.getmany(timeout_ms=5000)
    await foreign.stop()
    # writing another agency's intake topic: refused
    producer = AIOKafkaProducer(**kafka_options(pln), request_timeout_ms=5000)
    await _start(producer)
    try:
        with pytest.raises(TopicDenied):
            await producer.send_and_wait(settings.agency_intake_topic("dukcapil"), b"x", key=b"k")
        await producer.send_and_wait(settings.agency_intake_topic("pln"), b"x", key=b"k")  # its own: fine
    finally:
        await producer.stop()


async def test_only_the_admin_deletes_topics_moves_offsets_or_changes_schemas(make_settings, as_principal):
    settings = make_settings(topic_partitions=1)
    worker = as_principal(settings, "hub-worker")
    admin = AIOKafkaAdminClient(**kafka_options(worker))
    await _start(admin)
    try:
        with pytest.raises((TopicAuthorizationFailedError, KafkaError)) as caught:
            await admin.delete_topics([settings.topic_feed])
        assert "Authorization" in type(caught.value).__name__ or "AUTHORIZATION" in str(caught.value).upper()
    finally:
        await admin.close()
    # moving another principal's group offsets (the worker's own group, as an agency): refused
    pln = AIOKafkaConsumer(**kafka_options(as_principal(settings, "agency-pln")), group_id=settings.app_id,
                           enable_auto_commit=False)
    with pytest.raises(GroupAuthorizationFailedError):
        await _start(pln)
        await pln.commit({TopicPartition(settings.agency_topic("pln"), 0): OffsetAndMetadata(0, "")})
    await pln.stop()
    # the registry: anonymous is 401, reading is allowed, changing is 403
    reg = registry(as_principal(settings, "agency-pln"))
    assert reg.subjects()
    with pytest.raises(RegistryDenied) as denied:
        reg.set_compatibility(f"{settings.topic_feed}-x", "NONE")
    assert denied.value.status == 403
    with pytest.raises(RegistryDenied):
        reg.register(f"{settings.topic_feed}-x", '{"type": "string"}')
    anonymous = httpx.get(f"{settings.registry_url}/subjects", verify=str(settings.kafka_ca_file))
    assert anonymous.status_code == 401


async def test_agencies_have_a_byte_rate_quota(make_settings):
    settings = make_settings(provisioned=True)
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await _start(admin)
    try:
        found = await quotas.user_quota(admin, "agency-pln")
    finally:
        await admin.close()
    assert found == {quotas.PRODUCE: float(settings.client_quota_bytes),
                     quotas.FETCH: float(settings.client_quota_bytes)}


async def test_an_impersonating_event_is_a_dead_letter_and_the_next_good_one_is_routed(make_settings, start_worker,
                                                                                     as_principal):
    settings = make_settings(topic_partitions=1)
    start_worker(settings)
    good, claim, after = village_requests(3, seed=61)
    # pln writes a rejection in the civil registry's name on its own topic (the only one it may write)
    forged = claim.model_copy(update={"agency": "dukcapil", "service_code": "DUKCAPIL_KTP_EL",
                                      "source_system": "ap2t"})
    from hub.access.credentials import store_of

    async with SourcePublishers(settings, store_of(settings)) as sources:
        await sources.publish(good, source=source_of(good.region_code))
        await sources.publish(forged, source="/agency/pln/ap2t")
        await sources.publish(after, source=source_of(after.region_code))
    records = await collect(settings, [settings.topic_dlq, settings.topic_feed],
                            until=lambda rs: len(rs) >= 3, timeout=90)
    dlq = [r for r in records if r.topic == settings.topic_dlq]
    feed = {r.key.decode() for r in records if r.topic == settings.topic_feed}
    assert [r.headers["dlq_reason"] for r in dlq] == ["impersonation"]
    assert dlq[0].headers["dlq_topic"] == settings.agency_intake_topic("pln")
    assert "dukcapil" in dlq[0].headers["dlq_error"]
    assert feed == {good.request_id, after.request_id}
