"""Routing and personal-data minimisation: who receives an event, and which fields of it.

Pure: given an admitted event and its catalogue service, the list of deliveries. Each delivery
carries the event as that audience may see it (UU 27/2022 purpose limitation) and the names of the
personal fields it still holds, for the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.core.catalogue import Service
from hub.core.models import PII_FIELDS, RequestLifecycleEvent

MPP_FEED = "mpp"


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    audience: str  # "agency:<code>" or "mpp"
    event: RequestLifecycleEvent
    personal_fields: frozenset[str]


def minimise(event: RequestLifecycleEvent, allowed: frozenset[str]) -> RequestLifecycleEvent:
    """The event with every citizen field outside ``allowed`` removed (no citizen block if none left)."""
    citizen = event.citizen
    if citizen is None:
        return event
    present = {name: value for name, value in citizen.model_dump().items() if value is not None}
    kept = {name: value for name, value in present.items() if name in allowed}
    if kept == present:
        return event
    new_citizen = citizen.model_copy(update={n: None for n in PII_FIELDS if n not in kept}) if kept else None
    return event.model_copy(update={"citizen": new_citizen})


def personal_fields(event: RequestLifecycleEvent) -> frozenset[str]:
    if event.citizen is None:
        return frozenset()
    return frozenset(event.citizen.model_dump(exclude_none=True))


def route(event: RequestLifecycleEvent, service: Service, *,
          agency_topic: Callable[[str], str], feed_topic: str) -> tuple[Delivery, ...]:
    """The responsible agency gets the fields its service needs; the MPP feed gets no personal data."""
    for_agency = minimise(event, service.personal_data & PII_FIELDS)
    for_feed = minimise(event, frozenset())
    return (
        Delivery(agency_topic(service.agency), f"agency:{service.agency}", for_agency,
                 personal_fields(for_agency)),
        Delivery(feed_topic, MPP_FEED, for_feed, frozenset()),
    )


LIFECYCLE = "lifecycle"
CITIZEN = "citizen"


def fan_out(event: RequestLifecycleEvent, service: Service, *, agency_topic: Callable[[str], str],
            feed_topic: str, lifecycle_topic: str) -> tuple[Delivery, ...]:
    """Every delivery of one accepted (enriched) event: the responsible agency, the MPP feed, and the
    hub's lifecycle log. The lifecycle log is the hub's record of the request's story, not a population
    register: it keeps no personal data, only the pseudonymous ``citizen_ref`` of the enrichment."""
    agency, feed = route(event, service, agency_topic=agency_topic, feed_topic=feed_topic)
    return agency, feed, Delivery(lifecycle_topic, LIFECYCLE, feed.event, frozenset())


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
