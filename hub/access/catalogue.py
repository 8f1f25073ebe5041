"""The one catalogue of principals and what each may do on the broker and in the schema registry. Pure.

Every process of the hub runs as one principal (a SCRAM-SHA-512 user on the brokers, a client of the
registry's identity provider with the same secret). ``hub access apply`` makes the cluster match this
catalogue (``hub.access.apply``); nothing else grants anything.

======================  ====================================================================================
principal               may
======================  ====================================================================================
``hub-admin``           everything (a super user): the only one that creates, deletes or reconfigures topics,
                        registers schemas, changes compatibility, creates principals and ACLs, moves offsets
``hub-worker``          read every intake topic and its internal topics (SLA timer, journey steps, table
                        changelogs); write every output, the internal topics and the changelogs; its consumer
                        group (``app_id``)
``agency-<code>``       read ``agency.<code>.v1``; write ``intake.agency.<code>.v1``; groups
                        ``agency.<code>.*``
``desk-<node>``         write ``intake.desa.<node>.v1``; read ``mpp.feed.v1`` (its ledger: no personal data);
                        groups ``desk.<node>.*``
``mall``                read ``mpp.feed.v1``, ``hub.sla.v1``, ``hub.audit.v1`` (no payloads, no NIKs); groups
                        ``mall.*``
``dispatcher``          read every ``agency.<code>.v1``; write ``hub.audit.v1``; groups ``dispatcher.*``
``ops``                 describe topics, groups and the cluster, read offsets: lag and health, no payloads
``ops-dlq``             read ``hub.dlq.v1`` (original bytes: personal data) and replay its records to the
                        intake topic each came from
======================  ====================================================================================

Invariants:

* Nobody but ``hub-admin`` holds CREATE, DELETE, ALTER or ALTER_CONFIGS on anything, or any right on another
  principal's consumer group (so no one else can move a group's offsets).
* Topic grants are literal names computed from ``Settings`` (the same catalogue that ``hub.wire.topics``
  creates); only consumer groups are prefixed (``agency.<code>.`` and the like), so a principal picks its
  group names freely inside its own prefix.
* READ and WRITE on a topic imply DESCRIBE (Kafka's ACL semantics), so DESCRIBE is granted on its own only
  where nothing else is. Idempotent producers need no cluster right since Kafka 3.0 (KIP-679).
* In the registry every principal but the admin may only read (``sr-readonly``): look up ids and schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from hub.core import catalogue as services
from hub.settings import Settings
from hub.wire.topics import DESK_AGENCY, TABLES, intake_topics

ADMIN = "hub-admin"
WORKER = "hub-worker"
MALL = "mall"
DISPATCHER = "dispatcher"
OPS = "ops"
OPS_DLQ = "ops-dlq"
#: The brokers' own principal (the CN of their certificate on the mutual-TLS listeners).
BROKER = "broker"

Resource = Literal["topic", "group", "cluster"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal["READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS"]
RegistryRole = Literal["sr-admin", "sr-readonly"]


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    """One ALLOW ACL: ``operation`` on the resource ``name`` (literally, or every name with that prefix)."""

    resource: Resource
    name: str
    operation: Operation
    pattern: Pattern = "literal"

    def __str__(self) -> str:
        star = "*" if self.pattern == "prefixed" else ""
        return f"{self.operation} {self.resource} {self.name}{star}"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  # SCRAM user name = registry client id
    role: str
    description: str
    grants: tuple[Grant, ...] = ()
    registry_role: RegistryRole = "sr-readonly"
    quota_bytes: int | None = None  # produce and fetch bytes/s per broker; None: no quota
    super_user: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def agency_principal(code: str) -> str:
    return f"agency-{code}"


def desk_principal(node: str) -> str:
    return f"desk-{node}"


def agency_group_prefix(code: str) -> str:
    return f"agency.{code}."


def desk_group_prefix(node: str) -> str:
    return f"desk.{node}."


MALL_GROUP_PREFIX = "mall."
DISPATCHER_GROUP_PREFIX = "dispatcher."


def _topics(operation: Operation, names: Iterable[str]) -> list[Grant]:
    return [Grant("topic", name, operation) for name in names]


def worker_grants(settings: Settings) -> tuple[Grant, ...]:
    s = settings
    internal = [s.topic_timer, s.topic_journey, *(s.changelog_topic(t) for t in TABLES)]
    lifecycle = [s.topic_lifecycle] if s.topic_lifecycle else []  # optional (README)
    outputs = [s.topic_feed, *lifecycle, s.topic_notify, s.topic_audit, s.topic_sla, s.topic_dlq,
               *(s.agency_topic(a) for a in services.agencies())]
    return tuple(sorted({*_topics("READ", [*intake_topics(s), *internal]),
                         *_topics("WRITE", [*outputs, *internal]),
                         Grant("group", s.app_id, "READ")}))


def principals(settings: Settings) -> list[Principal]:
    """Every principal of this hub (agencies from the service catalogue, desk nodes from the settings)."""
    s = settings
    quota = s.client_quota_bytes
    out = [
        Principal(ADMIN, "admin", "the hub's administrator: topics, schemas, principals and ACLs",
                  registry_role="sr-admin", super_user=True),
        Principal(WORKER, "worker", "the hub's Faust workers", worker_grants(s)),
        Principal(MALL, "mall", "the service mall's status service", tuple(sorted({
            *_topics("READ", [s.topic_feed, s.topic_sla, s.topic_audit]),
            Grant("group", MALL_GROUP_PREFIX, "READ", "prefixed")})), quota_bytes=quota),
        Principal(DISPATCHER, "dispatcher", "push delivery of agency topics to agency HTTPS endpoints",
                  tuple(sorted({*_topics("READ", [s.agency_topic(a) for a in services.agencies()]),
                                *_topics("WRITE", [s.topic_audit]),
                                Grant("group", DISPATCHER_GROUP_PREFIX, "READ", "prefixed")})),
                  quota_bytes=quota),
        Principal(OPS, "ops", "operators' tools: describe and offsets, no payloads", (
            Grant("topic", "*", "DESCRIBE"), Grant("group", "*", "DESCRIBE"),  # "*": Kafka's wildcard
            Grant("cluster", "kafka-cluster", "DESCRIBE"))),
        Principal(OPS_DLQ, "ops-dlq", "reads the dead letters (original bytes) and replays them",
                  tuple(sorted({*_topics("READ", [s.topic_dlq]), *_topics("WRITE", intake_topics(s))}))),
    ]
    for code in services.agencies():
        if code == DESK_AGENCY:
            continue
        grants = {*_topics("READ", [s.agency_topic(code)]), *_topics("WRITE", [s.agency_intake_topic(code)]),
                  Grant("group", agency_group_prefix(code), "READ", "prefixed")}
        out.append(Principal(agency_principal(code), "agency", f"agency {code}: its topic and its intake",
                             tuple(sorted(grants)), quota_bytes=quota))
    for node, prefixes in s.desk_node_prefixes.items():
        out.append(Principal(desk_principal(node), "desk", f"village-desk node {node} ({'|'.join(prefixes)})",
                             tuple(sorted({*_topics("WRITE", [s.desk_intake_topic(node)]),
                                           *_topics("READ", [s.topic_feed]),
                                           Grant("group", desk_group_prefix(node), "READ", "prefixed")})),
                             quota_bytes=quota))
    return out


def by_name(settings: Settings) -> dict[str, Principal]:
    return {p.name: p for p in principals(settings)}


def find(settings: Settings, name: str) -> Principal:
    """The principal ``name`` (or ``agency:<code>``, ``desk:<node>``); LookupError naming the known ones."""
    kind, sep, rest = name.partition(":")
    if sep and kind in ("agency", "desk"):
        name = agency_principal(rest) if kind == "agency" else desk_principal(rest)
    known = by_name(settings)
    if name not in known:
        raise LookupError(f"no principal {name!r} in the catalogue; known: {', '.join(sorted(known))}")
    return known[name]


def super_users() -> tuple[str, ...]:
    """The brokers' ``super.users``: the brokers themselves and the hub admin, nobody else."""
    return (BROKER, ADMIN)
