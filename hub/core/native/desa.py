"""Smart Kampung village desks: request registrations and cover letters (surat pengantar)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from hub.core import catalogue
from hub.core.models import Citizen
from hub.core.native.envelope import NAMESPACE, NativeEvent, refuse
from hub.core.native.fields import PII, Address, KkNumber, Nik, PersonName, Phone, ServiceCode, VillageCode


# --------------------------------------------------------------------------------------------------
# Smart Kampung village desks
# --------------------------------------------------------------------------------------------------
class DeskChannel(StrEnum):
    LOKET = "LOKET"  # at the village office counter
    ONLINE = "ONLINE"  # the Smart Kampung web/app form
    JEMPUT_BOLA = "JEMPUT_BOLA"  # desk staff visiting the citizen (elderly, disabled)


class VillageDeskSubmission(NativeEvent):
    """A citizen's request registered at a Smart Kampung village desk (for any catalogue service)."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.VillageDeskSubmission"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.desa.submission"
    SOURCE_SYSTEM: ClassVar[str] = "smart-kampung"
    STATUS_VOCABULARY: ClassVar[str] = "desa"

    region_code: VillageCode
    desk_number: str = Field(min_length=1, max_length=32)
    service_code: ServiceCode
    channel: DeskChannel = DeskChannel.LOKET
    operator_id: str = Field(min_length=1, max_length=64)
    nik: Annotated[Nik, PII]
    kk_number: Annotated[KkNumber | None, PII] = None
    name: Annotated[PersonName, PII]
    address: Annotated[Address | None, PII] = None
    phone: Annotated[Phone | None, PII] = None

    def canonical_service(self) -> str:
        return self.service_code

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, kk_number=self.kk_number, name=self.name, address=self.address,
                       phone=self.phone)


class CoverLetter(NativeEvent):
    """A cover letter or statement (surat pengantar / surat keterangan) issued by the village office."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.CoverLetter"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.desa.cover_letter"
    SOURCE_SYSTEM: ClassVar[str] = "smart-kampung"
    STATUS_VOCABULARY: ClassVar[str] = "desa"

    region_code: VillageCode
    letter_number: str = Field(min_length=1, max_length=64)
    service_code: ServiceCode
    purpose_service_code: ServiceCode | None = None
    valid_until: date | None = None
    signatory_position: str = Field(min_length=1, max_length=64)
    nik: Annotated[Nik, PII]
    kk_number: Annotated[KkNumber | None, PII] = None
    name: Annotated[PersonName, PII]
    address: Annotated[Address | None, PII] = None

    @model_validator(mode="after")
    def _services(self) -> CoverLetter:
        if catalogue.service(self.service_code).agency != "desa":
            refuse("service_code", f"{self.service_code} is not a village-office letter (agency desa)")
        if self.purpose_service_code and catalogue.service(self.purpose_service_code).agency == "desa":
            refuse("purpose_service_code", f"{self.purpose_service_code} is a village service, "
                    "expected the agency service the letter is for")
        return self

    def canonical_service(self) -> str:
        return self.service_code

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, kk_number=self.kk_number, name=self.name, address=self.address)
