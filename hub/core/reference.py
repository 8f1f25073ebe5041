"""Reference records (pydantic v2) published for integrators: the service catalogue and the region codes.

Built from :mod:`hub.core.catalogue` and :mod:`hub.core.regions` (the one home of that data); these are
their wire shapes, mirrors of ``ServiceCatalogueEntry.avsc`` and ``Region.avsc`` (Satu Data Indonesia:
publish reference codes and their metadata).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field

from hub.core import catalogue, regions

__all__ = ["PersonalDataField", "RegionLevel", "RegionRecord", "ServiceCatalogueEntry", "SlaKind",
           "region_record", "region_records", "service_entries", "service_entry"]

NAMESPACE: Final = "id.go.banyuwangikab.hub"


class SlaKind(StrEnum):
    working_days = "working_days"  # done within N working days of submission
    before_event = "before_event"  # to be filed at least N working days before the event (KUA)


class PersonalDataField(StrEnum):
    """Citizen fields a service may ask for (values equal :data:`hub.core.catalogue.PERSONAL_DATA_FIELDS`)."""

    nik = "nik"
    kk_number = "kk_number"
    name = "name"
    birth_date = "birth_date"
    address = "address"
    phone = "phone"
    bpjs_number = "bpjs_number"
    idpel = "idpel"


class RegionLevel(StrEnum):
    provinsi = "provinsi"
    kabupaten = "kabupaten"
    kecamatan = "kecamatan"
    desa = "desa"
    kelurahan = "kelurahan"


class ServiceCatalogueEntry(BaseModel):
    """One service of the catalogue, as published to integrators."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA: ClassVar[str] = f"{NAMESPACE}.ServiceCatalogueEntry"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.reference.service"

    code: str = Field(min_length=1, max_length=64)
    agency: str = Field(min_length=1, max_length=32)
    agency_name: str = Field(min_length=1)
    name_id: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    sla_working_days: int = Field(ge=0, le=365)
    sla_kind: SlaKind
    fee_idr: int = Field(ge=0)
    documents: tuple[str, ...]
    personal_data: tuple[PersonalDataField, ...]


class RegionRecord(BaseModel):
    """One Kemendagri region of Banyuwangi (Avro record ``Region``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA: ClassVar[str] = f"{NAMESPACE}.Region"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.reference.region"

    code: str = Field(min_length=2, max_length=13)
    name: str = Field(min_length=1)
    level: RegionLevel
    kecamatan_code: str | None = None
    kecamatan_name: str | None = None
    postal_code: str | None = Field(None, min_length=5, max_length=5)


def service_entry(service: catalogue.Service) -> ServiceCatalogueEntry:
    return ServiceCatalogueEntry(
        code=service.code, agency=service.agency, agency_name=service.agency_name, name_id=service.name_id,
        name_en=service.name_en, sla_working_days=service.sla_working_days,
        sla_kind=SlaKind(service.sla_kind), fee_idr=service.fee_idr, documents=service.documents,
        personal_data=tuple(PersonalDataField(f) for f in sorted(service.personal_data)),
    )


def service_entries() -> tuple[ServiceCatalogueEntry, ...]:
    """The whole catalogue, in catalogue order."""
    return tuple(service_entry(s) for s in catalogue.services())


def region_record(region: regions.Region) -> RegionRecord:
    return RegionRecord(code=region.code, name=region.name, level=RegionLevel(region.level),
                        kecamatan_code=region.kecamatan_code, kecamatan_name=region.kecamatan_name,
                        postal_code=region.postal_code)


def region_records() -> tuple[RegionRecord, ...]:
    """The regency, its kecamatan and its villages, sorted by code."""
    found = [regions.region("35.10"), *regions.kecamatan(), *regions.villages()]
    return tuple(region_record(r) for r in sorted(found, key=lambda r: r.code))
