"""The topic catalogue: every topic the hub reads or writes, with its partitions, replication and config.

Topics are created explicitly by the hub admin (``hub topics create``): no other principal may create,
delete or reconfigure a topic, and a Faust agent subscribed to a missing topic silently consumes nothing,
so the worker refuses to start until its topics exist (:func:`missing_topics`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from hub.core import catalogue
from hub.settings import Settings
from hub.wire.clients import kafka_options

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
NAMESPACE = "id.go.banyuwangikab.hub"
LIFECYCLE = f"{NAMESPACE}.RequestLifecycleEvent"
SLA_EVENT = f"{NAMESPACE}.SlaEvent"
AUDIT_ENTRY = f"{NAMESPACE}.AuditEntry"
CITIZEN_NOTICE = f"{NAMESPACE}.CitizenNotice"
#: The agency code of village-desk services: desks answer for them on their own intake topics.
DESK_AGENCY = "desa"
#: Dead letters hold original bytes (personal data): kept 21 days, long enough to fix and replay a bad record
#: that arrived at the start of the longest public holiday (Lebaran with cuti bersama), and no longer.
DLQ_RETENTION_DAYS = 21
#: The feed is the record of every request's story (no personal data): kept a quarter, longer than any open
#: request's SLA (the service mall rebuilds its view from it).
FEED_RETENTION_DAYS = 90
#: Lifecycle engine tables (Faust names their changelog topics ``<app_id>-<table>-changelog``).
TABLES = ("requests", "journeys")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    purpose: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)
    # Full names of the Avro records that travel on the topic ("*" = any: the DLQ keeps original bytes).
    records: tuple[str, ...] = (LIFECYCLE,)


def topic_specs(settings: Settings, agencies: Iterable[str] | None = None) -> list[TopicSpec]:
    """Every topic of the hub, from settings and the service catalogue's agencies."""
    p, r = settings.topic_partitions, settings.replication_factor
    base = {"min.insync.replicas": str(min(settings.min_insync_replicas, r))}
    agency_codes = sorted(agencies if agencies is not None else catalogue.agencies())
    specs = [
        *(TopicSpec(topic, f"intake from {who}: writable by that principal alone", p, r,
                    {**base, "retention.ms": str(7 * DAY_MS)})
          for topic, who in _intake(settings, agency_codes)),
        TopicSpec(settings.topic_feed, "every accepted, enriched lifecycle event, personal data minimised "
                  "(pseudonymous citizen_ref): the service mall's feed and the hub's record of each "
                  "request's story", p, r, {**base, "retention.ms": str(FEED_RETENTION_DAYS * DAY_MS)}),
        # The original bytes may hold personal data: readable by the ops-dlq principal alone, and kept only
        # as long as fixing and replaying needs, a Lebaran holiday included (README, "Dead letters").
        TopicSpec(settings.topic_dlq, "dead letters: original bytes, reason in headers", p, r,
                  {**base, "retention.ms": str(DLQ_RETENTION_DAYS * DAY_MS),
                   "max.message.bytes": str(settings.dead_letter_max_bytes)}, records=("*",)),
        TopicSpec(settings.topic_notify, "short messages to citizens (Bahasa Indonesia) with the phone "
                  "number to send them to", p, r, {**base, "retention.ms": str(7 * DAY_MS)},
                  records=(CITIZEN_NOTICE,)),
        TopicSpec(settings.topic_audit, "who received which event and which personal fields (no payload)",
                  p, r, {**base, "retention.ms": str(400 * DAY_MS)}, records=(AUDIT_ENTRY,)),
        TopicSpec(settings.topic_sla, "SLA warnings (80%) and breaches (100%), per request and stage", p, r,
                  {**base, "retention.ms": str(90 * DAY_MS)}, records=(SLA_EVENT,)),
        # Internal to the worker (not for subscribers). Same partition count as intake: co-partitioned.
        TopicSpec(settings.topic_timer, "internal: SLA timer ticks (JSON), keyed by request id", p, r,
                  {**base, "retention.ms": str(7 * DAY_MS)}, records=("*",)),
        TopicSpec(settings.topic_journey,
                  "internal: accepted child events keyed by journey (parent request id)", p, r,
                  {**base, "retention.ms": str(7 * DAY_MS)}),
        *(TopicSpec(settings.changelog_topic(t), f"internal: changelog of the {t} table (Faust JSON)", p, r,
                    {**base, "cleanup.policy": "compact"}, records=("*",)) for t in TABLES),
    ]
    if settings.topic_lifecycle:  # optional: the feed's bytes under another name and retention
        specs.append(TopicSpec(settings.topic_lifecycle,
                               "accepted, enriched lifecycle events (the same bytes as the feed): "
                               "an optional log of its own", p, r,
                               {**base, "retention.ms": str(FEED_RETENTION_DAYS * DAY_MS)}))
    for agency in agency_codes:
        specs.append(TopicSpec(settings.agency_topic(agency), f"what agency {agency} is entitled to see",
                               p, r, {**base, "retention.ms": str(30 * DAY_MS)}))
    return specs


def _intake(settings: Settings, agencies: Iterable[str]) -> list[tuple[str, str]]:
    desks = [(settings.desk_intake_topic(node), f"village-desk node {node}")
             for node in settings.desk_node_prefixes]
    return desks + [(settings.agency_intake_topic(a), f"agency {a}") for a in agencies if a != DESK_AGENCY]


def intake_topics(settings: Settings) -> list[str]:
    """Every topic the worker reads intake events from (the worker subscribes to exactly these): one per
    village-desk node and one per agency of the catalogue (village desks answer for ``desa`` services)."""
    return [topic for topic, _ in _intake(settings, catalogue.agencies())]


@dataclass(frozen=True, slots=True)
class IntakeSource:
    """Who may write an intake topic: the identity the worker holds an event to (hub.access makes the topic
    writable by that principal alone). ``kind`` "desk": a village-desk node serving the villages whose codes
    start with ``regions``; "agency": the agency ``name``."""

    topic: str
    kind: str  # "desk" | "agency"
    name: str  # desk node or agency code
    regions: tuple[str, ...] = ()


def intake_sources(settings: Settings) -> dict[str, IntakeSource]:
    """Every intake topic and its source."""
    out = {}
    for node, prefixes in settings.desk_node_prefixes.items():
        topic = settings.desk_intake_topic(node)
        out[topic] = IntakeSource(topic, "desk", node, prefixes)
    for agency in catalogue.agencies():
        if agency != DESK_AGENCY:
            topic = settings.agency_intake_topic(agency)
            out[topic] = IntakeSource(topic, "agency", agency)
    return out


async def ensure_topics(settings: Settings, specs: list[TopicSpec], *, timeout: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(request_timeout_ms=settings.admin_request_timeout_ms,
                                **kafka_options(settings))
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await admin.start()
            break
        except KafkaError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"Kafka at {settings.bootstrap_servers} unreachable: {exc!r}") from exc
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            try:
                await admin.create_topics([
                    NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config) for s in missing
                ])
            except TopicAlreadyExistsError:
                pass  # another worker raced us
            log.info("created topics %s", [s.name for s in missing])
        return [s.name for s in missing]
    finally:
        await admin.close()


async def missing_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """Those of ``names`` the cluster does not have (or this principal may not see)."""
    admin = AIOKafkaAdminClient(request_timeout_ms=settings.admin_request_timeout_ms,
                                **kafka_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    return [name for name in names if name not in existing]
