"""Civil registry (Dispendukcapil, SIAK): KTP-el, Kartu Keluarga, KIA, birth and death certificates,
moving."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from hub.core.models import Citizen
from hub.core.native.envelope import NAMESPACE, NativeEvent, on_or_before, refuse
from hub.core.native.fields import (
    PII,
    SPECIFIC,
    Address,
    AnyVillageCode,
    KkNumber,
    Nik,
    NikFemale,
    NikMale,
    PersonName,
    VillageCode,
    check_nik,
)


# --------------------------------------------------------------------------------------------------
# Civil registry (Dispendukcapil, SIAK)
# --------------------------------------------------------------------------------------------------
class _Dukcapil(NativeEvent):
    SOURCE_SYSTEM: ClassVar[str] = "siak-dukcapil"
    STATUS_VOCABULARY: ClassVar[str] = "dukcapil"
    SERVICE: ClassVar[str]

    def canonical_service(self) -> str:
        return self.SERVICE


class KtpElReason(StrEnum):
    BARU = "BARU"  # first card (age 17 or married)
    HILANG = "HILANG"  # lost (police report)
    RUSAK = "RUSAK"  # damaged
    PERUBAHAN_DATA = "PERUBAHAN_DATA"  # change of data (status, occupation, address)
    PINDAH = "PINDAH"  # moved in


class KtpElApplication(_Dukcapil):
    """An application for an electronic identity card (KTP-el)."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.KtpElApplication"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.dukcapil.ktp_el"
    SERVICE: ClassVar[str] = "DUKCAPIL_KTP_EL"

    region_code: VillageCode
    reason: KtpElReason
    biometrics_recorded: bool
    nik: Annotated[Nik, PII]
    kk_number: Annotated[KkNumber, PII]
    name: Annotated[PersonName, PII]

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, kk_number=self.kk_number, name=self.name)


class FamilyCardReason(StrEnum):
    BARU = "BARU"  # new family (after marriage)
    PERUBAHAN_DATA = "PERUBAHAN_DATA"  # member added/removed, change of data
    PISAH_KK = "PISAH_KK"  # split from the parents' card
    HILANG = "HILANG"
    RUSAK = "RUSAK"
    PINDAH = "PINDAH"  # moved in or within the regency


class FamilyCardApplication(_Dukcapil):
    """An application for a family card (Kartu Keluarga), made by the head of the family."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.FamilyCardApplication"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.dukcapil.kartu_keluarga"
    SERVICE: ClassVar[str] = "DUKCAPIL_KK"

    region_code: VillageCode
    reason: FamilyCardReason
    member_count: int = Field(ge=1, le=30)
    head_nik: Annotated[Nik, PII]
    head_name: Annotated[PersonName, PII]
    kk_number: Annotated[KkNumber | None, PII] = None
    address: Annotated[Address, PII]

    @model_validator(mode="after")
    def _number(self) -> FamilyCardApplication:
        if self.reason != FamilyCardReason.BARU and self.reason != FamilyCardReason.PISAH_KK \
                and self.kk_number is None:
            refuse("kk_number", f"is required for reason {self.reason.value} (an existing family card)")
        return self

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.head_nik, kk_number=self.kk_number, name=self.head_name, address=self.address)


class ChildIdCardApplication(_Dukcapil):
    """An application for a child identity card (Kartu Identitas Anak, under 17), made by a parent."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.ChildIdCardApplication"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.dukcapil.kia"
    SERVICE: ClassVar[str] = "DUKCAPIL_KIA"

    region_code: VillageCode
    child_nik: Annotated[Nik, SPECIFIC]
    child_name: Annotated[PersonName, SPECIFIC]
    child_birth_date: Annotated[date, SPECIFIC]
    kk_number: Annotated[KkNumber, PII]
    parent_nik: Annotated[Nik, PII]
    parent_name: Annotated[PersonName, PII]

    @model_validator(mode="after")
    def _child(self) -> ChildIdCardApplication:
        encoded = check_nik(self.child_nik, "child_nik").birth_date
        if encoded != self.child_birth_date:
            refuse("child_birth_date", "does not match the birth date encoded in child_nik")
        on_or_before(self.child_birth_date, self.occurred_at, "child_birth_date")
        when = self.occurred_at.date()
        age = when.year - self.child_birth_date.year - (
            (when.month, when.day) < (self.child_birth_date.month, self.child_birth_date.day))
        if age >= 17:
            refuse("child_birth_date", f"the child is {age} on occurred_at: KIA is for children under 17")
        if self.parent_nik == self.child_nik:
            refuse("parent_nik", "is the child's own NIK")
        return self

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.parent_nik, kk_number=self.kk_number, name=self.parent_name)


class Sex(StrEnum):
    F = "F"
    M = "M"


class BirthRegistration(_Dukcapil):
    """A birth report for a birth certificate (akta kelahiran), made by a parent or another reporter."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.BirthRegistration"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.dukcapil.birth_registration"
    SERVICE: ClassVar[str] = "DUKCAPIL_AKTA_KELAHIRAN"

    region_code: VillageCode
    child_name: Annotated[PersonName, SPECIFIC]
    child_sex: Annotated[Sex, SPECIFIC]
    birth_date: Annotated[date, SPECIFIC]
    birth_place: Annotated[str, SPECIFIC, Field(min_length=1, max_length=100)]
    mother_nik: Annotated[NikFemale, PII]
    father_nik: Annotated[NikMale | None, PII] = None
    kk_number: Annotated[KkNumber, PII]
    reporter_nik: Annotated[Nik, PII]
    reporter_name: Annotated[PersonName, PII]
    certificate_number: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _dates(self) -> BirthRegistration:
        on_or_before(self.birth_date, self.occurred_at, "birth_date")
        return self

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.reporter_nik, kk_number=self.kk_number, name=self.reporter_name)


class DeathCause(StrEnum):
    SAKIT_BIASA_TUA = "SAKIT_BIASA_TUA"  # illness / old age
    WABAH_PENYAKIT = "WABAH_PENYAKIT"  # epidemic
    KECELAKAAN = "KECELAKAAN"  # accident
    KRIMINALITAS = "KRIMINALITAS"  # crime
    BUNUH_DIRI = "BUNUH_DIRI"  # suicide
    LAINNYA = "LAINNYA"
    TIDAK_DIKETAHUI = "TIDAK_DIKETAHUI"  # unknown


class DeathRegistration(_Dukcapil):
    """A death report for a death certificate (akta kematian)."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.DeathRegistration"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.dukcapil.death_registration"
    SERVICE: ClassVar[str] = "DUKCAPIL_AKTA_KEMATIAN"

    region_code: VillageCode
    deceased_nik: Annotated[Nik, PII]
    deceased_name: Annotated[PersonName, PII]
    date_of_death: Annotated[date, PII]
    place_of_death: Annotated[str, PII, Field(min_length=1, max_length=100)]
    cause: Annotated[DeathCause | None, SPECIFIC] = None
    kk_number: Annotated[KkNumber, PII]
    reporter_nik: Annotated[Nik, PII]
    reporter_name: Annotated[PersonName, PII]
    certificate_number: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _dates(self) -> DeathRegistration:
        on_or_before(self.date_of_death, self.occurred_at, "date_of_death")
        born = check_nik(self.deceased_nik, "deceased_nik").birth_date
        if self.date_of_death < born:
            refuse("date_of_death", "is before the birth date encoded in deceased_nik")
        if self.reporter_nik == self.deceased_nik:
            refuse("reporter_nik", "is the deceased's own NIK")
        return self

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.reporter_nik, kk_number=self.kk_number, name=self.reporter_name)


class MovingDirection(StrEnum):
    KELUAR = "KELUAR"  # moving out of (or within) Banyuwangi: origin is a Banyuwangi village
    DATANG = "DATANG"  # moving in: destination is a Banyuwangi village


class MovingReason(StrEnum):
    PEKERJAAN = "PEKERJAAN"
    PENDIDIKAN = "PENDIDIKAN"
    KEAMANAN = "KEAMANAN"
    KESEHATAN = "KESEHATAN"
    PERUMAHAN = "PERUMAHAN"
    KELUARGA = "KELUARGA"
    LAINNYA = "LAINNYA"


class MovingRegistration(_Dukcapil):
    """A change of residence (pindah keluar / pindah datang), with its SKPWNI moving certificate."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.MovingRegistration"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.dukcapil.moving"

    direction: MovingDirection
    origin_region_code: AnyVillageCode
    destination_region_code: AnyVillageCode
    reason: MovingReason
    members_moving: int = Field(ge=1, le=30)
    skpwni_number: str | None = Field(None, min_length=1, max_length=64)
    nik: Annotated[Nik, PII]
    kk_number: Annotated[KkNumber, PII]
    name: Annotated[PersonName, PII]
    destination_address: Annotated[Address | None, PII] = None

    @model_validator(mode="after")
    def _route(self) -> MovingRegistration:
        if self.origin_region_code == self.destination_region_code:
            refuse("destination_region_code", "is the origin village")
        field = ("origin_region_code" if self.direction == MovingDirection.KELUAR
                 else "destination_region_code")
        if not getattr(self, field).startswith("35.10."):
            refuse(field, f"must be a Banyuwangi village for direction {self.direction.value}")
        return self

    def canonical_service(self) -> str:
        return ("DUKCAPIL_PINDAH_KELUAR" if self.direction == MovingDirection.KELUAR
                else "DUKCAPIL_PINDAH_DATANG")

    def canonical_region(self) -> str:
        return (self.origin_region_code if self.direction == MovingDirection.KELUAR
                else self.destination_region_code)

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, kk_number=self.kk_number, name=self.name)
