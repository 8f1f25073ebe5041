"""The hub's event models (pydantic v2), mirrors of the Avro schemas in ``schemas/``.

Models are frozen plain data: the core's functions take and return them; the wire layer turns them
into Avro records with ``to_avro`` / ``from_avro``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.core.lifecycle import Status


def utc_millis(value: datetime) -> datetime:
    """An Avro timestamp-millis value: time-zone aware, in UTC, truncated to the millisecond."""
    if value.tzinfo is UTC and not value.microsecond % 1000:  # already one (every decoded Avro time)
        return value
    if value.tzinfo is None:
        raise ValueError("must carry a time zone")
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 would be in year 0
        raise ValueError("is out of the range of UTC times") from None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


UtcMillis = Annotated[datetime, AfterValidator(utc_millis)]

# The citizen fields marked "pii": true in the schema (a test keeps the two in step).
PII_FIELDS: frozenset[str] = frozenset(
    {"nik", "kk_number", "name", "birth_date", "address", "phone", "bpjs_number", "idpel"})


class Citizen(BaseModel):
    """The applicant. Every field is personal data (UU 27/2022)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nik: str | None = None
    kk_number: str | None = None
    name: str | None = None
    birth_date: date | None = None
    address: str | None = None
    phone: str | None = None
    bpjs_number: str | None = None
    idpel: str | None = None


class Enrichment(BaseModel):
    """What the hub's lifecycle engine adds to an event (reference names, terms, deadlines)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    village_name: str
    kecamatan_code: str
    kecamatan_name: str
    service_name: str
    agency_name: str
    sla_working_days: int
    fee_idr: int
    due_at: UtcMillis | None = None
    warn_at: UtcMillis | None = None
    citizen_ref: str | None = None
    citizen_check: str | None = None


class RequestLifecycleEvent(BaseModel):
    """One step in the life of a citizen request (see the .avsc for field docs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA: ClassVar[str] = "id.go.banyuwangikab.hub.RequestLifecycleEvent"
    CE_TYPE: ClassVar[str] = "id.go.banyuwangikab.hub.request.lifecycle"

    event_id: str = Field(min_length=1, max_length=128)
    request_id: str = Field(min_length=1, max_length=128)
    parent_request_id: str | None = None
    status: Status
    native_status: str | None = None
    occurred_at: UtcMillis
    source_system: str = Field(min_length=1)
    service_code: str = Field(min_length=1)
    region_code: str = Field(min_length=1)
    agency: str = Field(min_length=1)
    citizen: Citizen | None = None
    note: str | None = Field(None, max_length=500)
    enrichment: Enrichment | None = None

    def to_avro(self) -> dict[str, Any]:
        record = self.model_dump()
        record["status"] = self.status.value
        return record

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> RequestLifecycleEvent:
        return cls.model_validate(record)
