"""The producer's identity is its topic: an event claiming more than its topic's source may is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.errors import ValidationError
from hub.dev.simulator import village_requests
from hub.errors import Impersonation
from hub.settings import Settings
from hub.streams.identity import check_attributes, check_identity
from hub.wire import cloudevents as ce
from hub.wire.topics import intake_sources

S = Settings(desk_nodes="glagah:35.10.21,licin:35.10.24")
SOURCES = intake_sources(S)
EVENT = next(e for e in village_requests(50, seed=4) if e.region_code.startswith("35.10.21"))


def meta(event, source=None, *, ce_id=None, ce_type=None):
    return ce.CloudEvent(ce_id or event.event_id, source or f"/smart-kampung/{event.region_code}",
                         ce_type or event.CE_TYPE, event.request_id, datetime.now(UTC))


def test_a_desk_event_from_its_own_node_passes():
    check_identity(SOURCES[S.desk_intake_topic("glagah")], meta(EVENT), EVENT)
    check_attributes(meta(EVENT), EVENT)


def test_a_desk_node_cannot_speak_for_a_village_it_does_not_serve():
    with pytest.raises(Impersonation, match="region_code") as caught:
        check_identity(SOURCES[S.desk_intake_topic("licin")], meta(EVENT), EVENT)
    assert caught.value.reason_code == "impersonation"


def test_a_desk_node_cannot_claim_an_agencys_system_or_another_source():
    topic = SOURCES[S.desk_intake_topic("glagah")]
    with pytest.raises(Impersonation, match="source_system"):
        check_identity(topic, meta(EVENT), EVENT.model_copy(update={"source_system": "siak-dukcapil"}))
    with pytest.raises(Impersonation, match="ce_source"):
        check_identity(topic, meta(EVENT, "/smart-kampung/35.10.24.2008"), EVENT)


def test_an_agency_topic_carries_only_that_agencys_events():
    pln = SOURCES[S.agency_intake_topic("pln")]
    answer = EVENT.model_copy(update={"agency": "pln", "source_system": "ap2t"})
    check_identity(pln, meta(answer, "/agency/pln/ap2t"), answer)
    with pytest.raises(Impersonation, match="agency"):  # a rejection in the civil registry's name
        check_identity(pln, meta(answer, "/agency/pln/ap2t"),
                       answer.model_copy(update={"agency": "dukcapil"}))
    with pytest.raises(Impersonation, match="ce_source"):
        check_identity(pln, meta(answer, "/agency/dukcapil/siak"), answer)


def test_cloudevents_attributes_must_agree_with_the_record():
    with pytest.raises(ValidationError, match="ce_id"):
        check_attributes(meta(EVENT, ce_id="another-id"), EVENT)
    with pytest.raises(ValidationError, match="ce_type"):
        check_attributes(meta(EVENT, ce_type="com.example.other"), EVENT)


def test_messages_never_echo_a_huge_claim_whole():
    huge = "x" * 100_000
    with pytest.raises(Impersonation) as caught:
        check_identity(SOURCES[S.agency_intake_topic("pln")], meta(EVENT, "/agency/pln/a"),
                       EVENT.model_copy(update={"agency": huge}))
    assert len(str(caught.value)) < 600


def test_headers_without_a_value_are_absent_not_the_text_none():
    headers = [*ce.to_headers(meta(EVENT)), ("ce_id", None)]
    headers = [(k, v) for k, v in headers if k != "ce_id"] + [("ce_id", None)]
    with pytest.raises(ce.MissingHeader, match="ce_id"):
        ce.from_headers(headers)
    too_long = [(k, b"x" * 500 if k == "ce_source" else v) for k, v in ce.to_headers(meta(EVENT))]
    with pytest.raises(ce.BadHeader, match="ce_source"):
        ce.from_headers(too_long)
    bad_time = [(k, b"yesterday" if k == "ce_time" else v) for k, v in ce.to_headers(meta(EVENT))]
    with pytest.raises(ce.BadHeader, match="ce_time"):
        ce.from_headers(bad_time)
