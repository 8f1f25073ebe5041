"""Fuzzing of the admission rules (issue 11 items 2 and 8): for any event the model accepts, ``admit`` either
returns it in normal form or raises a :class:`hub.errors.RecordError` naming fields (never another
exception), a refusal never repeats a personal value nor more than ``MAX_ECHO`` characters of any value,
and the normal form is a fixed point (admitting an admitted event changes nothing).

Events are simulator events with some fields replaced by drawn values: arbitrary text (control,
bidirectional and private-use characters, surrogates, very long), values of the right shape that are
almost right (NIK-like digits, phone-like strings, catalogue codes of other agencies), and times and
dates anywhere from year 1 to 9999.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pydantic
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hub.core import catalogue
from hub.core.admission import admit
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.models import PII_FIELDS, RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.errors import MAX_ECHO, RecordError

EVENTS = list(village_requests(30, seed=21))
NOW = datetime.now(UTC)
FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), database=None)

TRICKY = st.sampled_from(["", " ", "\x00", "\u202e", "\u200b", "\ufeff", "\ue000", "\u2028", "\ud800", "\n",
                          "\t", "é", "e\u0301", "𝔸", "😀", "<script>", "Robert'); DROP TABLE--"])
TEXT = st.one_of(st.text(max_size=30), st.lists(TRICKY | st.text(max_size=3), max_size=8).map("".join),
                 st.integers(90, 600).map(lambda n: "a" * n))
DIGITS = st.text(alphabet="0123456789", min_size=10, max_size=20)
PHONES = st.one_of(DIGITS, TEXT, st.sampled_from([
    "0812-3456-7890", "+62 812 3456 7890", "(0333) 424000", "+14155550100", "0812", "08" + "1" * 40,
    "628123456789012"]))
CODES = st.sampled_from([s.code for s in catalogue.services()]) | TEXT
AGENCIES = st.sampled_from(list(catalogue.agencies())) | TEXT
TIMES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.sampled_from([NOW, NOW + timedelta(minutes=4), NOW + timedelta(minutes=6),
                     datetime(2000, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, tzinfo=UTC)]),
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2100, 1, 1),
                 timezones=st.sampled_from([timezone(timedelta(hours=h)) for h in (-12, 0, 7, 14)])))
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event_id": TEXT, "request_id": TEXT, "parent_request_id": st.none() | TEXT,
    "native_status": st.none() | TEXT, "note": st.none() | TEXT,
    "source_system": TEXT | st.just("smart-kampung"), "service_code": CODES,
    "region_code": TEXT | st.sampled_from([e.region_code for e in EVENTS] + ["35.10", "35.10.99.9999"]),
    "agency": AGENCIES, "occurred_at": TIMES,
}
CITIZEN: dict[str, st.SearchStrategy[Any]] = {
    "nik": st.none() | DIGITS | TEXT, "kk_number": st.none() | DIGITS | TEXT, "name": st.none() | TEXT,
    "birth_date": st.none() | st.dates(min_value=date(1, 1, 1)), "address": st.none() | TEXT,
    "phone": st.none() | PHONES,
    "bpjs_number": st.none() | DIGITS | TEXT, "idpel": st.none() | DIGITS | TEXT,
}


@st.composite
def events(draw: st.DrawFn) -> RequestLifecycleEvent:
    base = draw(st.sampled_from(EVENTS)).model_dump()
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=4)):
        base[name] = draw(FIELDS[name])
    if draw(st.booleans()):
        citizen = dict(base["citizen"] or {})
        for name in draw(st.sets(st.sampled_from(sorted(CITIZEN)), min_size=1, max_size=4)):
            citizen[name] = draw(CITIZEN[name])
        base["citizen"] = citizen
    try:
        return RequestLifecycleEvent.model_validate(base)
    except pydantic.ValidationError:  # the model refuses first (hub.streams.kafka_io: schema_mismatch)
        assume(False)
        raise


def _personal_values(event: RequestLifecycleEvent) -> list[str]:
    citizen = event.citizen.model_dump() if event.citizen else {}
    return [str(v) for k, v in citizen.items()
            if k in PII_FIELDS and v is not None and len(str(v).strip()) >= 6]


@FUZZ
@given(event=events())
def test_admission_returns_a_normal_form_or_refuses_by_field_only(event: RequestLifecycleEvent) -> None:
    try:
        admitted, service = admit(event, now=NOW)
    except RecordError as refused:
        assert isinstance(refused, ValidationErrors | ValidationError), type(refused)
        errors = refused.errors if isinstance(refused, ValidationErrors) else [refused]
        assert errors and all(e.field for e in errors)
        for error in errors:
            assert len(error.reason) <= MAX_ECHO + 120, error.field
            if error.field.startswith("citizen."):
                for value in _personal_values(event):
                    assert value not in error.reason, f"{error.field} repeats a personal value"
        return
    assert service.code == admitted.service_code
    again, _ = admit(admitted, now=NOW)
    assert again == admitted  # the normal form is a fixed point
