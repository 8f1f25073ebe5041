"""Health insurance, BPJS Kesehatan: membership registration and change of health facility (faskes)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import model_validator

from hub.core.models import Citizen
from hub.core.native.envelope import NAMESPACE, NativeEvent, refuse
from hub.core.native.fields import (
    PII,
    SPECIFIC,
    BpjsNumber,
    FaskesCode,
    KkNumber,
    Nik,
    PersonName,
    Phone,
    VillageCode,
    check_nik,
)


# --------------------------------------------------------------------------------------------------
# Health insurance: BPJS Kesehatan
# --------------------------------------------------------------------------------------------------
class _Bpjs(NativeEvent):
    SOURCE_SYSTEM: ClassVar[str] = "bpjs-kesehatan"
    STATUS_VOCABULARY: ClassVar[str] = "bpjs_kesehatan"


class BpjsSegment(StrEnum):
    PBPU = "PBPU"  # self-paying (mandiri)
    PBI_APBN = "PBI_APBN"  # premium paid by the state budget
    PBI_APBD = "PBI_APBD"  # premium paid by the regency (UHC Banyuwangi)
    PPU = "PPU"  # employees (wage earners)
    BP = "BP"  # non-workers (pensioners, veterans)


class BpjsRegistration(_Bpjs):
    """A BPJS Kesehatan (JKN-KIS) membership registration."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.BpjsRegistration"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.bpjs_kesehatan.registration"

    region_code: VillageCode
    segment: BpjsSegment
    care_class: Annotated[Literal[1, 2, 3], SPECIFIC]
    faskes_code: Annotated[FaskesCode, SPECIFIC]
    bpjs_number: Annotated[BpjsNumber | None, PII] = None
    nik: Annotated[Nik, PII]
    kk_number: Annotated[KkNumber, PII]
    name: Annotated[PersonName, PII]
    birth_date: Annotated[date, PII]
    phone: Annotated[Phone | None, PII] = None

    @model_validator(mode="after")
    def _birth(self) -> BpjsRegistration:
        encoded = check_nik(self.nik, "nik").birth_date
        if encoded != self.birth_date:
            refuse("birth_date", "does not match the birth date encoded in nik")
        return self

    def canonical_service(self) -> str:
        return "BPJS_KESEHATAN_PENDAFTARAN"

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, kk_number=self.kk_number, name=self.name, birth_date=self.birth_date,
                       phone=self.phone, bpjs_number=self.bpjs_number)


class FaskesChangeReason(StrEnum):
    PINDAH_DOMISILI = "PINDAH_DOMISILI"  # moved house
    PILIHAN_PESERTA = "PILIHAN_PESERTA"  # member's choice (after 3 months)
    FASKES_TUTUP = "FASKES_TUTUP"  # facility closed or contract ended
    LAINNYA = "LAINNYA"


class BpjsFaskesChange(_Bpjs):
    """A change of first-level health facility (ganti faskes tingkat pertama)."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.BpjsFaskesChange"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.bpjs_kesehatan.faskes_change"

    region_code: VillageCode
    bpjs_number: Annotated[BpjsNumber, PII]
    nik: Annotated[Nik, PII]
    name: Annotated[PersonName, PII]
    faskes_from: Annotated[FaskesCode, SPECIFIC]
    faskes_to: Annotated[FaskesCode, SPECIFIC]
    reason: FaskesChangeReason

    @model_validator(mode="after")
    def _change(self) -> BpjsFaskesChange:
        if self.faskes_from == self.faskes_to:
            refuse("faskes_to", "is the current facility (faskes_from)")
        return self

    def canonical_service(self) -> str:
        return "BPJS_KESEHATAN_GANTI_FASKES"

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, name=self.name, bpjs_number=self.bpjs_number)
