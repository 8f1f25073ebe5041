"""Records the hub itself produces (pydantic v2), mirrors of their Avro schemas in ``schemas/``.

* :class:`SlaEvent` (``hub.sla.v1``): an SLA warning (80 % of the time used) or breach (100 %), one of
  each at most per request and stage.
* :class:`AuditEntry` (``hub.audit.v1``): who received which event and which personal fields, no payload.
* :class:`CitizenNotice` (``citizen.notify.v1``): a short message in Bahasa Indonesia to the citizen; the
  phone number is its only personal field.
* :class:`DeliveryReceipt`: the outcome of delivering one event to one subscriber (webhook delivery).

Frozen plain data, like :mod:`hub.core.models`; ``to_avro`` / ``from_avro`` for the wire layer. The worker's
hot path builds the same Avro records as plain dicts (:func:`notice_record`, :func:`audit_record`,
:func:`audit_delivery`; ``hub.streams.timing.sla_record``): each equals its model's ``to_avro()``, which a
test keeps so.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hub.core.lifecycle import Status
from hub.core.models import UtcMillis, utc_millis

NAMESPACE = "id.go.banyuwangikab.hub"




class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA: ClassVar[str]
    CE_TYPE: ClassVar[str]

    def to_avro(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Any:
        return cls.model_validate(record)


class SlaKind(StrEnum):
    WARNING = "WARNING"  # 80 % of the working time used
    BREACH = "BREACH"  # deadline passed


class SlaStage(StrEnum):
    REQUEST = "REQUEST"  # one agency's request, clock from the catalogue's SLA
    JOURNEY = "JOURNEY"  # a cross-agency journey, end-to-end clock derived from its steps


class SlaEvent(_Record):
    SCHEMA: ClassVar[str] = f"{NAMESPACE}.SlaEvent"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.sla"

    event_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    parent_request_id: str | None = None
    stage: SlaStage
    kind: SlaKind
    code: str = Field(min_length=1, description="service code (REQUEST) or journey code (JOURNEY)")
    agency: str = Field(min_length=1, description="responsible agency, 'hub' for a journey")
    region_code: str
    status: Status
    started_at: UtcMillis
    due_at: UtcMillis
    warn_at: UtcMillis
    sla_working_days: int = Field(ge=0)
    paused_working_days: int = Field(ge=0)
    detected_at: UtcMillis
    detected_by: str = Field(description="'timer' or 'completion' (request finished after its deadline)")

    def to_avro(self) -> dict[str, Any]:
        record = super().to_avro()
        for name in ("stage", "kind", "status"):
            record[name] = str(record[name])
        return record


class AuditDelivery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    audience: str  # "agency:<code>", "mpp", "lifecycle", "citizen", "journey"
    topic: str
    personal_fields: list[str]  # sorted names of the citizen fields that went out
    purpose: str  # why this audience may receive them
    channel: str = "kafka"  # "kafka", "webhook" (the dispatcher's HTTP push) or "sql" (an agency's SQL inbox)


class AuditEntry(_Record):
    SCHEMA: ClassVar[str] = f"{NAMESPACE}.AuditEntry"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.audit"

    audit_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    event_ce_source: str
    event_ce_id: str
    event_type: str
    service_code: str
    # keyed HMAC of the applicant's NIK (never the NIK): "who received my data"
    citizen_ref: str | None = None
    recorded_at: UtcMillis
    deliveries: list[AuditDelivery]


class CitizenNotice(_Record):
    SCHEMA: ClassVar[str] = f"{NAMESPACE}.CitizenNotice"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.citizen.notice"

    notice_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    parent_request_id: str | None = None
    status: Status
    service_code: str = Field(description="service code, or journey code for a journey notice")
    phone: str | None = None
    language: str = "id"
    message: str = Field(min_length=1, max_length=480)
    created_at: UtcMillis

    def to_avro(self) -> dict[str, Any]:
        record = super().to_avro()
        record["status"] = str(record["status"])
        return record


def notice_record(*, notice_id: str, request_id: str, parent_request_id: str | None, status: Status,
                  service_code: str, phone: str | None, message: str, created_at: datetime) -> dict[str, Any]:
    """A :class:`CitizenNotice` as its Avro record (plain data)."""
    return {"notice_id": notice_id, "request_id": request_id, "parent_request_id": parent_request_id,
            "status": status.value, "service_code": service_code, "phone": phone, "language": "id",
            "message": message, "created_at": utc_millis(created_at)}


def audit_delivery(audience: str, topic: str, personal_fields: list[str], purpose: str,
                   channel: str = "kafka") -> dict[str, Any]:
    """An :class:`AuditDelivery` as its Avro record (plain data)."""
    return {"audience": audience, "topic": topic, "personal_fields": personal_fields, "purpose": purpose,
            "channel": channel}


def moves_personal_data(deliveries: list[dict[str, Any]]) -> bool:
    """Did any of these deliveries carry personal fields? Only then is an audit entry written: UU 27/2022 asks
    for a record of every delivery of personal data, and an entry listing none records nothing."""
    return any(d["personal_fields"] for d in deliveries)


def audit_record(*, audit_id: str, request_id: str, event_ce_source: str, event_ce_id: str, event_type: str,
                 service_code: str, citizen_ref: str | None, recorded_at: datetime,
                 deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    """An :class:`AuditEntry` as its Avro record (plain data)."""
    return {"audit_id": audit_id, "request_id": request_id, "event_ce_source": event_ce_source,
            "event_ce_id": event_ce_id, "event_type": event_type, "service_code": service_code,
            "citizen_ref": citizen_ref, "recorded_at": utc_millis(recorded_at), "deliveries": deliveries}


class DeliveryOutcome(StrEnum):
    DELIVERED = "DELIVERED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"  # given up: the event goes to the dead-letter topic


class DeliveryReceipt(_Record):
    SCHEMA: ClassVar[str] = f"{NAMESPACE}.DeliveryReceipt"
    CE_TYPE: ClassVar[str] = f"{NAMESPACE}.delivery.receipt"

    receipt_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    event_ce_source: str
    event_ce_id: str
    subscriber: str = Field(min_length=1)
    channel: str = Field(description="'kafka' or 'webhook'")
    endpoint: str | None = None
    outcome: DeliveryOutcome
    attempts: int = Field(ge=1)
    http_status: int | None = None
    error: str | None = Field(None, max_length=2000)
    at: UtcMillis

    def to_avro(self) -> dict[str, Any]:
        record = super().to_avro()
        record["outcome"] = str(record["outcome"])
        return record
