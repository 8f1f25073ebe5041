"""What an endpoint receives, and what the audit trail keeps of it (pure).

The body is one CloudEvent in the JSON structured mode (``content-type: application/cloudevents+json``)::

    {"specversion": "1.0", "id": <ce_id>, "source": <ce_source>, "type": <ce_type>,
     "subject": <request id>, "time": <event time>, "datacontenttype": "application/json",
     "sequence": 3, "traceparent": "00-...",          # extension attributes
     "data": { the lifecycle event exactly as the agency's topic carries it: the minimised record }}

``sequence`` counts this endpoint's deliveries of one request (1, 2, 3...): a receiver orders a request's
events by it and sees a gap when one is missing. The body is a pure function of the record and the
sequence, so the same event is sent byte for byte the same after a crash (``webhook-id`` = ``id``).

Every delivery that carried personal data is written to ``hub.audit.v1`` (:func:`audit_entry`) with
channel ``webhook``, the endpoint's address without its query string, and the applicant's pseudonymous
``citizen_ref`` (never the NIK).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hub.core.models import RequestLifecycleEvent
from hub.core.records import AuditEntry
from hub.core.routing import purpose
from hub.wire.cloudevents import SPECVERSION, CloudEvent

CONTENT_TYPE = "application/cloudevents+json"
CHANNEL = "webhook"


def _time(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def personal_fields(event: RequestLifecycleEvent) -> tuple[str, ...]:
    """Names of the citizen fields the event carries (sorted)."""
    return tuple(sorted(event.citizen.model_dump(exclude_none=True))) if event.citizen else ()


def data(event: RequestLifecycleEvent) -> str:
    """The ``data`` member: the event as JSON (once per record, whatever the number of endpoints)."""
    return json.dumps(event.model_dump(mode="json", exclude_none=True), separators=(",", ":"),
                      ensure_ascii=False)


def body(meta: CloudEvent, event: RequestLifecycleEvent, seq: int, data_json: str | None = None) -> bytes:
    """The request body for one event and its sequence number (deterministic; ``data_json``: the event's
    :func:`data`, when already made)."""
    doc: dict[str, Any] = {
        "specversion": SPECVERSION, "id": meta.id, "source": meta.source, "type": meta.type,
        "subject": meta.subject or event.request_id, "time": _time(meta.time),
        "datacontenttype": "application/json", "sequence": seq}
    if meta.traceparent:
        doc["traceparent"] = meta.traceparent
    head = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return f'{head[:-1]},"data":{data_json if data_json is not None else data(event)}}}'.encode()


def audit_id(endpoint_id: str, ce_source: str, ce_id: str) -> str:
    """Stable per endpoint and event: a repeated delivery writes the same audit id."""
    return "audit/webhook/" + hashlib.sha256(f"{endpoint_id}|{ce_source}|{ce_id}".encode()).hexdigest()[:24]


def audit_record(*, endpoint_id: str, where: str, agency: str, payload: bytes | str,
                 personal: tuple[str, ...], at: datetime) -> dict[str, Any]:
    """The audit entry of one delivery of personal data (``payload``: the body that was sent), as the
    ``AuditEntry`` Avro record: a plain dict, built without validation on the dispatcher's hot path
    (``AuditEntry.model_validate`` accepts it; a test keeps the two in step)."""
    doc = json.loads(payload)
    data = doc.get("data") or {}
    service_code = str(data.get("service_code") or "")
    audience = f"agency:{agency}"
    return {
        "audit_id": audit_id(endpoint_id, doc["source"], doc["id"]),
        "request_id": str(doc.get("subject") or data["request_id"]), "event_ce_source": doc["source"],
        "event_ce_id": doc["id"], "event_type": doc["type"], "service_code": service_code,
        "citizen_ref": (data.get("enrichment") or {}).get("citizen_ref"), "recorded_at": at,
        "deliveries": [{"audience": audience, "topic": where, "personal_fields": list(personal),
                        "purpose": purpose(audience, service_code), "channel": CHANNEL}]}


def audit_entry(**facts: Any) -> AuditEntry:
    """:func:`audit_record` as the validated model."""
    return AuditEntry.model_validate(audit_record(**facts))
