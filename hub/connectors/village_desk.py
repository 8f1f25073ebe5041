"""Smart Kampung village desks: a citizen's request at the village office becomes lifecycle events.

Pure part (no I/O): the desk's input models (``SubmitIn``, ``StatusIn``), ``submission`` and
``build_submission`` (build and check a SUBMITTED event; every problem named by field),
``build_status_update`` (a desk's own status change, checked against the request's lifecycle).
Shell: ``VillageDeskConnector`` publishes directly; the HTTP intake API (``intake_api``) and the CSV
import (``csv_import``) go through the durable outbox instead.
Each village is its own CloudEvents source, ``/smart-kampung/<region code>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from hub.connectors.publisher import Publisher
from hub.core import catalogue, lifecycle, limits, validation
from hub.core.admission import admit, check_not_before_first
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.lifecycle import Status
from hub.core.models import Citizen, RequestLifecycleEvent
from hub.errors import echo
from hub.settings import Settings

SOURCE_SYSTEM = "smart-kampung"
DESK_AGENCY = "desa"  # whose native-status vocabulary a desk speaks (hub.core.lifecycle)
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


# -- the desk's input, as the HTTP API and the CSV import receive it ----------------------------------
def _in_utc_range(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 would be in year 0
        raise ValueError("is out of the range of UTC times") from None
    return value


DeskTime = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]  # as given: part of stable event ids


class CitizenIn(BaseModel):
    """The applicant, as typed at the desk. Only what the service needs is forwarded to its agency."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    nik: str | None = Field(None, description="NIK, 16 digits", examples=["3510214107900001"])
    kk_number: str | None = Field(None, description="Family card number, 16 digits")
    name: str | None = Field(None, max_length=limits.NAME_MAX)
    birth_date: date | None = None
    address: str | None = Field(None, max_length=limits.ADDRESS_MAX)
    phone: str | None = Field(None, max_length=limits.PHONE_INPUT_MAX, pattern=limits.PHONE_PATTERN,
                              description="Indonesian mobile or landline number (08..., 628..., +628...); "
                                          "forwarded in E.164", examples=["0812-3456-7890"])
    bpjs_number: str | None = Field(None, max_length=13, description="BPJS Kesehatan card number, 13 digits")
    idpel: str | None = Field(None, max_length=12, description="PLN customer id, 12 digits")


class SubmitIn(BaseModel):
    """A new citizen request registered at a village desk."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    region_code: str = Field(max_length=20,
                             description="Kemendagri code of the village (must be the token's own)",
                             examples=["35.10.21.2003"])
    desk_number: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9/_-]{0,39}$",
                             description="The desk's own register number; makes the request id stable")
    service_code: str = Field(max_length=64, description="Service catalogue code",
                              examples=["DUKCAPIL_KTP_EL"])
    citizen: CitizenIn
    occurred_at: DeskTime | None = Field(None, description="When it was registered (default: now)")
    note: str | None = Field(None, max_length=limits.NOTE_MAX, description="Short note; never personal data")


class StatusIn(BaseModel):
    """A status change of a request, recorded at the desk (in the desk's own words)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    native_status: str = Field(min_length=1, max_length=limits.NATIVE_STATUS_MAX,
                               examples=["dibatalkan", "diteruskan ke dinas"])
    occurred_at: DeskTime = Field(description="When it happened (part of the stable event id)")
    update_id: str | None = Field(None, max_length=80, pattern=limits.ID_PATTERN,
                                  description="The desk's own id for this update")
    note: str | None = Field(None, max_length=limits.NOTE_MAX)


def errors_of(exc: PydanticError, prefix: str = "") -> ValidationErrors:
    """A pydantic error as the hub's field + reason list (``citizen.nik``, not ``('citizen', 'nik')``)."""
    return ValidationErrors(
        ValidationError(prefix + (".".join(str(p) for p in err["loc"]) or "(body)"), err["msg"])
        for err in exc.errors())


def parse(model: type[BaseModel], data: object) -> BaseModel:
    """Validate ``data`` into ``model``; raises ValidationErrors naming every bad field."""
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise errors_of(exc) from None


def build_submission(data: SubmitIn, *, token_region: str | None = None,
                     now: datetime | None = None) -> RequestLifecycleEvent:
    """The SUBMITTED event for ``data``, or ValidationErrors naming every field at fault.

    ``token_region``: the village the caller is authorised for; another region is refused
    (``PermissionError``), since a village may only submit for itself.
    """
    if token_region is not None and data.region_code != token_region:
        raise PermissionError(f"region_code: this desk's token is for {token_region}, "
                              f"not {echo(data.region_code)}")
    now = now or datetime.now(UTC)
    errors: list[ValidationError] = []
    try:
        service = catalogue.service(data.service_code)
    except ValidationError:
        service = None  # admission names it below
    c = data.citizen
    if service is not None and "nik" in service.personal_data and not c.nik:
        errors.append(ValidationError("citizen.nik", f"is required for {service.code}"))
    event = _event(data, now, agency=service.agency if service else DESK_AGENCY,
                   service_code=data.service_code or "?")
    try:
        event = admit(event, now=now).event  # the worker's rules, each refusal named by field
    except ValidationErrors as found:
        errors = [e for e in found.errors if e.field != "agency"] + errors
    if errors:
        raise ValidationErrors(errors)
    return event


def resubmission_conflicts(first: RequestLifecycleEvent, again: RequestLifecycleEvent, data: SubmitIn,
                           ) -> list[dict[str, str]]:
    """How a resubmission of a desk number differs from what was first submitted under it (both in normal
    form): one ``{"field", "reason"}`` per field, the values never repeated (personal data). Empty: the
    same request again, a harmless resend. ``occurred_at`` counts only if the resubmission gives one (it
    defaults to the time of the call)."""
    fields = [name for name in ("service_code", "note") if getattr(first, name) != getattr(again, name)]
    fields += [f"citizen.{name}" for name in Citizen.model_fields
               if getattr(first.citizen, name, None) != getattr(again.citizen, name, None)]
    if data.occurred_at is not None and first.occurred_at != again.occurred_at:
        fields.append("occurred_at")
    reason = (f"differs from what desk number {data.desk_number} was first submitted with; the first "
              "submission stands (a new request needs a new desk number)")
    return [{"field": field, "reason": reason} for field in fields]


def _event(data: SubmitIn, now: datetime, *, agency: str, service_code: str) -> RequestLifecycleEvent:
    request_id = request_id_for(data.region_code, data.desk_number)
    return RequestLifecycleEvent(
        event_id=str(uuid.uuid5(NAMESPACE, f"{request_id}/SUBMITTED")), request_id=request_id,
        status=Status.SUBMITTED, native_status="diajukan", occurred_at=data.occurred_at or now,
        source_system=SOURCE_SYSTEM, service_code=service_code, region_code=data.region_code, agency=agency,
        citizen=Citizen(**data.citizen.model_dump()), note=data.note)


def current_state(events: Sequence[RequestLifecycleEvent]) -> lifecycle.RequestState | None:
    """Fold a request's known events (any order) into its state; events the lifecycle refuses are skipped."""
    state = None
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        outcome = lifecycle.apply(state, event.request_id, lifecycle.Transition(
            event.event_id, event.status, event.occurred_at, event.native_status), allow_any_first=True)
        state = outcome.state if outcome.accepted else state
    return state


def build_status_update(request_id: str, data: StatusIn, known: Sequence[RequestLifecycleEvent], *,
                        now: datetime | None = None) -> RequestLifecycleEvent:
    """A desk's status change of one of its requests, checked against what it knows of the request.

    Raises ``PermissionError`` if the desk did not submit the request (it may know it from the MPP
    feed, but only the submitting desk speaks for it), ValidationError (``native_status``) for a status
    the desk vocabulary does not know, ValidationErrors for what admission refuses (the worker's rules:
    e.g. ``occurred_at`` in the future or before the request's first event), and
    ``lifecycle.LifecycleError`` for an illegal transition. Nothing here touches the ledger.
    """
    submitted = [e for e in known if e.source_system == SOURCE_SYSTEM and e.status is Status.SUBMITTED]
    if not submitted:
        raise PermissionError(f"request_id: {echo(request_id)} was not submitted at this desk (it is known "
                              "here only from the MPP feed); only the desk that submitted it may update it")
    first = submitted[0]
    try:
        status = lifecycle.to_canonical(DESK_AGENCY, data.native_status)
    except lifecycle.LifecycleError as exc:
        raise ValidationError("native_status", str(exc)) from None
    when = data.occurred_at.isoformat()
    token = data.update_id or f"{lifecycle.normalise_native(data.native_status)}@{when}"
    event = RequestLifecycleEvent(
        event_id=str(uuid.uuid5(NAMESPACE, f"{request_id}/status/{token}")), request_id=request_id,
        parent_request_id=first.parent_request_id, status=status, native_status=data.native_status,
        occurred_at=data.occurred_at, source_system=SOURCE_SYSTEM, service_code=first.service_code,
        region_code=first.region_code, agency=first.agency, note=data.note)
    event = admit(event, now=now).event
    if any(e.event_id == event.event_id for e in known):
        return event  # a resend of an update already recorded: harmless
    check_not_before_first(event, min(e.occurred_at for e in known))
    state = current_state(known)
    outcome = lifecycle.apply(state, request_id, lifecycle.Transition(
        event.event_id, event.status, event.occurred_at, event.native_status), allow_any_first=True)
    if not outcome.accepted:
        raise lifecycle.LifecycleError(f"native_status: {outcome.reason}")
    return event


class VillageDeskConnector:
    """Publishes village-desk submissions to a desk node's intake topic (directly, no outbox)."""

    name = "village_desk"

    def __init__(self, settings: Settings, node: str | None = None):
        node = node or next(iter(settings.desk_node_prefixes))
        self.publisher = Publisher(settings, self.name, source=f"/{SOURCE_SYSTEM}",
                                   topic=settings.desk_intake_topic(node))

    async def __aenter__(self) -> VillageDeskConnector:
        await self.publisher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.publisher.stop()

    async def submit(self, event: RequestLifecycleEvent) -> None:
        await self.publisher.publish(event, source=source_of(event.region_code))

    async def submit_many(self, events: Iterable[RequestLifecycleEvent]) -> int:
        return await self.publisher.publish_many((e, source_of(e.region_code)) for e in events)
