"""Pure validators for citizen identifiers and reference codes.

Each raises :class:`hub.core.errors.ValidationError` naming the field and the reason. Reasons may
quote a NIK's region prefix or date part but never the whole number (it is personal data).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, timedelta, timezone
from typing import Final, Literal

import phonenumbers
from stdnum import numdb

from hub.core import limits
from hub.core.catalogue import Service, UnknownService, service
from hub.core.errors import ValidationError
from hub.core.regions import Region, UnknownRegion, nik_prefixes, region

__all__ = [
    "KkInfo",
    "NikInfo",
    "WIB",
    "make_kk",
    "make_nik",
    "normalise_phone",
    "today_wib",
    "validate_birth_date",
    "validate_bpjs_number",
    "validate_idpel",
    "validate_kk",
    "validate_nik",
    "validate_region_code",
    "validate_service_code",
]

WIB: Final = timezone(timedelta(hours=7), "WIB")  # Banyuwangi time; no daylight saving
_DIGITS: Final = re.compile(r"[0-9]*")
_PREFIX: Final = re.compile(r"[0-9]{6}")


@dataclass(frozen=True, slots=True)
class NikInfo:
    """What a NIK reveals (personal data: birth date and sex are hidden from ``repr``)."""

    kecamatan_prefix: str
    birth_date: date = dc_field(repr=False)
    sex: Literal["F", "M"] = dc_field(repr=False)
    serial: str = dc_field(repr=False)


@dataclass(frozen=True, slots=True)
class KkInfo:
    """What a family-card number (No. KK) reveals."""

    kecamatan_prefix: str
    registration_date: date
    serial: str


def today_wib() -> date:
    """Today's date in Banyuwangi (WIB, UTC+7)."""
    return datetime.now(WIB).date()


def _digits(value: object, length: int, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string of {length} digits, got {type(value).__name__}")
    if not _DIGITS.fullmatch(value):
        raise ValidationError(field, "must contain only the digits 0-9 (no spaces, dots or letters)")
    if len(value) != length:
        raise ValidationError(field, f"must be {length} digits, got {len(value)}")
    return value


def _decode_date(ddmmyy: str, female_offset: bool, label: str, field: str, today: date) -> tuple[date, bool]:
    """DDMMYY -> (date, female); the latest century that gives a real date not after ``today``."""
    dd, mm, yy = int(ddmmyy[:2]), int(ddmmyy[2:4]), int(ddmmyy[4:])
    female = female_offset and dd > 40
    day = dd - 40 if female else dd
    century = today.year // 100 * 100
    real: list[date] = []
    for year in (century + yy, century - 100 + yy):
        try:
            real.append(date(year, mm, day))
        except ValueError:
            continue
    if not real:
        raise ValidationError(field, f"{label} {ddmmyy} is not a real date")
    for candidate in real:
        if candidate <= today:
            return candidate, female
    raise ValidationError(field, f"{label} {real[0].isoformat()} is in the future")


BANYUWANGI_PREFIX = "3510"  # PPKK of Kabupaten Banyuwangi: its kecamatan part is checked against our own list


def _check_prefix(prefix: str, field: str, banyuwangi_only: bool) -> None:
    if banyuwangi_only or prefix.startswith(BANYUWANGI_PREFIX):
        if prefix not in nik_prefixes():
            raise ValidationError(field, f"region prefix {prefix} is not a Banyuwangi kecamatan")
        return
    # Elsewhere in Indonesia: province and regency must be known to python-stdnum's region table.
    parts = numdb.get("id/loc").info(prefix[:4])
    if len(parts) != 2 or not all(props for _, props in parts) or prefix[4:] == "00":
        raise ValidationError(field, f"region prefix {prefix} is not a known Indonesian kecamatan")


def validate_nik(
    nik: str, *, field: str = "nik", today: date | None = None, banyuwangi_only: bool = True
) -> NikInfo:
    """Check a NIK (PPKKCC + DDMMYY, women day+40, + 4-digit serial) and decode it.

    ``banyuwangi_only=False`` accepts any kecamatan python-stdnum knows (NIKs keep the region
    where they were issued, so people who moved in carry other prefixes).
    """
    nik = _digits(nik, 16, field)
    prefix = nik[:6]
    _check_prefix(prefix, field, banyuwangi_only)
    birth, female = _decode_date(nik[6:12], True, "birth date", field, today or today_wib())
    if nik[12:] == "0000":
        raise ValidationError(field, "serial number 0000 is never issued")
    return NikInfo(kecamatan_prefix=prefix, birth_date=birth, sex="F" if female else "M", serial=nik[12:])


def validate_kk(
    kk: str, field: str = "kk_number", *, today: date | None = None, banyuwangi_only: bool = True
) -> KkInfo:
    """Check a family-card number: PPKKCC + registration date DDMMYY (no +40) + serial."""
    kk = _digits(kk, 16, field)
    prefix = kk[:6]
    _check_prefix(prefix, field, banyuwangi_only)
    recorded, _ = _decode_date(kk[6:12], False, "registration date", field, today or today_wib())
    if kk[12:] == "0000":
        raise ValidationError(field, "serial number 0000 is never issued")
    return KkInfo(kecamatan_prefix=prefix, registration_date=recorded, serial=kk[12:])


def validate_bpjs_number(value: str, field: str = "bpjs_number") -> str:
    """BPJS Kesehatan card number: 13 digits, opaque."""
    return _digits(value, 13, field)


def validate_idpel(value: str, field: str = "idpel") -> str:
    """PLN customer id (IDPEL): 12 digits."""
    return _digits(value, 12, field)


_PHONE_CHARS: Final = re.compile(limits.PHONE_PATTERN)
_PHONE_TYPES: Final = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
                                 phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


def normalise_phone(value: object, field: str = "phone") -> str:
    """An Indonesian mobile or landline number in E.164 (``+62...``).

    Accepted as typed at a desk: ``0812-3456-7890``, ``62812...``, ``+62 812 ...``, ``(0333) 424000``:
    ASCII digits with spaces, dots, dashes or brackets, and a leading ``+``. The national number must
    be one Indonesia issues (Google's libphonenumber metadata via ``phonenumbers``: operator prefixes,
    area codes and lengths): notices go out as SMS, and a number that cannot exist must not become
    one. The value is personal data: reasons never repeat it.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {type(value).__name__}")
    typed = value.strip()
    if len(typed) > limits.PHONE_INPUT_MAX:
        raise ValidationError(field, f"must be at most {limits.PHONE_INPUT_MAX} characters, got {len(typed)}")
    if not _PHONE_CHARS.fullmatch(typed):
        raise ValidationError(field, "must be digits (spaces, '-', '.', brackets and a leading '+' allowed)")
    digits = re.sub(r"[^0-9]", "", typed.replace("(0)", ""))  # "+62 (0)812...": the trunk 0 in brackets
    if digits.startswith("62"):
        national = digits[2:]
    elif digits.startswith("0") and not typed.startswith("+"):
        national = digits[1:]
    else:
        national = ""
    if not national or national.startswith("0"):  # 00...: an international call prefix, not a number
        raise ValidationError(field, "must be an Indonesian mobile number or landline: "
                                     "08..., 628... or +628...")
    # The number's type from the metadata (its own checks of prefix and length): a type other than UNKNOWN
    # is a valid number (phonenumbers' is_valid_number is exactly that test), so one look-up decides. Built
    # directly rather than parsed from "+62...": the digits are known to be a national number already.
    number = phonenumbers.PhoneNumber(country_code=62, national_number=int(national))
    if phonenumbers.number_type(number) not in _PHONE_TYPES:
        raise ValidationError(field, "is not an Indonesian mobile number or landline "
                                     f"({len(national)} digits after the 0 or +62)")
    return f"+62{national}"  # E.164: the national number has no leading zero


def validate_birth_date(value: date, field: str = "birth_date", *, nik: NikInfo | None = None,
                        today: date | None = None) -> date:
    """A birth date not before 1900, not after today (WIB), and the one the NIK encodes (if given).

    The NIK holds DDMMYY (women: day + 40); only day, month and the year's last two digits are
    compared, since the NIK does not say the century.
    """
    today = today or today_wib()
    if value < limits.EARLIEST_BIRTH:
        raise ValidationError(field, f"must not be before {limits.EARLIEST_BIRTH.isoformat()}")
    if value > today:
        raise ValidationError(field, "must not be in the future")
    if nik is not None and (value.day, value.month, value.year % 100) != (
            nik.birth_date.day, nik.birth_date.month, nik.birth_date.year % 100):
        raise ValidationError(field, "contradicts the birth date encoded in the NIK (DDMMYY, women day + 40)")
    return value


def validate_region_code(
    code: str, field: str = "region_code", levels: Iterable[str] = ("desa", "kelurahan")
) -> Region:
    """A Banyuwangi region code of one of ``levels`` (villages by default)."""
    try:
        found = region(code)
    except UnknownRegion:
        raise UnknownRegion(code, field) from None
    allowed = tuple(levels)
    if found.level not in allowed:
        raise ValidationError(
            field, f"{code} ({found.name}) is a {found.level}, expected {' or '.join(allowed)}"
        )
    return found


def validate_service_code(code: str, field: str = "service_code") -> Service:
    """A service code from the catalogue."""
    try:
        return service(code)
    except UnknownService:
        raise UnknownService(code, field) from None


def _compose(prefix: str, when: date, day_offset: int, serial: int) -> str:
    if not (isinstance(prefix, str) and _PREFIX.fullmatch(prefix)):
        raise ValueError(f"prefix must be 6 digits, got {prefix!r}")
    if not 1 <= serial <= 9999:
        raise ValueError(f"serial must be 1..9999, got {serial}")
    return f"{prefix}{when.day + day_offset:02d}{when.month:02d}{when.year % 100:02d}{serial:04d}"


def make_nik(prefix: str, birth_date: date, female: bool, serial: int) -> str:
    """Build a NIK (for simulators and tests)."""
    return _compose(prefix, birth_date, 40 if female else 0, serial)


def make_kk(prefix: str, registration_date: date, serial: int) -> str:
    """Build a family-card number (for simulators and tests)."""
    return _compose(prefix, registration_date, 0, serial)
