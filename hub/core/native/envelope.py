"""The envelope every native event shares, and the pure translation into the canonical lifecycle event."""

from __future__ import annotations

from abc import abstractmethod
from datetime import date, datetime
from typing import ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.core import catalogue, lifecycle, limits
from hub.core.errors import ValidationError
from hub.core.models import Citizen, RequestLifecycleEvent, UtcMillis
from hub.core.native.fields import Identifier, Note

NAMESPACE: Final = "id.go.banyuwangikab.hub"

# --------------------------------------------------------------------------------------------------
# The envelope every native event shares.
# --------------------------------------------------------------------------------------------------
class NativeEvent(BaseModel):
    """Fields every native event carries. Subclasses set the ClassVars and the three ``canonical_*`` hooks."""

    # Errors name the field and the reason but never echo the value (it may be personal data).
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
    SCHEMA: ClassVar[str]
    CE_TYPE: ClassVar[str]
    SOURCE_SYSTEM: ClassVar[str]
    STATUS_VOCABULARY: ClassVar[str]  # whose native statuses (hub.core.lifecycle.NATIVE_STATUS key)

    event_id: Identifier = Field(max_length=limits.ID_MAX)
    request_id: Identifier = Field(max_length=limits.ID_MAX)
    parent_request_id: Identifier | None = Field(None, max_length=limits.ID_MAX)
    native_status: str = Field(min_length=1, max_length=limits.NATIVE_STATUS_MAX,
                               json_schema_extra={"kind": "native_status"})
    occurred_at: UtcMillis
    note: Note | None = Field(None, max_length=limits.NOTE_MAX)

    @field_validator("native_status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        try:
            lifecycle.to_canonical(cls.STATUS_VOCABULARY, value)
        except lifecycle.LifecycleError:
            raise ValidationError("native_status", f"{value!r} is not a status of {cls.STATUS_VOCABULARY}"
                                  ) from None
        return value

    # Hooks for the translation (every native event model implements them) ----------------------
    @abstractmethod
    def canonical_service(self) -> str:
        """The catalogue service code this native event asks for."""

    def canonical_region(self) -> str:
        return self.region_code  # type: ignore[attr-defined]

    @abstractmethod
    def canonical_citizen(self) -> Citizen | None:
        """The applicant as the canonical Citizen block (only the adult applicant, no specific data)."""


def to_lifecycle(event: NativeEvent) -> RequestLifecycleEvent:
    """The canonical lifecycle event for a native event (pure; the event was validated by its model)."""
    service = catalogue.service(event.canonical_service())
    return RequestLifecycleEvent(
        event_id=event.event_id,
        request_id=event.request_id,
        parent_request_id=event.parent_request_id,
        status=lifecycle.to_canonical(event.STATUS_VOCABULARY, event.native_status),
        native_status=event.native_status,
        occurred_at=event.occurred_at,
        source_system=event.SOURCE_SYSTEM,
        service_code=service.code,
        region_code=event.canonical_region(),
        agency=service.agency,
        citizen=event.canonical_citizen(),
        note=event.note,
    )


def refuse(field: str, reason: str) -> None:
    raise ValidationError(field, reason)


def on_or_before(day: date, moment: datetime, field: str) -> None:
    if day > moment.date():
        refuse(field, f"{day.isoformat()} is after occurred_at ({moment.date().isoformat()})")
