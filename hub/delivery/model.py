"""Plain records of push delivery: endpoints, deliveries, attempts, notices (frozen; times in epoch seconds).

A *delivery* is one event for one endpoint. Its states::

    sending ──► delivered            first attempt under way (no payload stored: the input offset is
       │                             not committed until its outcome is, so a crash re-reads it)
       ├──► scheduled ──► delivered  failed, parked with its payload and the time of its next attempt
       │        └──► exhausted       the tenth attempt failed: kept, visible, alerted, resendable
       └──► held ──► scheduled       fifo: waits for the request's earlier delivery to this endpoint
    skipped                          arrived while the endpoint was disabled (recoverable; no payload)

``sending``, ``scheduled`` and ``held`` are *unresolved*. A payload is stored only while a delivery is
unresolved or exhausted; a resend of a delivery without one re-reads its record from Kafka
(topic, partition, offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from hub.delivery.filters import Filters


class Mode(StrEnum):
    STANDARD = "standard"  # deliveries in parallel; a parked one holds nothing back
    FIFO = "fifo"  # per request: a parked delivery holds back later ones of the same request only


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # by its agency or an admin: deliveries wait (no attempt used up)
    DISABLED = "disabled"  # by the hub (410 Gone, or 5 days failing): new events are skipped


class State(StrEnum):
    SENDING = "sending"
    SCHEDULED = "scheduled"
    HELD = "held"
    DELIVERED = "delivered"
    EXHAUSTED = "exhausted"
    SKIPPED = "skipped"


UNRESOLVED = frozenset({State.SENDING, State.SCHEDULED, State.HELD})
#: What ``recover`` sends again.
RECOVERABLE = frozenset({State.EXHAUSTED, State.SKIPPED})


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    agency: str
    url: str
    secret: str
    filters: Filters = field(default_factory=Filters)
    mode: Mode = Mode.STANDARD
    rate_limit: float | None = None
    description: str = ""
    status: EndpointStatus = EndpointStatus.ACTIVE
    disabled_reason: str | None = None
    previous_secret: str | None = None
    previous_until: float | None = None
    failing_since: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def public(self) -> dict[str, Any]:
        """Everything but the secrets."""
        return {"id": self.id, "agency": self.agency, "url": self.url, "filters": self.filters.to_dict(),
                "mode": self.mode.value, "rate_limit": self.rate_limit, "description": self.description,
                "status": self.status.value, "disabled_reason": self.disabled_reason,
                "rotating_until": utc(self.previous_until) if self.previous_secret else None,
                "failing_since": utc(self.failing_since), "created_at": utc(self.created_at),
                "updated_at": utc(self.updated_at)}


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    endpoint_id: str
    agency: str
    request_id: str
    ce_source: str
    ce_id: str
    ce_type: str
    seq: int
    topic: str
    partition: int
    offset: int
    state: State
    attempts: int = 0
    round_start: int = 0  # attempts made before the current round of the schedule (a resend starts one)
    next_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    last_status: int | None = None
    last_error: str | None = None
    payload: str | None = None
    personal: tuple[str, ...] = ()

    @property
    def round_attempts(self) -> int:
        return self.attempts - self.round_start

    def public(self) -> dict[str, Any]:
        """Everything but the payload (which holds personal data)."""
        return {"id": self.id, "endpoint_id": self.endpoint_id, "agency": self.agency,
                "request_id": self.request_id, "event_id": self.ce_id, "event_source": self.ce_source,
                "event_type": self.ce_type, "sequence": self.seq, "state": self.state.value,
                "attempts": self.attempts, "next_attempt_at": utc(self.next_at),
                "last_status": self.last_status, "last_error": self.last_error,
                "personal_fields": list(self.personal),
                "origin": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
                "created_at": utc(self.created_at), "updated_at": utc(self.updated_at)}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt, as the attempt log keeps it: no payload, no personal data of ours."""

    delivery_id: str
    endpoint_id: str
    event_id: str
    attempt: int
    at: float
    duration_ms: int
    outcome: str  # what the attempt led to: delivered | retry | exhausted | gone
    status_code: int | None = None
    error_class: str | None = None
    response: str | None = None  # the first 1 KB of the answer
    next_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "at": utc(self.at), "status_code": self.status_code,
                "duration_ms": self.duration_ms, "outcome": self.outcome, "error_class": self.error_class,
                "response": self.response, "next_attempt_at": utc(self.next_at)}


@dataclass(frozen=True, slots=True)
class Notice:
    """Something an agency's admins must hear about (endpoint failing, disabled)."""

    agency: str
    endpoint_id: str
    kind: str  # failing | disabled | gone
    message: str
    at: float

    def public(self) -> dict[str, Any]:
        return {"agency": self.agency, "endpoint_id": self.endpoint_id, "kind": self.kind,
                "message": self.message, "at": utc(self.at)}


def utc(seconds: float | None) -> str | None:
    """An epoch instant as ISO 8601 UTC; None stays None."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
