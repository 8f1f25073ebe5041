"""Strict admission (issue 11, item 2): lengths and characters of every field, Indonesian phone numbers in
E.164, birth dates within bounds and consistent with the NIK, plausible event times, bounded ids; every
refusal names the field and never repeats more than ``MAX_ECHO`` characters of a value (personal values
not at all); simulated traffic is admitted unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core import limits
from hub.core.admission import MAX_CLOCK_SKEW, admit, check_not_before_first
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.core.validation import make_nik, normalise_phone
from hub.dev.simulator import schedule, village_requests
from hub.errors import MAX_ECHO

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENT = next(village_requests(1, seed=7, now=NOW))
BIG = "x" * 100_000
# Longest reason a refusal may have: its own words plus one echo of at most MAX_ECHO characters.
REASON_MAX = MAX_ECHO + 200


def refusals(event: RequestLifecycleEvent, *, now: datetime = NOW) -> dict[str, str]:
    with pytest.raises(ValidationErrors) as caught:
        admit(event, now=now)
    return {e.field: e.reason for e in caught.value.errors}


def with_citizen(**fields: object) -> RequestLifecycleEvent:
    assert EVENT.citizen is not None
    return EVENT.model_copy(update={"citizen": EVENT.citizen.model_copy(update=fields)})


def refused_field(event: RequestLifecycleEvent, field: str) -> str:
    found = refusals(event)
    assert field in found, found
    assert all(len(reason) <= REASON_MAX for reason in found.values()), found
    return found[field]


# -- valid traffic -----------------------------------------------------------------------------------------
def test_simulated_traffic_is_admitted_as_it_is():
    items = schedule(seed=3, rate=20, duration=30, now=NOW - timedelta(days=30), day_seconds=4.0)
    events = [s.event for s in items] + list(village_requests(300, seed=5, now=NOW))
    assert len(events) > 1000
    for event in events:
        admitted = admit(event, now=NOW)
        assert admitted.event is event  # already in normal form: the very same object
        assert admitted.service.code == event.service_code


def test_normal_form_trims_free_text_and_writes_the_phone_in_e164():
    event = with_citizen(name="  Siti  Rahmawati ", address="Jl. Kopi 1\nRT 02 / RW 03\n",
                         phone="0812-3456-7890")
    event = event.model_copy(update={"note": " berkas lengkap ", "native_status": " diajukan "})
    normal = admit(event, now=NOW).event
    assert normal.citizen is not None
    assert (normal.citizen.name, normal.citizen.address, normal.citizen.phone) == (
        "Siti  Rahmawati", "Jl. Kopi 1\nRT 02 / RW 03", "+6281234567890")
    assert (normal.note, normal.native_status) == ("berkas lengkap", "diajukan")
    assert admit(normal, now=NOW).event is normal  # idempotent


@pytest.mark.parametrize("typed, e164", [
    ("081234567890", "+6281234567890"), ("6281234567890", "+6281234567890"),
    ("+6281234567890", "+6281234567890"),
    ("+62 812-3456-7890", "+6281234567890"), ("0812.3456.7890", "+6281234567890"),
    ("0333-424000", "+62333424000"), ("(0333) 424000", "+62333424000"),  # a Banyuwangi landline
    ("021 5551234", "+62215551234"), ("+62 (0)812 3456 7890", "+6281234567890"),
])
def test_indonesian_numbers_are_written_in_e164(typed, e164):
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize("typed, words", [
    ("call me", "digits"), ("08123456789a", "digits"), ("٠٨١٢٣٤٥٦٧٨٩٠", "digits"),  # Arabic-Indic digits
    ("0812", "not an Indonesian mobile number"), ("08123456789012345", "not an Indonesian mobile number"),
    ("0840 1234 5678", "not an Indonesian mobile number"),  # 084X is not allocated
    ("+1 212 555 0100", "Indonesian"), ("8123456789", "Indonesian"), ("", "digits"),
    ("0031 2345678", "Indonesian"),
    ("+62 0812 3456 7890", "Indonesian"),
    ("0" * 33, "at most 32 characters"),
])
def test_phone_numbers_that_cannot_be_indonesian_are_refused(typed, words):
    with pytest.raises(ValidationError) as caught:
        normalise_phone(typed, "citizen.phone")
    assert caught.value.field == "citizen.phone" and words in caught.value.reason
    assert typed not in caught.value.reason or not typed  # personal data: never repeated


# -- one regression test per defect of issue 11 ("content that should be refused is routed") --------------
def test_a_phone_that_is_not_digits_or_is_100_kb_is_refused():
    assert "digits" in refused_field(with_citizen(phone="+62 812 CALL ME"), "citizen.phone")
    assert "at most 32" in refused_field(with_citizen(phone="0" * 100_000), "citizen.phone")


@pytest.mark.parametrize("field, value, words", [
    ("name", "", "empty"), ("name", "   ", "empty"), ("name", BIG, "at most 100"),
    ("address", " \n ", "empty"), ("address", BIG, "at most 200"),
])
def test_empty_or_100_kb_names_and_addresses_are_refused(field, value, words):
    assert words in refused_field(with_citizen(**{field: value}), f"citizen.{field}")


def test_an_empty_or_oversized_note_and_native_status_are_refused():
    assert "empty" in refused_field(EVENT.model_copy(update={"note": "  "}), "note")
    # The event model caps a note at 500 (the Avro record is refused before admission); admission says it too.
    assert "at most 500" in refused_field(EVENT.model_construct(**{**dict(EVENT), "note": BIG}), "note")
    assert "at most 64" in refused_field(EVENT.model_copy(update={"native_status": BIG}), "native_status")


@pytest.mark.parametrize("char, kind", [
    ("\x07", "control"), ("\x00", "control"), ("\x1b", "control"), ("\u202e", "bidirectional"),
    ("\u2066", "bidirectional"), ("\u200b", "invisible"), ("\ufeff", "invisible"), ("\ud800", "surrogate"),
    ("\ue000", "private-use"), ("\u2028", "line separator"),
])
@pytest.mark.parametrize("field", ["citizen.name", "citizen.address", "note", "native_status"])
def test_control_and_bidi_characters_are_refused_naming_the_position(char, kind, field):
    value = f"Siti{char}Rahma"
    if field.startswith("citizen."):
        event = with_citizen(**{field.split(".")[1]: value})
    else:
        event = EVENT.model_copy(update={field: value})
    reason = refused_field(event, field)
    assert kind in reason and f"U+{ord(char):04X}" in reason and "position 5" in reason
    assert "Siti" not in reason  # the value is never repeated


def test_newlines_are_allowed_in_an_address_and_a_note_only():
    assert admit(with_citizen(address="Jl. Kopi 1\r\nRT 02"), now=NOW)
    assert "control" in refused_field(with_citizen(name="Siti\nRahma"), "citizen.name")


def test_a_birth_date_in_2099_or_before_1900_is_refused():
    assert "future" in refused_field(with_citizen(birth_date=date(2099, 1, 1)), "citizen.birth_date")
    assert "1900" in refused_field(with_citizen(birth_date=date(1899, 12, 31)), "citizen.birth_date")


def test_a_birth_date_contradicting_the_nik_is_refused():
    born = date(1990, 7, 1)
    woman = make_nik("351021", born, True, 1)  # day + 40
    man = make_nik("351021", born, False, 1)
    for nik in (woman, man):
        assert admit(with_citizen(nik=nik, kk_number=None, birth_date=born), now=NOW)
        reason = refused_field(with_citizen(nik=nik, kk_number=None, birth_date=date(1990, 7, 2)),
                               "citizen.birth_date")
        assert "NIK" in reason and nik not in reason and "1990" not in reason


@pytest.mark.parametrize("when", [datetime(1970, 1, 1, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
                                  datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)])
def test_an_event_time_in_1970_or_year_1_is_refused(when):
    assert "before 2000-01-01" in refused_field(EVENT.model_copy(update={"occurred_at": when}), "occurred_at")


def test_an_event_time_beyond_the_clock_skew_is_refused():
    assert admit(EVENT.model_copy(update={"occurred_at": NOW + MAX_CLOCK_SKEW}), now=NOW)
    late = EVENT.model_copy(update={"occurred_at": NOW + MAX_CLOCK_SKEW + timedelta(seconds=1)})
    assert "future" in refused_field(late, "occurred_at")


def test_an_event_may_not_be_dated_before_its_request_s_first_event():
    first = EVENT.occurred_at
    check_not_before_first(EVENT, None)
    check_not_before_first(EVENT, first)  # a tie is allowed (ordered by intake offset)
    with pytest.raises(ValidationError) as caught:
        check_not_before_first(EVENT.model_copy(update={"occurred_at": first - timedelta(milliseconds=1)}),
                               first)
    assert caught.value.field == "occurred_at" and "first event" in caught.value.reason


@pytest.mark.parametrize("field", ["event_id", "request_id", "parent_request_id", "source_system",
                                   "service_code", "region_code", "agency"])
def test_errors_never_echo_a_100_kb_value(field):
    found = refusals(EVENT.model_copy(update={field: BIG}))
    assert field in found and len(found[field]) <= REASON_MAX
    assert "got 100000" in found[field] or "(100002 characters)" in found[field]


@pytest.mark.parametrize("field", ["event_id", "request_id", "parent_request_id", "source_system"])
@pytest.mark.parametrize("value", ["with space", "line\nbreak", "-leading-dash", "ütf", "a\u202eb", ""])
def test_ids_and_source_system_are_bounded_tokens_of_a_safe_alphabet(field, value):
    assert "must be 1-" in refused_field(EVENT.model_copy(update={field: value}), field)


def test_the_nik_is_never_echoed_whole():
    nik = make_nik("351021", date(1990, 7, 1), True, 1)
    found = refusals(with_citizen(nik=nik[:-1] + "x", birth_date=date(2099, 1, 1)))
    assert all(nik[:-1] not in reason for reason in found.values())


# -- generated bad values: refused, naming the field, with a short reason -----------------------------------
TEXT_FIELDS = {"citizen.name": limits.NAME_MAX, "citizen.address": limits.ADDRESS_MAX,
               "note": limits.NOTE_MAX, "native_status": limits.NATIVE_STATUS_MAX}
INVISIBLE = st.sampled_from(["\x00", "\x07", "\x7f", "\x85", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c",
                             "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u061c", "\ufeff",
                             "\ud83d", "\U000f0000", "\u2029"])


def _bad_text(limit: int) -> st.SearchStrategy[str]:
    words = st.text(st.characters(categories=("L", "N", "Zs")), max_size=20)
    return st.one_of(
        st.tuples(words, INVISIBLE, words).map("".join),
        st.text(st.sampled_from(" \u3000\u00a0"), max_size=5),  # nothing but spaces
        st.integers(limit + 1, limit + 5000).map(lambda n: "a" * n),
    )


def _place(event: RequestLifecycleEvent, field: str, value: object) -> RequestLifecycleEvent:
    if field.startswith("citizen."):
        assert event.citizen is not None
        return event.model_copy(update={"citizen": event.citizen.model_copy(update={field[8:]: value})})
    return event.model_copy(update={field: value})


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_generated_bad_text_is_refused_naming_its_field(data):
    field = data.draw(st.sampled_from(sorted(TEXT_FIELDS)))
    value = data.draw(_bad_text(TEXT_FIELDS[field]))
    reason = refused_field(_place(EVENT, field, value), field)
    assert value.strip() == "" or value not in reason


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(
    st.text(max_size=40).filter(lambda s: not any(c.isdigit() for c in s)),  # no digits at all
    st.from_regex(r"0[01][0-9]{3,12}", fullmatch=True),  # no such area code or operator
    st.from_regex(r"08[1-9][0-9]{13,20}", fullmatch=True),  # too long
    st.from_regex(r"\+(1|44|60|65)[0-9]{8,11}", fullmatch=True),  # other countries
    st.from_regex(r"08[1-9][0-9]{7,9}[A-Za-z]", fullmatch=True),  # a letter in it
))
def test_generated_bad_phone_numbers_are_refused(value):
    refused_field(with_citizen(phone=value), "citizen.phone")


@settings(max_examples=200, deadline=None)
@given(operator=st.sampled_from([*range(11, 40), *range(50, 100)]), subscriber=st.integers(0, 10**8 - 1),
       form=st.sampled_from(["0{}", "62{}", "+62{}", "+62 {}"]))
def test_generated_mobile_numbers_are_admitted_in_e164(operator, subscriber, form):
    national = f"8{operator}{subscriber:08d}"
    admitted = admit(with_citizen(phone=form.format(national)), now=NOW).event
    assert admitted.citizen is not None and admitted.citizen.phone == f"+62{national}"


@settings(max_examples=200, deadline=None)
@given(born=st.dates(date(1930, 1, 1), date(2008, 12, 31)),
       other=st.dates(date(1900, 1, 1), date(2026, 3, 1)), female=st.booleans())
def test_generated_birth_dates_must_match_the_nik(born, other, female):
    event = with_citizen(nik=make_nik("351021", born, female, 9), kk_number=None, birth_date=other)
    if (other.day, other.month, other.year % 100) == (born.day, born.month, born.year % 100):
        assert admit(event, now=NOW)
    else:
        refused_field(event, "citizen.birth_date")


def test_status_fields_are_not_touched_by_normalisation():
    event = EVENT.model_copy(update={"status": Status.RECEIVED, "native_status": "Berkas Diterima"})
    assert admit(event, now=NOW).event is event
