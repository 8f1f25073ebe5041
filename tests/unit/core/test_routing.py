"""Routing and minimisation: pure functions on plain data."""

from __future__ import annotations

import pytest

from hub.core import catalogue
from hub.core.admission import admit
from hub.core.errors import ValidationErrors
from hub.core.routing import minimise, personal_fields, route
from hub.dev.simulator import village_requests

EVENTS = list(village_requests(200, seed=42))


def _route(event):
    return route(event, catalogue.service(event.service_code),
                 agency_topic=lambda a: f"agency.{a}.v1", feed_topic="mpp.feed.v1")


@pytest.mark.parametrize("code, agency", [
    ("DUKCAPIL_KTP_EL", "dukcapil"), ("PLN_TAMBAH_DAYA", "pln"), ("POLRI_SKCK", "polri"),
    ("BPJS_KESEHATAN_PENDAFTARAN", "bpjs_kesehatan"), ("DESA_SKTM", "desa"), ("BPN_PERALIHAN_HAK", "bpn"),
])
def test_each_service_goes_to_its_agency_and_the_feed(code, agency):
    event = EVENTS[0].model_copy(update={"service_code": code, "agency": agency})
    agency_delivery, feed = _route(event)
    assert (agency_delivery.topic, agency_delivery.audience) == (f"agency.{agency}.v1", f"agency:{agency}")
    assert (feed.topic, feed.audience) == ("mpp.feed.v1", "mpp")


def test_the_feed_never_carries_personal_data_and_agencies_only_what_the_service_needs():
    for event in EVENTS:
        agency_delivery, feed = _route(event)
        assert feed.event.citizen is None and feed.personal_fields == frozenset()
        needed = catalogue.service(event.service_code).personal_data
        assert agency_delivery.personal_fields <= needed
        assert agency_delivery.personal_fields == personal_fields(agency_delivery.event)
        # Nothing but the citizen block changes.
        assert agency_delivery.event.model_copy(update={"citizen": None}) == \
            event.model_copy(update={"citizen": None})


def test_minimise_keeps_allowed_fields_only():
    event = EVENTS[0]
    assert minimise(event, frozenset({"nik"})).citizen.model_dump(exclude_none=True) == \
        {"nik": event.citizen.nik}
    assert minimise(event, frozenset()).citizen is None
    assert minimise(event, frozenset({"nik", "kk_number", "name", "phone"})) is event


def test_pln_does_not_receive_the_family_card_number():
    event = EVENTS[0].model_copy(update={"service_code": "PLN_PASANG_BARU_TANPA_PERLUASAN", "agency": "pln"})
    agency_delivery, _ = _route(event)
    assert "kk_number" not in agency_delivery.personal_fields and "nik" in agency_delivery.personal_fields


def test_admission_reports_every_field_at_fault():
    event = EVENTS[1].model_copy(update={
        "service_code": "DUKCAPIL_KK", "agency": "pln", "region_code": "35.10.99.9999"})
    with pytest.raises(ValidationErrors) as caught:
        admit(event)
    fields = [e.field for e in caught.value.errors]
    assert fields == ["region_code", "agency"]
    assert "DUKCAPIL_KK belongs to dukcapil, not pln" in str(caught.value)


def test_admission_accepts_simulated_traffic():
    for event in EVENTS:
        assert admit(event).service.code == event.service_code


def test_admission_accepts_a_resident_who_moved_in_but_not_an_unknown_banyuwangi_kecamatan():
    from datetime import date

    from hub.core.validation import make_nik

    event = EVENTS[2]
    surabaya = make_nik("357801", date(1990, 3, 4), False, 17)   # issued in Surabaya, lives in Banyuwangi
    moved_in = event.model_copy(update={"citizen": event.citizen.model_copy(update={"nik": surabaya})})
    assert admit(moved_in).service.code == event.service_code
    unknown = event.model_copy(update={"citizen": event.citizen.model_copy(
        update={"nik": make_nik("351099", date(1990, 3, 4), False, 17)})})
    with pytest.raises(ValidationErrors,
                       match="citizen.nik: region prefix 351099 is not a Banyuwangi kecamatan"):
        admit(unknown)
