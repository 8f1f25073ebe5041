"""Native events of the hub's sources (pydantic v2), mirrors of their schemas in ``schemas/``, and their
pure translation into the canonical :class:`~hub.core.models.RequestLifecycleEvent`.

A source speaks its own language: a village desk registers a request and issues cover letters (surat
pengantar); the civil registry (SIAK) handles KTP-el, Kartu Keluarga, KIA, birth and death certificates
and moving (pindah); PLN and PUDAM take new connections; BPJS Kesehatan registers members and moves them
between health facilities (faskes). Each model:

* validates its fields with :mod:`hub.core.validation`, so a bad event is refused naming the field
  (``pydantic.ValidationError`` whose location is the field and whose message is ``"<field>: <reason>"``);
* names its CloudEvents type (``CE_TYPE``), its Avro record (``SCHEMA``) and its source system;
* translates itself with :func:`to_lifecycle` (the native status through
  :func:`hub.core.lifecycle.to_canonical`). Only the applicant's identifiers reach the canonical event:
  children's data, health data and the other people named in a native event stay at the source.

Personal data is marked on the fields (``PII`` or ``SPECIFIC``: children's, health and criminal data
under UU 27/2022), as in the ``.avsc`` (``"pii": true`` / ``"pii": "specific"``); a test keeps them in step.

Modules: ``fields`` (markers and validated field types), ``envelope`` (the shared fields and
``to_lifecycle``), one per source family: ``desa``, ``dukcapil``, ``utilities`` (PLN, PUDAM), ``bpjs``.
"""

from __future__ import annotations

from typing import Any, Final

from hub.core.errors import ValidationError
from hub.core.native.bpjs import BpjsFaskesChange, BpjsRegistration
from hub.core.native.desa import CoverLetter, VillageDeskSubmission
from hub.core.native.dukcapil import (
    BirthRegistration,
    ChildIdCardApplication,
    DeathRegistration,
    FamilyCardApplication,
    FamilyCardReason,
    KtpElApplication,
    MovingDirection,
    MovingRegistration,
)
from hub.core.native.envelope import NativeEvent, to_lifecycle
from hub.core.native.fields import PII, SPECIFIC, Kind, Personal, personal_fields
from hub.core.native.utilities import (
    PLN_POWER_VA,
    PlnConnectionRequest,
    PlnRequestType,
    PudamConnectionRequest,
)

__all__ = [
    "NATIVE_EVENTS", "PII", "PLN_POWER_VA", "SPECIFIC", "Kind", "NativeEvent", "Personal", "parse_native",
    "personal_fields", "to_lifecycle",
    "VillageDeskSubmission", "CoverLetter", "KtpElApplication", "FamilyCardApplication",
    "ChildIdCardApplication", "BirthRegistration", "DeathRegistration", "MovingRegistration",
    "PlnConnectionRequest", "PudamConnectionRequest", "BpjsRegistration", "BpjsFaskesChange",
    "FamilyCardReason", "MovingDirection", "PlnRequestType",
]

def _concrete(cls: type[NativeEvent]) -> list[type[NativeEvent]]:
    out = []
    for sub in cls.__subclasses__():
        if "SCHEMA" in sub.__dict__:
            out.append(sub)
        out += _concrete(sub)
    return out


#: Every native event model, by its Avro full name (every NativeEvent subclass that names a SCHEMA).
NATIVE_EVENTS: Final[dict[str, type[NativeEvent]]] = {
    cls.SCHEMA: cls for cls in _concrete(NativeEvent)}  # type: ignore[type-abstract]  # concrete subclasses only


def parse_native(data: dict[str, Any], schema: str) -> NativeEvent:
    """Validate a native record of the named schema (raises ``pydantic.ValidationError`` naming the
    fields)."""
    try:
        model = NATIVE_EVENTS[schema]
    except KeyError:
        raise ValidationError("schema", f"{schema!r} is not a native event schema") from None
    return model.model_validate(data)
