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
the same object is returned when nothing changed. :func:`admit_record` is the same on plain data (the
decoded Avro record): the worker's hot path; :func:`admit` (pydantic models, for the desk and tests) is a
thin wrapper around it, so there is one set of rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, ParamSpec, TypeVar

from hub.core import catalogue, limits, validation
from hub.core.catalogue import Service
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.models import RequestLifecycleEvent

MAX_CLOCK_SKEW = timedelta(minutes=5)

T = TypeVar("T")
P = ParamSpec("P")


class Admitted(NamedTuple):
    """An admitted event in normal form, and its catalogue service."""

    event: RequestLifecycleEvent
    service: Service


class AdmittedRecord(NamedTuple):
    """An admitted lifecycle record (the Avro record as a dict) in normal form, and its catalogue service."""

    record: dict[str, Any]
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
    """The event in normal form and its service if it is admissible; raises ValidationErrors otherwise
    (:func:`admit_record` on the event's record; the same object back when nothing changed)."""
    record = event.to_avro()
    normal, service = admit_record(record, now=now)
    return Admitted(event if normal is record else RequestLifecycleEvent.from_avro(normal), service)


def admit_record(record: dict[str, Any], *, now: datetime | None = None) -> AdmittedRecord:
    """A lifecycle record (the Avro record as a dict, types already the schema's) in normal form and its
    service if it is admissible; raises ValidationErrors otherwise. ``record`` itself comes back when it
    is already in normal form, else a copy with the normalised fields."""
    checks = _Checks()
    run = checks.run
    current = now or datetime.now(UTC)
    updates: dict[str, Any] = {}

    run(limits.token, record["event_id"], "event_id")
    run(limits.token, record["request_id"], "request_id")
    if record["parent_request_id"] is not None:
        run(limits.token, record["parent_request_id"], "parent_request_id")
    run(limits.source_system, record["source_system"])
    service = run(catalogue.service, record["service_code"])
    run(validation.validate_region_code, record["region_code"])
    agency = run(limits.source_system, record["agency"], "agency")
    if service is not None and agency is not None and agency != service.agency:
        checks.refuse("agency", f"service {service.code} belongs to {service.agency}, not {agency}")
    if record["native_status"] is not None:
        updates["native_status"] = run(limits.label, record["native_status"], "native_status")
    if record["note"] is not None:
        updates["note"] = run(limits.text, record["note"], "note", limits.NOTE_MAX, multiline=True)
    occurred_at = record["occurred_at"]
    when = occurred_at.isoformat()
    if occurred_at < limits.EARLIEST_OCCURRED:
        checks.refuse("occurred_at", f"{when} is before {limits.EARLIEST_OCCURRED.date().isoformat()}")
    if occurred_at > current + MAX_CLOCK_SKEW:
        checks.refuse("occurred_at", f"{when} is in the future")
    if record["citizen"] is not None:
        updates["citizen"] = _citizen(record["citizen"], checks, current.astimezone(validation.WIB).date())
    if checks.errors:
        raise ValidationErrors(checks.errors)
    assert service is not None
    changed = {k: v for k, v in updates.items() if v != record[k]}
    return AdmittedRecord({**record, **changed} if changed else record, service)


def _citizen(citizen: dict[str, Any], checks: _Checks, today: date) -> dict[str, Any]:
    """The citizen block in normal form (refusals are collected in ``checks``)."""
    run = checks.run
    nik = None
    if citizen["nik"] is not None:
        # A NIK keeps the kecamatan where it was issued: residents who moved in carry other
        # regencies' prefixes (Banyuwangi prefixes are still checked against the kecamatan list).
        nik = run(validation.validate_nik, citizen["nik"], field="citizen.nik", today=today,
                  banyuwangi_only=False)
    if citizen["kk_number"] is not None:
        run(validation.validate_kk, citizen["kk_number"], field="citizen.kk_number", banyuwangi_only=False)
    if citizen["birth_date"] is not None:
        run(validation.validate_birth_date, citizen["birth_date"], "citizen.birth_date", nik=nik, today=today)
    if citizen["bpjs_number"] is not None:
        run(validation.validate_bpjs_number, citizen["bpjs_number"], "citizen.bpjs_number")
    if citizen["idpel"] is not None:
        run(validation.validate_idpel, citizen["idpel"], "citizen.idpel")
    updates: dict[str, Any] = {}
    if citizen["name"] is not None:
        updates["name"] = run(limits.text, citizen["name"], "citizen.name", limits.NAME_MAX)
    if citizen["address"] is not None:
        updates["address"] = run(limits.text, citizen["address"], "citizen.address", limits.ADDRESS_MAX,
                                 multiline=True)
    if citizen["phone"] is not None:
        updates["phone"] = run(validation.normalise_phone, citizen["phone"], "citizen.phone")
    changed = {k: v for k, v in updates.items() if v is not None and v != citizen[k]}
    return {**citizen, **changed} if changed else citizen


def check_not_before_first(event: RequestLifecycleEvent, first_at: datetime | None) -> None:
    """An event of a known request may not be dated before the request's first event (``first_at``).

    Pure; the desk calls it with the earliest event in its ledger, the engine (:func:`check_after_first`)
    for a new (not duplicate) event with the time of the earliest event it holds for the request. Ties are
    allowed (the lifecycle orders them by the order they were written in).
    """
    check_after_first(event.occurred_at, first_at)


def check_after_first(occurred_at: datetime, first_at: datetime | None) -> None:
    """:func:`check_not_before_first` on an event's time."""
    if first_at is not None and occurred_at < first_at:
        raise ValidationError("occurred_at", f"{occurred_at.isoformat()} is before the request's "
                                             f"first event ({first_at.isoformat()})")
