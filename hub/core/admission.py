"""Admission: may a lifecycle event enter the hub, and in which normal form? Pure checks.

One module for every door: the worker's engine (``hub.streams.engine``) and the village-desk API
(``hub.connectors.village_desk``) both call :func:`admit`. Every problem is reported at once, each
naming its field, so a desk or agency can fix its record in one go. The event's types were already
checked by its model; here its meaning and content are checked against the reference data and the
content limits (``hub.core.limits``):

* ids (``event_id``, ``request_id``, ``parent_request_id``) and ``source_system``: bounded tokens;
* ``service_code``, ``region_code``, ``agency``: from the catalogue and the region list, consistent;
* ``native_status``: a one-line label; ``note``: free text (no control or bidirectional characters);
* ``occurred_at``: not before 2000 nor more than ``MAX_CLOCK_SKEW`` in the future (and, through
  :func:`check_not_before_first`, not before the request's first event);
* the citizen: NIK and KK number, name and address (free text), phone (an Indonesian number),
  birth date (1900..today, and the one the NIK encodes), BPJS number and IDPEL (digits).

Normalisation: :func:`admit` returns the event in normal form (free text trimmed and NFC, native
status trimmed, phone in E.164) with its service. Normalising a normal event is the identity, and
the same object is returned when nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, ParamSpec, TypeVar

from hub.core import catalogue, limits, validation
from hub.core.catalogue import Service
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.models import Citizen, RequestLifecycleEvent

MAX_CLOCK_SKEW = timedelta(minutes=5)

T = TypeVar("T")
P = ParamSpec("P")


class Admitted(NamedTuple):
    """An admitted event in normal form, and its catalogue service."""

    event: RequestLifecycleEvent
    service: Service


class _Checks:
    """Collects every refusal: ``run(check, *args)`` returns the check's value, or None if it refused."""

    def __init__(self) -> None:
        self.errors: list[ValidationError] = []

    def run(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return check(*args, **kwargs)
        except ValidationErrors as many:
            self.errors.extend(many.errors)
        except ValidationError as one:
            self.errors.append(one)
        return None

    def refuse(self, field: str, reason: str) -> None:
        self.errors.append(ValidationError(field, reason))


def admit(event: RequestLifecycleEvent, *, now: datetime | None = None) -> Admitted:
    """The event in normal form and its service if it is admissible; raises ValidationErrors otherwise."""
    checks = _Checks()
    run = checks.run
    current = now or datetime.now(UTC)
    updates: dict[str, Any] = {}

    run(limits.token, event.event_id, "event_id")
    run(limits.token, event.request_id, "request_id")
    if event.parent_request_id is not None:
        run(limits.token, event.parent_request_id, "parent_request_id")
    run(limits.source_system, event.source_system)
    service = run(catalogue.service, event.service_code)
    run(validation.validate_region_code, event.region_code)
    agency = run(limits.source_system, event.agency, "agency")
    if service is not None and agency is not None and agency != service.agency:
        checks.refuse("agency", f"service {service.code} belongs to {service.agency}, not {agency}")
    if event.native_status is not None:
        updates["native_status"] = run(limits.label, event.native_status, "native_status")
    if event.note is not None:
        updates["note"] = run(limits.text, event.note, "note", limits.NOTE_MAX, multiline=True)
    when = event.occurred_at.isoformat()
    if event.occurred_at < limits.EARLIEST_OCCURRED:
        checks.refuse("occurred_at", f"{when} is before {limits.EARLIEST_OCCURRED.date().isoformat()}")
    if event.occurred_at > current + MAX_CLOCK_SKEW:
        checks.refuse("occurred_at", f"{when} is in the future")
    if event.citizen is not None:
        updates["citizen"] = _citizen(event.citizen, checks, current.astimezone(validation.WIB).date())
    if checks.errors:
        raise ValidationErrors(checks.errors)
    assert service is not None
    changed = {k: v for k, v in updates.items() if v != getattr(event, k)}
    return Admitted(event.model_copy(update=changed) if changed else event, service)


def _citizen(citizen: Citizen, checks: _Checks, today: date) -> Citizen:
    """The citizen block in normal form (refusals are collected in ``checks``)."""
    run = checks.run
    nik = None
    if citizen.nik is not None:
        # A NIK keeps the kecamatan where it was issued: residents who moved in carry other
        # regencies' prefixes (Banyuwangi prefixes are still checked against the kecamatan list).
        nik = run(validation.validate_nik, citizen.nik, field="citizen.nik", today=today,
                  banyuwangi_only=False)
    if citizen.kk_number is not None:
        run(validation.validate_kk, citizen.kk_number, field="citizen.kk_number", banyuwangi_only=False)
    if citizen.birth_date is not None:
        run(validation.validate_birth_date, citizen.birth_date, "citizen.birth_date", nik=nik, today=today)
    if citizen.bpjs_number is not None:
        run(validation.validate_bpjs_number, citizen.bpjs_number, "citizen.bpjs_number")
    if citizen.idpel is not None:
        run(validation.validate_idpel, citizen.idpel, "citizen.idpel")
    updates: dict[str, Any] = {}
    if citizen.name is not None:
        updates["name"] = run(limits.text, citizen.name, "citizen.name", limits.NAME_MAX)
    if citizen.address is not None:
        updates["address"] = run(limits.text, citizen.address, "citizen.address", limits.ADDRESS_MAX,
                                 multiline=True)
    if citizen.phone is not None:
        updates["phone"] = run(validation.normalise_phone, citizen.phone, "citizen.phone")
    changed = {k: v for k, v in updates.items() if v is not None and v != getattr(citizen, k)}
    return citizen.model_copy(update=changed) if changed else citizen


def check_not_before_first(event: RequestLifecycleEvent, first_at: datetime | None) -> None:
    """An event of a known request may not be dated before the request's first event (``first_at``).

    Pure; the engine calls it for a new (not duplicate) event with the time of the earliest event it
    holds for the request, the desk with the earliest event in its ledger. Ties are allowed (the
    lifecycle orders them by the order they were written in).
    """
    if first_at is not None and event.occurred_at < first_at:
        raise ValidationError("occurred_at", f"{event.occurred_at.isoformat()} is before the request's "
                                             f"first event ({first_at.isoformat()})")
