"""Routing and personal-data minimisation: who receives an event, and which fields of it.

Pure: given an admitted event and its catalogue service, the list of deliveries. Each delivery
carries the event as that audience may see it (UU 27/2022 purpose limitation) and the names of the
personal fields it still holds, for the audit trail. The ``*_record`` functions work on plain data (the
Avro record as a dict: the worker's hot path); the model functions (``route``, ``fan_out``, ``minimise``)
are thin wrappers around them for the edges and the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.core.catalogue import Service
from hub.core.models import PII_FIELDS, RequestLifecycleEvent

MPP_FEED = "mpp"


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    audience: str  # "agency:<code>" or "mpp"
    event: RequestLifecycleEvent
    personal_fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class RecordDelivery:
    """A delivery of plain data: ``record`` is the lifecycle record (Avro dict) as the audience may see it.
    Deliveries that see the same view share one record object (the worker encodes it once)."""

    topic: str
    audience: str
    record: dict[str, Any]
    personal_fields: frozenset[str]


LIFECYCLE = "lifecycle"
CITIZEN = "citizen"


def minimise_record(record: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The record with every citizen field outside ``allowed`` removed (no citizen block if none left);
    ``record`` itself when nothing is removed."""
    citizen = record["citizen"]
    if citizen is None:
        return record
    present = {name for name, value in citizen.items() if value is not None}
    kept = present & allowed
    if kept == present:
        return record
    if not kept:
        return {**record, "citizen": None}
    new_citizen = {name: (value if name in kept else None) for name, value in citizen.items()}
    return {**record, "citizen": new_citizen}


def record_personal_fields(record: dict[str, Any]) -> frozenset[str]:
    citizen = record["citizen"]
    if citizen is None:
        return frozenset()
    return frozenset(name for name, value in citizen.items() if value is not None)


def route_record(record: dict[str, Any], service: Service, *, agency_topic: Callable[[str], str],
                 feed_topic: str) -> tuple[RecordDelivery, RecordDelivery]:
    """The responsible agency gets the fields its service needs; the MPP feed gets no personal data."""
    for_agency = minimise_record(record, service.personal_data & PII_FIELDS)
    for_feed = minimise_record(record, frozenset())
    return (RecordDelivery(agency_topic(service.agency), f"agency:{service.agency}", for_agency,
                           record_personal_fields(for_agency)),
            RecordDelivery(feed_topic, MPP_FEED, for_feed, frozenset()))


def fan_out_record(record: dict[str, Any], service: Service, *, agency_topic: Callable[[str], str],
                   feed_topic: str, lifecycle_topic: str | None) -> tuple[RecordDelivery, ...]:
    """Every delivery of one accepted (enriched) record: the responsible agency, the MPP feed, and (with a
    ``lifecycle_topic``) the hub's lifecycle log, the same view as the feed. The lifecycle log is the hub's
    record of the request's story, not a population register: it keeps no personal data, only the
    pseudonymous ``citizen_ref`` of the enrichment."""
    agency, feed = route_record(record, service, agency_topic=agency_topic, feed_topic=feed_topic)
    if lifecycle_topic is None:
        return agency, feed
    return agency, feed, RecordDelivery(lifecycle_topic, LIFECYCLE, feed.record, frozenset())


# -- the same on pydantic models (edges and tests): thin wrappers around the record functions ---------------
def _model(event: RequestLifecycleEvent, record: dict[str, Any], view: dict[str, Any],
           ) -> RequestLifecycleEvent:
    return event if view is record else RequestLifecycleEvent.from_avro(view)


def minimise(event: RequestLifecycleEvent, allowed: frozenset[str]) -> RequestLifecycleEvent:
    """The event with every citizen field outside ``allowed`` removed (no citizen block if none left)."""
    record = event.to_avro()
    return _model(event, record, minimise_record(record, allowed))


def personal_fields(event: RequestLifecycleEvent) -> frozenset[str]:
    return record_personal_fields(event.to_avro())


def _deliveries(event: RequestLifecycleEvent, found: tuple[RecordDelivery, ...], record: dict[str, Any],
                ) -> tuple[Delivery, ...]:
    views: dict[int, RequestLifecycleEvent] = {}
    out = []
    for d in found:
        view = views.get(id(d.record)) or views.setdefault(id(d.record), _model(event, record, d.record))
        out.append(Delivery(d.topic, d.audience, view, d.personal_fields))
    return tuple(out)


def route(event: RequestLifecycleEvent, service: Service, *,
          agency_topic: Callable[[str], str], feed_topic: str) -> tuple[Delivery, ...]:
    """:func:`route_record` on a model."""
    record = event.to_avro()
    return _deliveries(event, route_record(record, service, agency_topic=agency_topic, feed_topic=feed_topic),
                       record)


def fan_out(event: RequestLifecycleEvent, service: Service, *, agency_topic: Callable[[str], str],
            feed_topic: str, lifecycle_topic: str) -> tuple[Delivery, ...]:
    """:func:`fan_out_record` on a model."""
    record = event.to_avro()
    found = fan_out_record(record, service, agency_topic=agency_topic, feed_topic=feed_topic,
                           lifecycle_topic=lifecycle_topic)
    return _deliveries(event, found, record)


def purpose(audience: str, service_code: str) -> str:
    """Why an audience may receive what it receives (for the audit trail)."""
    if audience.startswith("agency:"):
        return f"processing {service_code} (personal data listed by the service catalogue)"
    if audience == MPP_FEED:
        return "service mall monitoring (no personal data)"
    if audience == LIFECYCLE:
        return "hub lifecycle record (no personal data)"
    if audience == CITIZEN:
        return "notifying the applicant of a status change (phone only)"
    return "internal"
