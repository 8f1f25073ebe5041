"""Validators for NIK, No. KK, BPJS, IDPEL, region and service codes; error types."""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import pytest
import stdnum.id.nik as stdnum_nik
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.catalogue import UnknownService
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.regions import NIK_KECAMATAN_PREFIXES, UnknownRegion
from hub.core.validation import (
    KkInfo,
    NikInfo,
    make_kk,
    make_nik,
    validate_bpjs_number,
    validate_idpel,
    validate_kk,
    validate_nik,
    validate_region_code,
    validate_service_code,
)

TODAY = date(2025, 6, 30)
PREFIXES = sorted(NIK_KECAMATAN_PREFIXES)
# Dates a NIK decodes to unambiguously on TODAY: the 100 years ending today.
BIRTH_DATES = st.dates(min_value=date(1925, 7, 1), max_value=TODAY)
DIGITS = "0123456789"


def refused(value: object, **kwargs: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_nik(value, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return info.value


# --- errors -----------------------------------------------------------------------------------


def test_validation_error_shape() -> None:
    err = ValidationError("nik", "must be 16 digits, got 15")
    assert isinstance(err, ValueError)
    assert (err.field, err.reason) == ("nik", "must be 16 digits, got 15")
    assert str(err) == "nik: must be 16 digits, got 15"
    assert err.as_dict() == {"field": "nik", "reason": "must be 16 digits, got 15"}
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), str(again)) == (ValidationError, str(err))


def test_validation_errors_join() -> None:
    errs = ValidationErrors([ValidationError("nik", "bad"), ValidationError("idpel", "worse")])
    assert isinstance(errs, ValueError)
    assert str(errs) == "nik: bad; idpel: worse"
    assert [e.field for e in errs.errors] == ["nik", "idpel"]
    assert errs.as_dicts()[1] == {"field": "idpel", "reason": "worse"}
    assert str(pickle.loads(pickle.dumps(errs))) == "nik: bad; idpel: worse"


# --- NIK examples -----------------------------------------------------------------------------


def test_nik_valid_man_and_woman() -> None:
    man = validate_nik("3510211708450001", today=TODAY)
    assert man == NikInfo("351021", date(1945, 8, 17), "M", "0001")
    woman = validate_nik("3510215708450002", today=TODAY)
    assert (woman.birth_date, woman.sex, woman.serial) == (date(1945, 8, 17), "F", "0002")
    assert "1945" not in repr(woman)  # birth date is personal data: kept out of logs


@pytest.mark.parametrize(
    ("nik", "message"),
    [
        ("351021170845000", "nik: must be 16 digits, got 15"),
        ("35102117084500011", "nik: must be 16 digits, got 17"),
        ("", "nik: must be 16 digits, got 0"),
        ("3510 2117084500 1", "nik: must contain only the digits 0-9 (no spaces, dots or letters)"),
        ("35.10.21.170845.0001", "nik: must contain only the digits 0-9 (no spaces, dots or letters)"),
        ("351021170845000١", "nik: must contain only the digits 0-9 (no spaces, dots or letters)"),
        ("3510991708450001", "nik: region prefix 351099 is not a Banyuwangi kecamatan"),
        ("3578011708450001", "nik: region prefix 357801 is not a Banyuwangi kecamatan"),
        ("3510213102990001", "nik: birth date 310299 is not a real date"),
        ("3510217102990001", "nik: birth date 710299 is not a real date"),  # woman, 31 Feb
        ("3510210001990001", "nik: birth date 000199 is not a real date"),
        ("3510214001990001", "nik: birth date 400199 is not a real date"),
        ("3510217201990001", "nik: birth date 720199 is not a real date"),
        ("3510211313990001", "nik: birth date 131399 is not a real date"),
        ("3510211708450000", "nik: serial number 0000 is never issued"),
    ],
)
def test_nik_refused_with_reason(nik: str, message: str) -> None:
    assert str(refused(nik)) == message


def test_nik_not_a_string() -> None:
    err = refused(3510211708450001)
    assert (err.field, err.reason) == ("nik", "must be a string of 16 digits, got int")


def test_nik_custom_field_name() -> None:
    with pytest.raises(ValidationError, match=r"^applicant\.nik: must be 16 digits, got 3$"):
        validate_nik("351", field="applicant.nik")


def test_nik_century_is_latest_not_in_future() -> None:
    assert validate_nik("3510210101250001", today=TODAY).birth_date == date(2025, 1, 1)
    assert validate_nik("3510210107250001", today=TODAY).birth_date == date(1925, 7, 1)
    assert validate_nik("3510213006250001", today=TODAY).birth_date == date(2025, 6, 30)  # born today
    assert validate_nik("3510210101300001", today=TODAY).birth_date == date(1930, 1, 1)
    assert validate_nik("3510210101000001", today=TODAY).birth_date == date(2000, 1, 1)
    # 29 Feb 2000 is real, 29 Feb 1900 is not
    assert validate_nik("3510212902000001", today=TODAY).birth_date == date(2000, 2, 29)
    with pytest.raises(ValidationError, match=r"^nik: birth date 2000-02-29 is in the future$"):
        validate_nik("3510212902000001", today=date(2000, 2, 28))


def test_nik_default_today_is_used() -> None:
    future = date.today() + timedelta(days=400)
    info = validate_nik(make_nik("351021", future, False, 1))
    assert info.birth_date == future.replace(year=future.year - 100)


def test_nik_blimbingsari_old_and_new_prefix() -> None:
    assert validate_nik("3510251708900001", today=TODAY).kecamatan_prefix == "351025"
    assert validate_nik("3510131708900001", today=TODAY).kecamatan_prefix == "351013"


def test_nik_from_elsewhere_in_indonesia() -> None:
    surabaya = validate_nik("3578011708900001", today=TODAY, banyuwangi_only=False)
    assert surabaya.kecamatan_prefix == "357801"
    for prefix in ("999901", "359901", "357800"):
        err = refused(prefix + "1708900001", banyuwangi_only=False)
        assert str(err) == f"nik: region prefix {prefix} is not a known Indonesian kecamatan"


# --- No. KK, BPJS, IDPEL ----------------------------------------------------------------------


def test_kk() -> None:
    info = validate_kk("3510210403150012", today=TODAY)
    assert info == KkInfo("351021", date(2015, 3, 4), "0012")
    with pytest.raises(ValidationError, match=r"^kk_number: registration date 440315 is not a real date$"):
        validate_kk("3510214403150012", today=TODAY)  # no +40 on a family card
    with pytest.raises(ValidationError, match=r"^kk_number: must be 16 digits, got 12$"):
        validate_kk("351021040315")
    with pytest.raises(ValidationError, match=r"^kk_number: region prefix 351026"):
        validate_kk("3510260403150012", today=TODAY)
    with pytest.raises(ValidationError, match=r"^family\.kk: serial number 0000"):
        validate_kk("3510210403150000", "family.kk", today=TODAY)


def test_bpjs_and_idpel() -> None:
    assert validate_bpjs_number("0001234567890") == "0001234567890"
    assert validate_idpel("512345678901") == "512345678901"
    with pytest.raises(ValidationError, match=r"^bpjs_number: must be 13 digits, got 12$"):
        validate_bpjs_number("000123456789")
    with pytest.raises(ValidationError, match=r"^idpel: must be 12 digits, got 13$"):
        validate_idpel("5123456789012")
    with pytest.raises(ValidationError, match=r"^idpel: must contain only the digits"):
        validate_idpel("51234567890A")
    with pytest.raises(ValidationError, match=r"^meter: must be a string"):
        validate_idpel(None, "meter")  # type: ignore[arg-type]


# --- region and service codes -----------------------------------------------------------------


def test_region_code() -> None:
    assert validate_region_code("35.10.21.2003").name == "Ketapang"
    assert validate_region_code("35.10.16.1008").level == "kelurahan"
    with pytest.raises(ValidationError) as info:
        validate_region_code("35.10.21")
    assert str(info.value) == "region_code: 35.10.21 (Kalipuro) is a kecamatan, expected desa or kelurahan"
    assert validate_region_code("35.10.21", levels=("kecamatan",)).name == "Kalipuro"
    with pytest.raises(UnknownRegion) as unknown:
        validate_region_code("35.10.21.2999", "origin_village")
    assert str(unknown.value) == "origin_village: unknown region code '35.10.21.2999'"


def test_service_code() -> None:
    assert validate_service_code("POLRI_SKCK").agency == "polri"
    with pytest.raises(UnknownService) as info:
        validate_service_code("POLRI_SIM", field="request.service")
    assert str(info.value) == "request.service: unknown service code 'POLRI_SIM'"


# --- builders ---------------------------------------------------------------------------------


def test_make_nik_and_kk() -> None:
    assert make_nik("351021", date(1999, 2, 1), True, 1) == "3510214102990001"
    assert make_nik("351021", date(2001, 12, 31), False, 9999) == "3510213112019999"
    assert make_kk("351013", date(2015, 3, 4), 12) == "3510130403150012"
    for bad in ("35102", "35102a", 351021):
        with pytest.raises(ValueError, match="prefix"):
            make_nik(bad, date(2000, 1, 1), False, 1)  # type: ignore[arg-type]
    for serial in (0, 10000):
        with pytest.raises(ValueError, match="serial"):
            make_nik("351021", date(2000, 1, 1), False, serial)


# --- properties -------------------------------------------------------------------------------


@settings(deadline=None)
@given(
    prefix=st.sampled_from(PREFIXES),
    born=BIRTH_DATES,
    female=st.booleans(),
    serial=st.integers(1, 9999),
)
def test_property_make_validate_round_trip(prefix: str, born: date, female: bool, serial: int) -> None:
    nik = make_nik(prefix, born, female, serial)
    info = validate_nik(nik, today=TODAY)
    assert info == NikInfo(prefix, born, "F" if female else "M", f"{serial:04d}")
    assert stdnum_nik.is_valid(nik)  # python-stdnum agrees
    got = stdnum_nik.get_birth_date(nik)
    assert (got.month, got.day, got.year % 100) == (born.month, born.day, born.year % 100)


@settings(deadline=None)
@given(prefix=st.sampled_from(PREFIXES), recorded=BIRTH_DATES, serial=st.integers(1, 9999))
def test_property_kk_round_trip(prefix: str, recorded: date, serial: int) -> None:
    info = validate_kk(make_kk(prefix, recorded, serial), today=TODAY)
    assert (info.kecamatan_prefix, info.registration_date, info.serial) == (prefix, recorded, f"{serial:04d}")


@given(
    digits=st.one_of(st.text(DIGITS, min_size=15, max_size=15), st.text(DIGITS, min_size=17, max_size=17)),
    field=st.sampled_from(["nik", "applicant.nik", "mother_nik"]),
)
def test_property_wrong_length_refused_naming_field(digits: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_nik(digits, field=field, today=TODAY)
    assert info.value.field == field
    assert str(info.value) == f"{field}: must be 16 digits, got {len(digits)}"


SIXTEEN_DIGITS = st.one_of(
    st.text(DIGITS, min_size=16, max_size=16),
    st.tuples(st.sampled_from(PREFIXES), st.text(DIGITS, min_size=10, max_size=10)).map("".join),
)


@settings(deadline=None)
@given(SIXTEEN_DIGITS)
def test_property_any_16_digits_is_decoded_or_refused(nik: str) -> None:
    try:
        info = validate_nik(nik, today=TODAY)
    except ValidationError as err:
        assert err.field == "nik"
        assert nik not in str(err)  # the whole NIK never appears in an error message
        return
    assert make_nik(info.kecamatan_prefix, info.birth_date, info.sex == "F", int(info.serial)) == nik
    assert info.birth_date <= TODAY and info.kecamatan_prefix in NIK_KECAMATAN_PREFIXES


@given(st.text(DIGITS, max_size=20).filter(lambda s: len(s) != 13))
def test_property_bpjs_needs_13_digits(value: str) -> None:
    with pytest.raises(ValidationError, match=rf"^bpjs_number: must be 13 digits, got {len(value)}$"):
        validate_bpjs_number(value)
