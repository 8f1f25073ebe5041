"""Smart Kampung village desks: a citizen's new request at the village office becomes a SUBMITTED event.

``submission`` is pure (build and check the event); ``VillageDeskConnector`` publishes it.
Each village is its own CloudEvents source, ``/smart-kampung/<region code>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from hub.core import catalogue, validation
from hub.core.lifecycle import Status
from hub.core.models import Citizen, RequestLifecycleEvent
from hub.connectors.base import Publisher
from hub.settings import Settings

SOURCE_SYSTEM = "smart-kampung"
NAMESPACE = uuid.UUID("5b1f3a4e-3510-4b7a-9c0e-62616e797577")  # uuid5 namespace of desk ids


def source_of(region_code: str) -> str:
    return f"/{SOURCE_SYSTEM}/{region_code}"


def request_id_for(region_code: str, desk_number: str) -> str:
    """A stable request id from the village and the desk's own register number."""
    return f"SK-{region_code.replace('.', '')}-{desk_number}"


def submission(*, region_code: str, service_code: str, desk_number: str, citizen: Citizen,
               occurred_at: datetime | None = None, note: str | None = None) -> RequestLifecycleEvent:
    """The SUBMITTED event for a request registered at a village desk (validated; raises ValidationError)."""
    validation.validate_region_code(region_code)
    service = catalogue.service(service_code)
    request_id = request_id_for(region_code, desk_number)
    return RequestLifecycleEvent(
        # Stable id: the same desk registration always yields the same event id (harmless resends).
        event_id=str(uuid.uuid5(NAMESPACE, f"{request_id}/SUBMITTED")),
        request_id=request_id,
        status=Status.SUBMITTED,
        native_status="diajukan",
        occurred_at=occurred_at or datetime.now(UTC),
        source_system=SOURCE_SYSTEM,
        service_code=service.code,
        region_code=region_code,
        agency=service.agency,
        citizen=citizen,
        note=note,
    )


class VillageDeskConnector:
    """Publishes village-desk submissions to the hub's intake topic."""

    name = "village_desk"

    def __init__(self, settings: Settings):
        self.publisher = Publisher(settings, self.name, source=f"/{SOURCE_SYSTEM}")

    async def __aenter__(self) -> VillageDeskConnector:
        await self.publisher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.publisher.stop()

    async def submit(self, event: RequestLifecycleEvent) -> None:
        await self.publisher.publish(event, source=source_of(event.region_code))

    async def submit_many(self, events: Iterable[RequestLifecycleEvent]) -> int:
        return await self.publisher.publish_many((e, source_of(e.region_code)) for e in events)
