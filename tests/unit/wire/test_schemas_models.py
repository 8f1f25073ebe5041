"""The contract: every .avsc in schemas/ has a pydantic model and they agree (hypothesis round trips through
fastavro), every field is documented, native events validate, translate and carry CloudEvents types."""

from __future__ import annotations

import enum
import io
import json
import types
import typing
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic
import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core import catalogue, lifecycle, native, regions
from hub.core.admission import admit
from hub.core.models import PII_FIELDS
from hub.core.validation import make_kk, make_nik
from hub.settings import REPO_ROOT
from hub.wire import cloudevents as ce
from hub.wire.schemas import catalogue as schema_catalogue
from hub.wire.schemas import cloud_event, from_record, model_classes, to_record

SCHEMAS = REPO_ROOT / "schemas"
NAMESPACE = "id.go.banyuwangikab.hub"
CATALOGUE = {entry.fullname: entry for entry in schema_catalogue(SCHEMAS)}
PAIRS = sorted(name for name, entry in CATALOGUE.items() if entry.model is not None)
NATIVE = sorted(native.NATIVE_EVENTS)

# ---------------------------------------------------------------------------------------------------------
# Strategies: generic from the model's type hints, sharpened by the fields' Kind markers and, where fields
# depend on each other, a per-model fix-up. A model whose generated data fails validation fails the test:
# add a Kind or a fix-up here rather than filtering.
# ---------------------------------------------------------------------------------------------------------
PREFIXES = sorted(regions.nik_prefixes())
VILLAGES = [v.code for v in regions.villages()]
SERVICES = [s.code for s in catalogue.services()]
PAST = dict(min_value=datetime(2020, 1, 1), max_value=datetime(2025, 12, 31))


@st.composite
def nik(draw: st.DrawFn, sex: str | None = None) -> str:
    female = draw(st.booleans()) if sex is None else sex == "F"
    born = draw(st.dates(date(1940, 1, 1), date(2008, 12, 31)))
    return make_nik(draw(st.sampled_from(PREFIXES)), born, female, draw(st.integers(1, 9999)))


# Free text as people type it: letters, digits, punctuation, symbols and spaces of any script (no control,
# format or private-use characters: admission refuses those).
TEXT = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


KINDS: dict[str, st.SearchStrategy[Any]] = {
    "nik": nik(),
    "nik_female": nik("F"),
    "nik_male": nik("M"),
    "kk_number": st.builds(make_kk, st.sampled_from(PREFIXES), st.dates(date(2000, 1, 1), date(2024, 12, 31)),
                           st.integers(1, 9999)),
    "bpjs_number": digits(13),
    "idpel": digits(12),
    "village_code": st.sampled_from(VILLAGES),
    "any_village_code": st.one_of(st.sampled_from(VILLAGES),
                                  st.from_regex(r"3[0-4]\.[0-9]{2}\.[0-9]{2}\.[12][0-9]{3}", fullmatch=True)),
    "service_code": st.sampled_from(SERVICES),
    "faskes_code": st.from_regex(r"[0-9A-Z]{8}", fullmatch=True),
    # Mobile numbers of the operators' 08XX prefixes (084X is not allocated), as desks type them.
    "phone": st.builds("{}8{}{:08d}".format, st.sampled_from(["0", "+62", "62"]),
                       st.sampled_from([*range(11, 40), *range(50, 100)]), st.integers(0, 10**8 - 1)),
    "person_name": st.text(TEXT, min_size=1, max_size=60).map(str.strip).filter(bool),
    "address": st.text(TEXT, min_size=1, max_size=80).map(str.strip).filter(bool),
    "note": st.text(TEXT, min_size=1, max_size=80).map(str.strip).filter(bool),
    "id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/@+=~-]{0,40}", fullmatch=True),
    "daya_va": st.sampled_from(native.PLN_POWER_VA),
}


def _kind(metadata: typing.Iterable[Any]) -> str | None:
    for m in metadata:
        if isinstance(m, native.Kind):
            return m.name
    return None


def _bounds(metadata: typing.Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metadata:
        for attr in ("min_length", "max_length", "ge", "le", "gt", "lt"):
            if getattr(m, attr, None) is not None:
                out[attr] = getattr(m, attr)
    return out


def for_type(tp: Any, metadata: list[Any], model: type) -> st.SearchStrategy[Any]:
    kind = _kind(metadata)
    if kind == "native_status":
        return st.sampled_from(sorted(lifecycle.NATIVE_STATUS[model.STATUS_VOCABULARY]))
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *extra = get_args(tp)
        return for_type(inner, [*metadata, *extra], model)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        strategy = st.one_of(*(for_type(a, metadata, model) for a in options))
        return st.none() | strategy if len(options) < len(get_args(tp)) else strategy
    if kind:
        return KINDS[kind]
    bounds = _bounds(metadata)
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if origin in (list, tuple, frozenset, set):
        return st.lists(for_type(get_args(tp)[0], [], model), max_size=4)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return records(tp)
    if tp is bool:
        return st.booleans()
    if tp is int:
        low = bounds.get("ge", bounds.get("gt", -2**31 - 1) + 1)
        high = bounds.get("le", bounds.get("lt", 2**31) - 1)
        return st.integers(low, high)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(min_size=bounds.get("min_length", 0), max_size=min(bounds.get("max_length", 40), 40))
    if tp is bytes:
        return st.binary(max_size=40)
    if tp is datetime:
        return st.datetimes(**PAST, timezones=st.just(UTC)).map(
            lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
    if tp is date:
        return st.dates(date(2009, 1, 1), date(2019, 12, 31))
    raise NotImplementedError(f"{model.__name__}: no strategy for {tp!r}; add a Kind or extend for_type")


# Fix-ups for fields that depend on each other: (draw, values) -> values.
def _kia(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
    day = v["occurred_at"].date()
    born = draw(st.dates(day - timedelta(days=16 * 365), day))
    child = make_nik(draw(st.sampled_from(PREFIXES)), born, draw(st.booleans()), draw(st.integers(1, 9999)))
    return {**v, "child_birth_date": born, "child_nik": child}


def _moving(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
    home = draw(st.sampled_from(VILLAGES))
    other = draw(KINDS["any_village_code"].filter(lambda c: c != home))
    out = v["direction"] == native.MovingDirection.KELUAR
    return {**v, "origin_region_code": home if out else other,
            "destination_region_code": other if out else home}


def _pln(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
    if v["request_type"] == native.PlnRequestType.PASANG_BARU:
        return {**v, "daya_va_current": None}
    current, requested = sorted(draw(st.lists(st.sampled_from(native.PLN_POWER_VA), min_size=2, max_size=2,
                                              unique=True)))
    return {**v, "daya_va_current": current, "daya_va_requested": requested, "idpel": draw(digits(12))}


def _cover_letter(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
    desa = [s.code for s in catalogue.services_of("desa")]
    other = [s for s in SERVICES if s not in desa]
    return {**v, "service_code": draw(st.sampled_from(desa)),
            "purpose_service_code": draw(st.none() | st.sampled_from(other))}


def _family(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
    if v["kk_number"] is None and v["reason"] not in (native.FamilyCardReason.BARU,
                                                      native.FamilyCardReason.PISAH_KK):
        return {**v, "kk_number": draw(KINDS["kk_number"])}
    return v


def _bpjs(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
    from hub.core.validation import validate_nik
    return {**v, "birth_date": validate_nik(v["nik"], banyuwangi_only=False).birth_date}


def _distinct(first: str, second: str, kind: str):  # type: ignore[no-untyped-def]
    def fix(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
        return {**v, second: draw(KINDS[kind].filter(lambda x: x != v[first]))}
    return fix


def _kia_distinct(draw: st.DrawFn, v: dict[str, Any]) -> dict[str, Any]:
    return _distinct("child_nik", "parent_nik", "nik")(draw, _kia(draw, v))


FIXUPS = {
    native.BpjsFaskesChange: _distinct("faskes_from", "faskes_to", "faskes_code"),
    native.DeathRegistration: _distinct("deceased_nik", "reporter_nik", "nik"),
    native.ChildIdCardApplication: _kia_distinct, native.MovingRegistration: _moving,
    native.PlnConnectionRequest: _pln,
    native.CoverLetter: _cover_letter, native.FamilyCardApplication: _family, native.BpjsRegistration: _bpjs,
}


@st.composite
def _model(draw: st.DrawFn, model: type[pydantic.BaseModel]) -> pydantic.BaseModel:
    hints = typing.get_type_hints(model, include_extras=True)
    values = {}
    for name, info in model.model_fields.items():
        metadata = list(info.metadata)
        if isinstance(info.json_schema_extra, dict) and "kind" in info.json_schema_extra:
            metadata.append(native.Kind(str(info.json_schema_extra["kind"])))
        values[name] = draw(for_type(hints[name], metadata, model))
    fix = FIXUPS.get(model)
    return model.model_validate(fix(draw, values) if fix else values)


def records(model: type[pydantic.BaseModel]) -> st.SearchStrategy[pydantic.BaseModel]:
    return st.deferred(lambda: _model(model))


# ---------------------------------------------------------------------------------------------------------
# Catalogue completeness and documentation
# ---------------------------------------------------------------------------------------------------------
def test_every_schema_has_a_model_and_every_model_a_schema():
    assert [n for n, e in CATALOGUE.items() if e.model is None] == [], "schemas without a model"
    assert sorted(set(model_classes()) - set(CATALOGUE)) == [], "models without a schema file"
    # The catalogue really covers what it should (the scan finds the known records).
    assert {f"{NAMESPACE}.RequestLifecycleEvent", f"{NAMESPACE}.DeadLetter", f"{NAMESPACE}.Region",
            f"{NAMESPACE}.ServiceCatalogueEntry", *NATIVE} <= set(CATALOGUE)


def _walk_records(schema: Any, path: str):  # type: ignore[no-untyped-def]
    if isinstance(schema, list):
        for branch in schema:
            yield from _walk_records(branch, path)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            yield path, schema
            for f in schema["fields"]:
                yield from _walk_records(f["type"], f"{path}.{f['name']}")
        elif schema.get("type") == "array":
            yield from _walk_records(schema["items"], path)
        elif schema.get("type") == "map":
            yield from _walk_records(schema["values"], path)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_record_and_field_is_documented_in_one_namespace(name):
    schema = CATALOGUE[name].schema
    parse_schema(schema)
    assert schema["namespace"] == NAMESPACE
    undocumented = [f"{path}.{f['name']}" for path, record in _walk_records(schema, schema["name"])
                    for f in record["fields"] if not str(f.get("doc", "")).strip()]
    assert undocumented == []
    assert all(str(record.get("doc", "")).strip() for _, record in _walk_records(schema, schema["name"])) or \
        name == f"{NAMESPACE}.RequestLifecycleEvent"  # nested Citizen/Enrichment are documented on the field
    pii = [f.get("pii") for _, record in _walk_records(schema, "") for f in record["fields"] if "pii" in f]
    assert set(pii) <= {True, "specific"}


@pytest.mark.parametrize("name", PAIRS)
def test_model_fields_are_the_schema_fields(name):
    entry = CATALOGUE[name]
    assert [f["name"] for f in entry.schema["fields"]] and \
        {f["name"] for f in entry.schema["fields"]} == set(entry.model.model_fields)


@pytest.mark.parametrize("name", PAIRS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_model_and_schema_agree_round_trip_through_fastavro(name, data):
    entry = CATALOGUE[name]
    parsed = parse_schema(entry.schema)
    model = data.draw(records(entry.model))
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, to_record(model))
    buffer.seek(0)
    back = from_record(entry.model, schemaless_reader(buffer, parsed, None))
    assert back == model


def test_a_model_schema_disagreement_is_caught():
    """The round trip can fail: a schema whose field type differs from the model's refuses the record."""
    entry = CATALOGUE[f"{NAMESPACE}.PudamConnectionRequest"]
    broken = json.loads(json.dumps(entry.schema))
    next(f for f in broken["fields"] if f["name"] == "pipe_diameter_mm")["type"] = "string"
    event = PUDAM
    with pytest.raises((TypeError, ValueError, AttributeError)):
        schemaless_writer(io.BytesIO(), parse_schema(broken), to_record(event))


# ---------------------------------------------------------------------------------------------------------
# Personal data markers and CloudEvents types
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NATIVE)
def test_personal_data_markers_agree_between_model_and_schema(name):
    schema = CATALOGUE[name].schema
    in_schema = {f["name"]: f["pii"] for f in schema["fields"] if "pii" in f}
    assert in_schema == native.personal_fields(native.NATIVE_EVENTS[name])


def test_children_and_health_data_are_specific():
    specific = {n: {f for f, level in native.personal_fields(m).items() if level == "specific"}
                for n, m in native.NATIVE_EVENTS.items()}
    assert specific[f"{NAMESPACE}.ChildIdCardApplication"] == {"child_nik", "child_name", "child_birth_date"}
    assert {"child_name", "birth_date", "child_sex"} <= specific[f"{NAMESPACE}.BirthRegistration"]
    assert specific[f"{NAMESPACE}.DeathRegistration"] == {"cause"}
    assert specific[f"{NAMESPACE}.BpjsFaskesChange"] == {"faskes_from", "faskes_to"}


def test_every_model_has_its_own_cloudevents_type():
    types_ = {name: getattr(model, "CE_TYPE", None) for name, model in model_classes().items()}
    assert all(t and t.startswith(ce.TYPE_PREFIX) for t in types_.values()), types_
    assert len(set(types_.values())) == len(types_)
    assert native.BirthRegistration.CE_TYPE == "id.go.banyuwangikab.hub.dukcapil.birth_registration"


# ---------------------------------------------------------------------------------------------------------
# Native events: translation, refusal naming the field, CloudEvents headers
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NATIVE)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_native_events_translate_into_admissible_canonical_events(name, data):
    event = data.draw(records(native.NATIVE_EVENTS[name]))
    canonical = native.to_lifecycle(event)
    service = admit(canonical, now=canonical.occurred_at).service  # raises naming the field if not admissible
    assert canonical.agency == service.agency and canonical.event_id == event.event_id
    assert canonical.status == lifecycle.to_canonical(event.STATUS_VOCABULARY, event.native_status)
    assert canonical.native_status == event.native_status and canonical.source_system == event.SOURCE_SYSTEM
    held = canonical.citizen.model_dump(exclude_none=True) if canonical.citizen else {}
    assert set(held) <= PII_FIELDS
    # Specific personal data (children, health) never reaches the canonical event: every value it holds
    # comes from a field of the native event that is not marked specific.
    specific = {f for f, level in native.personal_fields(type(event)).items() if level == "specific"}
    allowed = {v for f, v in event.model_dump().items() if f not in specific}
    assert all(v in allowed for v in held.values()), (held, specific)


T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MOTHER = make_nik("351021", date(1995, 3, 4), True, 12)
FATHER = make_nik("351021", date(1993, 7, 1), False, 7)
KK = make_kk("351021", date(2020, 1, 6), 3)
BIRTH = native.BirthRegistration(
    event_id="e-1", request_id="AKL-2026-0001", native_status="diajukan", occurred_at=T0,
    region_code="35.10.21.2003", child_name="Ayu Lestari", child_sex="F", birth_date=date(2026, 2, 27),
    birth_place="RSUD Blambangan", mother_nik=MOTHER, father_nik=FATHER, kk_number=KK,
    reporter_nik=FATHER, reporter_name="Budi Santoso")
PLN = native.PlnConnectionRequest(
    event_id="p-1", request_id="AGD-1", native_status="registrasi", occurred_at=T0,
    region_code="35.10.24.2008",
    request_type="TAMBAH_DAYA", idpel="512345678901", tarif="R1", daya_va_current=900, daya_va_requested=1300,
    nik=FATHER, name="Budi Santoso", address="Dusun Krajan RT 01 RW 02")
PUDAM = native.PudamConnectionRequest(
    event_id="w-1", request_id="SB-1", native_status="survei", occurred_at=T0, region_code="35.10.24.2004",
    customer_group="RUMAH_TANGGA_1", pipe_diameter_mm=13, nik=MOTHER, name="Siti Rahmawati", address="Banjar")


@pytest.mark.parametrize("base, change, field, reason", [
    (BIRTH, {"mother_nik": FATHER}, "mother_nik", "must be a woman's"),
    (BIRTH, {"father_nik": "35102101019"}, "father_nik", "must be 16 digits"),
    (BIRTH, {"kk_number": "3510210132200003"}, "kk_number", "not a real date"),
    (BIRTH, {"region_code": "35.10.21"}, "region_code", "is a kecamatan"),
    (BIRTH, {"native_status": "nyala"}, "native_status", "is not a status of dukcapil"),
    (BIRTH, {"birth_date": date(2026, 3, 3)}, "birth_date", "is after occurred_at"),
    (PLN, {"idpel": "51234567890"}, "idpel", "must be 12 digits"),
    (PLN, {"daya_va_requested": 1000}, "daya_va_requested", "not a standard PLN power level"),
    (PLN, {"daya_va_requested": 450}, "daya_va_requested", "is not more than the current"),
    (PLN, {"idpel": None}, "idpel", "is required for TAMBAH_DAYA"),
    (PUDAM, {"nik": "3510990403950012"}, "nik", "is not a Banyuwangi kecamatan"),
    (PUDAM, {"phone": "12345"}, "phone", "Indonesian mobile number"),
])
def test_a_bad_native_event_is_refused_naming_the_field_and_reason(base, change, field, reason):
    with pytest.raises(pydantic.ValidationError) as refused:
        type(base).model_validate({**base.model_dump(), **change})
    messages = [e["msg"] for e in refused.value.errors()]
    assert any(f"{field}: " in m and reason in m for m in messages), messages
    for value in change.values():  # refusals never echo the (possibly personal) value
        if isinstance(value, str) and len(value) >= 12:
            assert value not in str(refused.value)


def test_native_status_maps_through_the_agency_vocabulary():
    assert native.to_lifecycle(PLN).status == lifecycle.Status.RECEIVED  # PLN 'registrasi'
    assert native.to_lifecycle(PLN).service_code == "PLN_TAMBAH_DAYA"
    assert native.to_lifecycle(PLN).citizen.idpel == "512345678901"
    assert native.to_lifecycle(PUDAM).status == lifecycle.Status.IN_PROCESS  # PUDAM 'survei'
    birth = native.to_lifecycle(BIRTH)
    assert (birth.service_code, birth.agency, birth.citizen.nik) == \
        ("DUKCAPIL_AKTA_KELAHIRAN", "dukcapil", FATHER)


def test_native_events_travel_with_cloudevents_headers():
    meta = ce.from_headers(ce.to_headers(cloud_event(BIRTH, "/siak-dukcapil")))
    assert (meta.type, meta.id, meta.subject, meta.source) == (
        "id.go.banyuwangikab.hub.dukcapil.birth_registration", "e-1", "AKL-2026-0001", "/siak-dukcapil")
    assert meta.time == T0
