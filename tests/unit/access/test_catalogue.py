"""The access catalogue (pure): each principal may do exactly what the catalogue's table says."""

from __future__ import annotations

import pytest

from hub.access import catalogue
from hub.access.catalogue import ADMIN, DISPATCHER, MALL, OPS, OPS_DLQ, WORKER, Grant
from hub.core import catalogue as services
from hub.settings import Settings
from hub.wire.topics import TABLES, intake_topics, topic_specs

S = Settings(desk_nodes="glagah:35.10.21|35.10.22,licin:35.10.24")
BY = catalogue.by_name(S)


def topics(name: str, operation: str) -> set[str]:
    return {g.name for g in BY[name].grants if g.resource == "topic" and g.operation == operation}


def test_every_agency_and_desk_node_is_a_principal_and_only_the_admin_is_a_super_user():
    agencies = [a for a in services.agencies() if a != "desa"]
    assert {f"agency-{a}" for a in agencies} | {"desk-glagah", "desk-licin"} | {
        ADMIN, WORKER, MALL, DISPATCHER, OPS, OPS_DLQ} == set(BY)
    assert [p.name for p in BY.values() if p.super_user] == [ADMIN]
    assert catalogue.super_users() == ("broker", ADMIN)
    assert {p.registry_role for p in BY.values() if p.name != ADMIN} == {"sr-readonly"}


def test_an_agency_reads_only_its_topic_and_writes_only_its_intake_under_its_own_groups():
    pln = BY["agency-pln"]
    assert topics("agency-pln", "READ") == {S.agency_topic("pln")}
    assert topics("agency-pln", "WRITE") == {S.agency_intake_topic("pln")}
    assert {(g.name, g.pattern) for g in pln.grants if g.resource == "group"} == {("agency.pln.", "prefixed")}
    assert pln.quota_bytes == S.client_quota_bytes
    assert catalogue.find(S, "agency:pln") == pln


def test_a_desk_node_writes_its_own_intake_and_reads_only_the_feed():
    assert topics("desk-licin", "WRITE") == {S.desk_intake_topic("licin")}
    assert topics("desk-licin", "READ") == {S.topic_feed}


def test_the_mall_reads_no_topic_with_personal_data():
    assert topics(MALL, "READ") == {S.topic_feed, S.topic_sla, S.topic_audit}
    assert not topics(MALL, "WRITE")


def test_the_worker_reads_intake_and_internals_and_writes_outputs_but_no_intake():
    internal = {S.topic_timer, S.topic_journey, *(S.changelog_topic(t) for t in TABLES)}
    assert topics(WORKER, "READ") == set(intake_topics(S)) | internal
    assert not topics(WORKER, "WRITE") & set(intake_topics(S))  # it cannot pose as a source
    every = {spec.name for spec in topic_specs(S)}
    assert topics(WORKER, "WRITE") | set(intake_topics(S)) == every


def test_ops_sees_offsets_but_no_payload_and_only_ops_dlq_reads_dead_letters():
    assert {g.operation for g in BY[OPS].grants} == {"DESCRIBE"}
    readers = {p.name for p in BY.values() if S.topic_dlq in topics(p.name, "READ")}
    assert readers == {OPS_DLQ}


@pytest.mark.parametrize("name", sorted(BY))
def test_nobody_but_the_admin_may_create_delete_or_reconfigure(name):
    assert {g.operation for g in BY[name].grants} <= {"READ", "WRITE", "DESCRIBE"}
    for grant in BY[name].grants:  # no prefix grants on topics: literal names from the settings
        assert grant.resource != "topic" or grant.pattern == "literal"


def test_an_unknown_principal_is_named_with_the_known_ones():
    with pytest.raises(LookupError, match="agency-pln"):
        catalogue.find(S, "agency:nowhere")


def test_grants_print_as_operators_read_them():
    assert str(Grant("group", "agency.pln.", "READ", "prefixed")) == "READ group agency.pln.*"
