"""Admission: may a lifecycle event enter the hub? Pure checks against the reference data.

Every problem is reported at once, each naming its field, so a desk or agency can fix its record
in one go. The event's types were already checked by its model; here the meaning is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hub.core import catalogue, validation
from hub.core.catalogue import Service
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.models import RequestLifecycleEvent

MAX_CLOCK_SKEW = timedelta(minutes=5)


def admit(event: RequestLifecycleEvent, *, now: datetime | None = None) -> Service:
    """The event's catalogue service if the event is admissible; raises ValidationErrors otherwise."""
    errors: list[ValidationError] = []
    service: Service | None = None

    def check(fn: Callable[[], object]) -> object:
        try:
            return fn()
        except ValidationErrors as many:
            errors.extend(many.errors)
        except ValidationError as one:
            errors.append(one)
        return None

    service = check(lambda: catalogue.service(event.service_code))  # type: ignore[assignment]
    check(lambda: validation.validate_region_code(event.region_code))
    if service is not None and event.agency != service.agency:
        errors.append(ValidationError(
            "agency", f"service {service.code} belongs to {service.agency}, not {event.agency}"))
    current = now or datetime.now(UTC)
    if event.occurred_at > current + MAX_CLOCK_SKEW:
        errors.append(ValidationError("occurred_at", f"{event.occurred_at.isoformat()} is in the future"))
    citizen = event.citizen
    if citizen is not None:
        if citizen.nik is not None:
            # A NIK keeps the kecamatan where it was issued: residents who moved in carry other
            # regencies' prefixes (Banyuwangi prefixes are still checked against the kecamatan list).
            check(lambda: validation.validate_nik(citizen.nik, field="citizen.nik", today=current.date(),
                                                  banyuwangi_only=False))
        if citizen.kk_number is not None:
            check(lambda: validation.validate_kk(citizen.kk_number, field="citizen.kk_number",
                                                 banyuwangi_only=False))
    if errors:
        raise ValidationErrors(errors)
    assert service is not None
    return service
