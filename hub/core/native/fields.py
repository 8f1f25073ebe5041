"""Field markers and validated field types of the native events.

``Kind`` says what a value is beyond its Python type (for documentation and test-data generators);
``Personal`` marks personal data (``PII``; ``SPECIFIC`` = children's, health or criminal data, UU 27/2022).
Each validated type checks with :mod:`hub.core.validation` and raises naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ValidationInfo

from hub.core import limits, validation
from hub.core.errors import ValidationError


# --------------------------------------------------------------------------------------------------
# Field markers: what kind of value a field holds (for documentation and test data generators) and
# whether it is personal data.
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Kind:
    """The domain of a string/number field beyond its Python type (e.g. ``nik``, ``village_code``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Personal:
    """Personal data (UU 27/2022): ``True`` = general, ``"specific"`` = children's, health or criminal
    data."""

    level: Literal[True, "specific"]


PII: Final = Personal(True)
SPECIFIC: Final = Personal("specific")


def personal_fields(model: type[BaseModel]) -> dict[str, Literal[True, "specific"]]:
    """``{field name: level}`` of the fields marked personal on a model."""
    return {name: m.level for name, info in model.model_fields.items()
            for m in info.metadata if isinstance(m, Personal)}


def field_name(info: ValidationInfo, default: str) -> str:
    return info.field_name or default


def check_nik(value: str, field: str) -> validation.NikInfo:
    # NIKs keep the kecamatan where they were issued: any Indonesian kecamatan is accepted, but one issued
    # in Banyuwangi (3510..) must carry a Banyuwangi kecamatan we know.
    return validation.validate_nik(value, field=field, banyuwangi_only=value.startswith("3510"))


def _nik(value: str, info: ValidationInfo) -> str:
    check_nik(value, field_name(info, "nik"))
    return value


def _nik_of(sex: Literal["F", "M"]) -> Callable[[str, ValidationInfo], str]:
    def check(value: str, info: ValidationInfo) -> str:
        field = field_name(info, "nik")
        found = check_nik(value, field)
        if found.sex != sex:
            expected = "a woman's (day of birth + 40)" if sex == "F" else "a man's (day of birth 01-31)"
            raise ValidationError(field, f"must be {expected} NIK")
        return value
    return check


def _kk(value: str, info: ValidationInfo) -> str:
    validation.validate_kk(value, field_name(info, "kk_number"), banyuwangi_only=False)
    return value


def _bpjs(value: str, info: ValidationInfo) -> str:
    return validation.validate_bpjs_number(value, field_name(info, "bpjs_number"))


def _idpel(value: str, info: ValidationInfo) -> str:
    return validation.validate_idpel(value, field_name(info, "idpel"))


def _village(value: str, info: ValidationInfo) -> str:
    validation.validate_region_code(value, field_name(info, "region_code"))
    return value


_REGION_RE: Final = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}")


def _any_village(value: str, info: ValidationInfo) -> str:
    """A Kemendagri village code anywhere in Indonesia (format only outside Banyuwangi)."""
    field = field_name(info, "region_code")
    if not _REGION_RE.fullmatch(value):
        raise ValidationError(field, f"{value!r} is not a dotted Kemendagri village code PP.KK.CC.DDDD")
    if value.startswith("35.10."):
        validation.validate_region_code(value, field)
    return value


def _service(value: str, info: ValidationInfo) -> str:
    validation.validate_service_code(value, field_name(info, "service_code"))
    return value


_FASKES_RE: Final = re.compile(r"[0-9A-Z]{8}")


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str, ValidationInfo], str]:
    def check(value: str, info: ValidationInfo) -> str:
        if not regex.fullmatch(value):
            raise ValidationError(field_name(info, "value"), f"must be {what}")
        return value
    return check


def _person_name(value: str, info: ValidationInfo) -> str:
    if not value.strip() or value != value.strip():
        raise ValidationError(field_name(info, "name"),
                              "must be a non-empty name without leading or trailing spaces")
    return limits.text(value, field_name(info, "name"), limits.NAME_MAX)


def _free_text(limit: int, default: str) -> Callable[[str, ValidationInfo], str]:
    def check(value: str, info: ValidationInfo) -> str:
        return limits.text(value, field_name(info, default), limit, multiline=True)
    return check


def _identifier(value: str, info: ValidationInfo) -> str:
    return limits.token(value, field_name(info, "id"))


def _phone(value: str, info: ValidationInfo) -> str:
    return validation.normalise_phone(value, field_name(info, "phone"))



Nik = Annotated[str, AfterValidator(_nik), Kind("nik")]
NikFemale = Annotated[str, AfterValidator(_nik_of("F")), Kind("nik_female")]
NikMale = Annotated[str, AfterValidator(_nik_of("M")), Kind("nik_male")]
KkNumber = Annotated[str, AfterValidator(_kk), Kind("kk_number")]
BpjsNumber = Annotated[str, AfterValidator(_bpjs), Kind("bpjs_number")]
Idpel = Annotated[str, AfterValidator(_idpel), Kind("idpel")]
VillageCode = Annotated[str, AfterValidator(_village), Kind("village_code")]
AnyVillageCode = Annotated[str, AfterValidator(_any_village), Kind("any_village_code")]
ServiceCode = Annotated[str, AfterValidator(_service), Kind("service_code")]
FaskesCode = Annotated[str,
                       AfterValidator(_pattern(_FASKES_RE, "an 8-character BPJS faskes code (0-9, A-Z)")),
                       Kind("faskes_code")]
# The content rules of admission (hub.core.limits): a valid native event translates into an admissible one.
Phone = Annotated[str, AfterValidator(_phone), Kind("phone")]  # an Indonesian number, held in E.164
PersonName = Annotated[str, AfterValidator(_person_name), Kind("person_name")]
Address = Annotated[str, AfterValidator(_free_text(limits.ADDRESS_MAX, "address")), Kind("address")]
Note = Annotated[str, AfterValidator(_free_text(limits.NOTE_MAX, "note")), Kind("note")]
Identifier = Annotated[str, AfterValidator(_identifier), Kind("id")]
