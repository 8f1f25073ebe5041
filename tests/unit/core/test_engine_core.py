"""The lifecycle engine's pure core: enrichment, notices, journeys, fan-out and minimisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core import catalogue, journeys, notices, regions, sla
from hub.core.enrichment import citizen_check, citizen_ref, enrich
from hub.core.journeys import JOURNEYS, ChildView, JourneyState, apply_child, derive_status, identify
from hub.core.lifecycle import Status
from hub.core.models import PII_FIELDS
from hub.core.records import AuditEntry, CitizenNotice, DeliveryReceipt, SlaEvent
from hub.core.routing import LIFECYCLE, MPP_FEED, fan_out
from hub.dev.simulator import village_requests
from hub.settings import Settings

EVENTS = list(village_requests(120, seed=5))
KEY = b"test-key"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB


# ------------------------------------------------------------------ enrichment ---------------
def test_enrichment_names_village_kecamatan_service_and_deadlines():
    event = EVENTS[0].model_copy(update={"region_code": "35.10.21.2003", "service_code": "DUKCAPIL_KTP_EL",
                                         "agency": "dukcapil"})
    service = catalogue.service("DUKCAPIL_KTP_EL")
    due = datetime(2026, 3, 3, 16, 59, 59, 999000, tzinfo=UTC)
    out = enrich(event, service, due_at=due, warn_at=due - timedelta(hours=4), ref="abc")
    e = out.enrichment
    assert (e.village_name, e.kecamatan_code, e.kecamatan_name) == ("Ketapang", "35.10.21", "Kalipuro")
    assert (e.service_name, e.sla_working_days, e.fee_idr) == (service.name_id, 1, 0)
    assert e.due_at == due and e.citizen_ref == "abc"
    assert out.model_copy(update={"enrichment": None}) == event


@given(st.sampled_from(EVENTS), st.binary(min_size=1, max_size=32))
def test_citizen_ref_is_keyed_stable_and_never_the_nik(event, key):
    nik = event.citizen.nik
    ref = citizen_ref(nik, key)
    assert ref == citizen_ref(nik, key) and len(ref) == 64 and nik not in ref
    assert citizen_ref(nik, key + b"x") != ref  # another key, another pseudonym
    assert citizen_ref(None, key) is None and citizen_ref(nik, None) is None


@given(st.sampled_from(EVENTS), st.binary(min_size=1, max_size=32))
def test_citizen_check_binds_the_nik_tail_to_one_request_under_the_key(event, key):
    nik, rid = event.citizen.nik, event.request_id
    check = citizen_check(rid, nik, key)
    assert check == citizen_check(rid, "9" * 12 + nik[-4:], key)  # only the last four digits count
    assert len(check) == 32 and nik not in check
    assert citizen_check(rid + "x", nik, key) != check  # bound to the request
    assert citizen_check(rid, nik[:-1] + str((int(nik[-1]) + 1) % 10), key) != check
    assert citizen_check(rid, nik, key + b"x") != check
    assert citizen_check(rid, None, key) is None and citizen_check(rid, nik, None) is None


# ------------------------------------------------------------------ fan-out ------------------
@settings(max_examples=60)
@given(st.sampled_from(EVENTS), st.sampled_from(catalogue.services()))
def test_fan_out_gives_each_audience_only_what_it_may_see(event, service):
    event = event.model_copy(update={"service_code": service.code, "agency": service.agency})
    event = enrich(event, service, ref=citizen_ref(event.citizen.nik, KEY))
    deliveries = fan_out(event, service, agency_topic=lambda a: f"agency.{a}.v1", feed_topic="feed",
                         lifecycle_topic="life")
    by = {d.audience: d for d in deliveries}
    assert set(by) == {f"agency:{service.agency}", MPP_FEED, LIFECYCLE}
    for d in deliveries:
        held = set(d.event.citizen.model_dump(exclude_none=True)) if d.event.citizen else set()
        assert held == set(d.personal_fields) and held <= PII_FIELDS
        assert d.event.enrichment == event.enrichment  # citizen_ref is not personal data in the clear
        assert d.event.model_copy(update={"citizen": None}) == event.model_copy(update={"citizen": None})
        text = d.event.model_dump_json()
        if d.audience != f"agency:{service.agency}" or "nik" not in service.personal_data:
            assert event.citizen.nik not in text
    assert by[f"agency:{service.agency}"].personal_fields <= service.personal_data
    assert by[MPP_FEED].event.citizen is None and by[LIFECYCLE].event.citizen is None


# ------------------------------------------------------------------ notices ------------------
@given(st.sampled_from(sorted(Status)), st.sampled_from(catalogue.services()), st.booleans(),
       st.one_of(st.none(), st.text(max_size=300)))
def test_notice_texts_are_short_indonesian_and_carry_no_personal_data(status, service, first, note):
    event = EVENTS[0]
    text = notices.text_for(status, service, "SK-1", "Ketapang", first=first, note=note)
    if text is None:
        assert status not in notices.NOTIFY or (status in (Status.SUBMITTED, Status.RECEIVED) and not first)
        return
    assert 0 < len(text) <= notices.MAX_LENGTH and "SK-1" in text and "Anda" in text
    for value in event.citizen.model_dump(exclude_none=True).values():
        assert str(value) not in text


def test_ready_ktp_notice_reads_like_the_issue_example():
    text = notices.text_for(Status.READY, catalogue.service("DUKCAPIL_KTP_EL"), "SK-35102120030000001",
                            "Ketapang")
    assert text == ("Permohonan KTP-el Anda (SK-35102120030000001) sudah selesai dan dapat diambil di "
                    "Mal Pelayanan Publik Banyuwangi.")
    desk = notices.text_for(Status.READY, catalogue.service("DESA_SKTM"), "SK-1", "Ketapang")
    assert desk.endswith("dapat diambil di Kantor Desa Ketapang.")


# ------------------------------------------------------------------ journeys -----------------
def _child(rid: str, code: str, status: Status, at: datetime, eid: str = "e") -> ChildView:
    return ChildView(rid, code, status, at, at, f"{rid}/{eid}/{status}")


def test_journeys_are_identified_from_their_children_services():
    assert identify(["DUKCAPIL_AKTA_KELAHIRAN"]).code == "KELAHIRAN"
    assert identify(["DUKCAPIL_KK", "BPJS_KESEHATAN_BAYI_BARU_LAHIR"]).code == "KELAHIRAN"
    assert identify(["PLN_PASANG_BARU_GARDU_BARU"]).code == "LISTRIK_BARU"
    assert identify(["DUKCAPIL_AKTA_KELAHIRAN", "PLN_TAMBAH_DAYA"]) is None
    assert catalogue.service("DUKCAPIL_VERIFIKASI_NIK").agency == "dukcapil"


def test_end_to_end_sla_is_the_longest_chain_of_steps():
    birth = journeys.journey("KELAHIRAN")
    assert journeys.sla_working_days(birth) == 0 + 1 + 1 + 0
    power = journeys.journey("LISTRIK_BARU")
    assert journeys.sla_working_days(power) == 5
    chosen = [_child("C2", "PLN_PASANG_BARU_GARDU_BARU", Status.SUBMITTED, T0)]
    assert journeys.sla_working_days(power, chosen) == 25


def test_electricity_journey_completes_when_both_agencies_are_done():
    state = None
    steps = [("N1", "DUKCAPIL_VERIFIKASI_NIK", Status.SUBMITTED, 0, Status.SUBMITTED),
             ("N1", "DUKCAPIL_VERIFIKASI_NIK", Status.COMPLETED, 1, Status.IN_PROCESS),
             ("P1", "PLN_PASANG_BARU_TANPA_PERLUASAN", Status.SUBMITTED, 2, Status.IN_PROCESS),
             ("P1", "PLN_PASANG_BARU_TANPA_PERLUASAN", Status.RETURNED, 3, Status.RETURNED),
             ("P1", "PLN_PASANG_BARU_TANPA_PERLUASAN", Status.IN_PROCESS, 4, Status.IN_PROCESS),
             ("P1", "PLN_PASANG_BARU_TANPA_PERLUASAN", Status.COMPLETED, 5, Status.COMPLETED)]
    for rid, code, status, hours, expected in steps:
        state = apply_child(state, "J1", _child(rid, code, status, T0 + timedelta(days=hours)),
                            region_code="35.10.21.2003", phone="081234567890")
        assert state.status is expected, (rid, status)
    # Started Monday 2 March 2026; returned Thursday 5, fixed Friday 6: one working day paused.
    assert state.clock.started_at == T0 and state.clock.sla_working_days == 5
    assert state.clock.paused_working_days == 1
    assert state.due_at == sla.end_of_day(sla.add_working_days(T0.date(), 6))
    assert JourneyState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


child_updates = st.lists(st.tuples(st.sampled_from(["A", "K", "I", "B", "K2"]),
                                   st.sampled_from(sorted(Status)), st.integers(0, 200)), max_size=25)
CODES = {"A": "DUKCAPIL_AKTA_KELAHIRAN", "K": "DUKCAPIL_KK", "I": "DUKCAPIL_KIA",
         "B": "BPJS_KESEHATAN_BAYI_BARU_LAHIR", "K2": "DUKCAPIL_KK"}


@settings(max_examples=150)
@given(child_updates, st.randoms(use_true_random=False))
def test_journey_state_does_not_depend_on_delivery_order_or_repeats(updates, rnd):
    """Folding the same child updates in any order, with repeats, ends in the same derived status."""
    views = [_child(rid, CODES[rid], status, T0 + timedelta(hours=h), eid=str(i))
             for i, (rid, status, h) in enumerate(updates)]

    def fold(items):
        state = None
        for v in items:
            state = apply_child(state, "P", v, region_code="35.10.21.2003")
        return state

    a = fold(views)
    shuffled = views + views[: len(views) // 2]
    rnd.shuffle(shuffled)
    b = fold(shuffled)
    if a is None:
        assert b is None
        return
    latest = {}
    for v in views:
        if v.request_id not in latest or v.key > latest[v.request_id].key:
            latest[v.request_id] = v
    assert {r: c.status for r, c in a.children.items()} == {r: v.status for r, v in latest.items()}
    assert {r: c.status for r, c in b.children.items()} == {r: c.status for r, c in a.children.items()}
    assert a.status == b.status == derive_status(JOURNEYS[0], a.children.values())
    assert a.clock.started_at == min(v.started_at for v in views)


def test_journey_fails_when_a_step_is_rejected_and_completes_only_with_every_step():
    birth = journeys.journey("KELAHIRAN")
    done = [_child(r, CODES[r], Status.COMPLETED, T0) for r in ("A", "K", "I")]
    assert derive_status(birth, done) is Status.IN_PROCESS  # BPJS not started yet
    assert derive_status(birth, [*done, _child("B", CODES["B"], Status.COMPLETED, T0)]) is Status.COMPLETED
    assert derive_status(birth, [*done, _child("B", CODES["B"], Status.REJECTED, T0)]) is Status.REJECTED


# ------------------------------------------------------------------ records vs schemas --------
@pytest.mark.parametrize("model", [SlaEvent, AuditEntry, CitizenNotice, DeliveryReceipt])
def test_each_record_model_matches_its_schema(model):
    schema = json.loads((Settings().schemas_dir / f"{model.SCHEMA}.avsc").read_text())
    assert f"{schema['namespace']}.{schema['name']}" == model.SCHEMA
    assert [f["name"] for f in schema["fields"]] == list(model.model_fields)
    assert all(f.get("doc") for f in schema["fields"])
    pii = {f["name"] for f in schema["fields"] if f.get("pii")}
    assert pii == ({"phone"} if model is CitizenNotice else set())


def test_region_reference_is_what_enrichment_uses():
    assert regions.region("35.10.24.2008").kecamatan_name == "Licin"
