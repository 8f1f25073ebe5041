"""Access control on the real, secured broker and registry: nothing without credentials, each principal only
what the catalogue grants it, every refusal Kafka's (or the registry's) own."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from aiokafka.errors import (
    TopicAuthorizationFailedError as TopicDenied,
)
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException
from confluent_kafka import TopicPartition as ConfluentTP
from confluent_kafka.admin import AdminClient

from hub.access import quotas
from hub.connectors.village_desk import source_of
from hub.dev.simulator import village_requests
from hub.dev.sources import SourcePublishers
from hub.wire.clients import confluent_options, kafka_options, registry
from hub.wire.registry import RegistryDenied
from hub.wire.tail import collect


async def _start(client) -> None:  # type: ignore[no-untyped-def]
    await asyncio.wait_for(client.start(), 30)


def _refusal(settings, topic: str, group: str) -> str | None:  # type: ignore[no-untyped-def]
    """The broker's error code when ``settings``' principal reads ``topic`` in ``group`` (confluent-kafka
    surfaces it as the consumer's error; aiokafka only logs it and retries), None if records could be read."""
    consumer = Consumer({**confluent_options(settings), "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    try:
        for _ in range(40):  # bounded by polls
            message = consumer.poll(0.5)
            if message is not None and message.error():
                return message.error().name()
            if message is not None:
                return None
        return None
    finally:
        consumer.close()


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
    # another agency's topic, and a consumer group outside its prefix: refused by the broker
    assert await asyncio.to_thread(_refusal, pln, settings.agency_topic("dukcapil"),
                                   "agency.pln.x") == "TOPIC_AUTHORIZATION_FAILED"
    assert await asyncio.to_thread(_refusal, pln, settings.agency_topic("pln"),
                                   "agency.dukcapil.x") == "GROUP_AUTHORIZATION_FAILED"
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
        answer = await admin.delete_topics([settings.topic_feed])
    finally:
        await admin.close()
    codes = {topic: code for topic, code, *_ in answer.topic_error_codes}
    assert codes == {settings.topic_feed: TopicAuthorizationFailedError.errno}  # Kafka's own refusal
    # moving another principal's group offsets (the worker's group, as an agency or as ops): refused
    intake = settings.desk_intake_topic("banyuwangi")
    for who in ("agency-pln", "ops"):
        admin_client = AdminClient(confluent_options(as_principal(settings, who)))
        move = ConsumerGroupTopicPartitions(settings.app_id, [ConfluentTP(intake, 0, 0)])
        try:
            done = admin_client.alter_consumer_group_offsets([move])[settings.app_id].result(timeout=30)
            refused = [str(tp.error) for tp in done.topic_partitions if tp.error]
        except KafkaException as exc:
            refused = [str(exc)]
        assert refused and "AUTHORIZATION_FAILED" in refused[0], (who, refused)
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


async def test_an_impersonating_event_is_a_dead_letter_and_the_next_good_one_is_routed(
        make_settings, start_worker, as_principal):
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
