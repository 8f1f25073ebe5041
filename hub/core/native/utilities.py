"""Utilities: PLN electricity connections (pasang baru, tambah daya) and PUDAM water connections."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from hub.core.errors import ValidationError
from hub.core.models import Citizen
from hub.core.native.envelope import NAMESPACE, NativeEvent, refuse
from hub.core.native.fields import PII, Address, Idpel, Kind, Nik, PersonName, Phone, VillageCode, field_name

# --------------------------------------------------------------------------------------------------
# Utilities: PLN (electricity) and PUDAM (water)
# --------------------------------------------------------------------------------------------------
#: PLN's standard connection powers (VA) for low-voltage customers.
PLN_POWER_VA: Final = (450, 900, 1300, 2200, 3500, 4400, 5500, 6600, 7700, 10600, 11000, 13200, 16500, 23000,
                       33000, 41500, 53000, 66000, 82500, 105000, 131000, 147000, 164000, 197000)


def _power(value: int, info: ValidationInfo) -> int:
    if value not in PLN_POWER_VA:
        raise ValidationError(field_name(info, "daya_va"), f"{value} VA is not a standard PLN power level")
    return value


PowerVa = Annotated[int, AfterValidator(_power), Kind("daya_va")]


class PlnRequestType(StrEnum):
    PASANG_BARU = "PASANG_BARU"  # new connection
    TAMBAH_DAYA = "TAMBAH_DAYA"  # more power


class PlnGridWork(StrEnum):
    TANPA_PERLUASAN = "TANPA_PERLUASAN"  # no grid extension: 5 working days
    PERLUASAN_JARINGAN = "PERLUASAN_JARINGAN"  # grid extension: 15
    GARDU_BARU = "GARDU_BARU"  # new transformer: 25


class PlnTariff(StrEnum):
    R1M = "R1M"  # household 900 VA, subsidy-free (RTM)
    R1 = "R1"  # household up to 2,200 VA
    R2 = "R2"  # household 3,500-5,500 VA
    R3 = "R3"  # household 6,600 VA and above
    B1 = "B1"  # small business
    B2 = "B2"
    S1 = "S1"  # social
    S2 = "S2"
    P1 = "P1"  # government offices
    I1 = "I1"  # small industry


class PlnConnectionRequest(NativeEvent):
    """A PLN new connection (pasang baru) or more power (tambah daya) request."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.PlnConnectionRequest"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.pln.connection_request"
    SOURCE_SYSTEM: ClassVar[str] = "pln-ap2t"
    STATUS_VOCABULARY: ClassVar[str] = "pln"

    region_code: VillageCode
    request_type: PlnRequestType
    grid_work: PlnGridWork = PlnGridWork.TANPA_PERLUASAN
    idpel: Annotated[Idpel | None, PII] = None
    tarif: PlnTariff
    daya_va_current: PowerVa | None = None
    daya_va_requested: PowerVa
    nik: Annotated[Nik, PII]
    name: Annotated[PersonName, PII]
    address: Annotated[Address, PII]
    phone: Annotated[Phone | None, PII] = None

    @model_validator(mode="after")
    def _power_change(self) -> PlnConnectionRequest:
        if self.request_type == PlnRequestType.TAMBAH_DAYA:
            if self.idpel is None:
                refuse("idpel", "is required for TAMBAH_DAYA (an existing customer)")
            if self.daya_va_current is None:
                refuse("daya_va_current", "is required for TAMBAH_DAYA")
            elif self.daya_va_requested <= self.daya_va_current:
                refuse("daya_va_requested", f"{self.daya_va_requested} VA is not more than the current "
                        f"{self.daya_va_current} VA")
        elif self.daya_va_current is not None:
            refuse("daya_va_current", "must be empty for PASANG_BARU (no connection yet)")
        return self

    def canonical_service(self) -> str:
        if self.request_type == PlnRequestType.TAMBAH_DAYA:
            return "PLN_TAMBAH_DAYA"
        return f"PLN_PASANG_BARU_{self.grid_work.value}"

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, name=self.name, address=self.address, phone=self.phone, idpel=self.idpel)


class PudamCustomerGroup(StrEnum):
    SOSIAL = "SOSIAL"  # places of worship, social institutions
    RUMAH_TANGGA_1 = "RUMAH_TANGGA_1"  # simple households
    RUMAH_TANGGA_2 = "RUMAH_TANGGA_2"
    RUMAH_TANGGA_3 = "RUMAH_TANGGA_3"
    NIAGA_KECIL = "NIAGA_KECIL"  # small business
    NIAGA_BESAR = "NIAGA_BESAR"
    INDUSTRI = "INDUSTRI"
    INSTANSI = "INSTANSI"  # government offices


class PudamConnectionRequest(NativeEvent):
    """A PUDAM (regional water utility) new connection request (sambungan baru)."""

    SCHEMA: ClassVar[str] = f"{NAMESPACE}.PudamConnectionRequest"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.pudam.connection_request"
    SOURCE_SYSTEM: ClassVar[str] = "pudam-billing"
    STATUS_VOCABULARY: ClassVar[str] = "pudam"

    region_code: VillageCode
    customer_group: PudamCustomerGroup
    pipe_diameter_mm: Literal[13, 19, 25, 38, 50]
    connection_number: str | None = Field(None, min_length=1, max_length=32)
    nik: Annotated[Nik, PII]
    name: Annotated[PersonName, PII]
    address: Annotated[Address, PII]
    phone: Annotated[Phone | None, PII] = None

    def canonical_service(self) -> str:
        return "PUDAM_SAMBUNGAN_BARU"

    def canonical_citizen(self) -> Citizen:
        return Citizen(nik=self.nik, name=self.name, address=self.address, phone=self.phone)
