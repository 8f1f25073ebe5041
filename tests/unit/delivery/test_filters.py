"""Filters: an endpoint is offered exactly the events its filters select (property test against an oracle
written independently), and filters that could never match are refused naming the field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core import catalogue, regions
from hub.core.errors import ValidationError
from hub.core.lifecycle import Status
from hub.delivery.filters import ANY, Filters, Subject, check, matches
from hub.wire.cloudevents import TYPE_PREFIX

TYPES = [f"{TYPE_PREFIX}request.lifecycle", f"{TYPE_PREFIX}request.other", "org.example.thing"]
SERVICES = [s.code for s in catalogue.services_of("dukcapil")]
STATUSES = [s.value for s in Status]
VILLAGES = [v.code for v in regions.villages()]
KECAMATAN = [k.code for k in regions.kecamatan()]


def oracle(f: Filters, s: Subject) -> bool:
    """The same rules, spelled out one by one."""
    def selected(values: tuple[str, ...], test) -> bool:  # type: ignore[no-untyped-def]
        return values == (ANY,) or any(test(v) for v in values)

    def type_ok(v: str) -> bool:
        names = {s.event_type, s.event_type.removeprefix(TYPE_PREFIX)}
        return any(n.startswith(v[:-1]) for n in names) if v.endswith("*") else v in names

    def code_ok(v: str) -> bool:
        return s.service_code.startswith(v[:-1]) if v.endswith("*") else s.service_code == v

    def region_ok(v: str) -> bool:
        parts = s.region_code.split(".")
        return v in {".".join(parts[:n]) for n in range(1, len(parts) + 1)}

    return (selected(f.event_types, type_ok) and selected(f.service_codes, code_ok)
            and selected(f.statuses, lambda v: v == s.status) and selected(f.regions, region_ok))


def values(pool: list[str], extra: list[str] = ()) -> st.SearchStrategy[tuple[str, ...]]:  # type: ignore[assignment]
    return st.one_of(st.just((ANY,)), st.lists(st.sampled_from(pool + list(extra)), min_size=1, max_size=4)
                     .map(lambda v: tuple(sorted(set(v)))))


filters = st.builds(
    Filters, event_types=values(TYPES, ["request.*", "request.lifecycle", f"{TYPE_PREFIX}*", "org.*"]),
    service_codes=values(SERVICES, ["DUKCAPIL_*", "DUKCAPIL_AKTA_*"]), statuses=values(STATUSES),
    regions=values(VILLAGES[:30] + KECAMATAN, ["35.10"]))
subjects = st.builds(Subject, event_type=st.sampled_from(TYPES), service_code=st.sampled_from(SERVICES),
                     status=st.sampled_from(STATUSES), region_code=st.sampled_from(VILLAGES[:40]))


@given(filters, subjects)
def test_an_endpoint_is_offered_exactly_what_its_filters_select(f, s):
    assert matches(f, s) == oracle(f, s)


@given(subjects)
def test_the_default_filters_select_everything(s):
    assert matches(Filters(), s)


@given(filters, st.lists(subjects, min_size=1, max_size=30))
def test_narrowing_a_dimension_never_selects_more(f, batch):
    narrower = Filters(f.event_types, f.service_codes, f.statuses, (VILLAGES[0],))
    for s in batch:
        assert not matches(narrower, s) or matches(Filters(f.event_types, f.service_codes, f.statuses), s)


def test_a_kecamatan_selects_its_villages_and_no_other():
    kec = KECAMATAN[3]
    f = Filters(regions=(kec,))
    inside = [v.code for v in regions.villages_in(kec)]
    outside = [v for v in VILLAGES if v not in inside]
    base = dict(event_type=TYPES[0], service_code=SERVICES[0], status="SUBMITTED")
    assert all(matches(f, Subject(region_code=v, **base)) for v in inside)
    assert not any(matches(f, Subject(region_code=v, **base)) for v in outside)


def test_from_dict_normalises():
    f = Filters.from_dict({"statuses": ["completed", "submitted", "completed"], "regions": ["*", "35.10.21"]})
    assert f.statuses == ("COMPLETED", "SUBMITTED") and f.regions == (ANY,) and f.event_types == (ANY,)
    assert Filters.from_dict(f.to_dict()) == f


@pytest.mark.parametrize("f, field", [
    (Filters(service_codes=("PLN_PASANG_BARU_TANPA_PERLUASAN",)), "filters.service_codes"),
    (Filters(service_codes=("NOPE_*",)), "filters.service_codes"),
    (Filters(statuses=("DONE",)), "filters.statuses"),
    (Filters(regions=("35.10.99",)), "filters.regions"),
    (Filters(regions=("35",)), "filters.regions"),
])
def test_filters_that_could_never_match_are_refused_naming_the_field(f, field):
    with pytest.raises(ValidationError) as refused:
        check(f, "dukcapil")
    assert refused.value.field == field


def test_good_filters_pass_the_check():
    f = Filters(service_codes=("DUKCAPIL_*", SERVICES[0]), statuses=("COMPLETED",),
                regions=("35.10", KECAMATAN[0]))
    assert check(f, "dukcapil") is f
