"""Which events an endpoint wants: event types, service codes, statuses, villages or kecamatan (pure).

An endpoint belongs to one agency and only ever sees that agency's topic; its filters narrow it further.
Each dimension is a tuple of values; ``("*",)`` (the default) selects everything, and an event is
selected when every dimension selects it:

* ``event_types``: CloudEvents types, full (``id.go.banyuwangikab.hub.request.lifecycle``) or without
  the hub's prefix (``request.lifecycle``); a trailing ``*`` matches a prefix (``request.*``).
* ``service_codes``: catalogue codes of the agency (``PLN_PASANG_BARU``); a trailing ``*`` matches a
  prefix (``PLN_*``).
* ``statuses``: canonical statuses (``SUBMITTED``, ``COMPLETED``...).
* ``regions``: Kemendagri codes: a village (``35.10.21.2003``) selects itself, a kecamatan
  (``35.10.21``) its villages, the regency (``35.10``) everything.

Invariants: :func:`matches` is total (never raises) and decides on the values alone; :func:`check`
refuses, naming the field, what could never match (unknown codes, another agency's services).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.core import catalogue, regions
from hub.core.errors import ValidationError
from hub.core.lifecycle import Status
from hub.wire.cloudevents import TYPE_PREFIX

ANY = "*"
DIMENSIONS = ("event_types", "service_codes", "statuses", "regions")
MAX_VALUES = 200


@dataclass(frozen=True, slots=True)
class Subject:
    """What filters look at in one event."""

    event_type: str
    service_code: str
    status: str
    region_code: str


@dataclass(frozen=True, slots=True)
class Filters:
    event_types: tuple[str, ...] = (ANY,)
    service_codes: tuple[str, ...] = (ANY,)
    statuses: tuple[str, ...] = (ANY,)
    regions: tuple[str, ...] = (ANY,)

    def to_dict(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in DIMENSIONS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Filters:
        data = data or {}
        return cls(**{name: normalise(name, data.get(name)) for name in DIMENSIONS})


def normalise(dimension: str, values: Iterable[str] | None) -> tuple[str, ...]:
    """Sorted, without repeats; empty or containing ``*`` = ``("*",)``; statuses upper-case."""
    found = {str(v).strip() for v in values or () if str(v).strip()}
    if dimension == "statuses":
        found = {v.upper() for v in found}
    if not found or ANY in found:
        return (ANY,)
    return tuple(sorted(found))


def _pattern(value: str, candidate: str) -> bool:
    return candidate.startswith(value[:-1]) if value.endswith(ANY) else candidate == value


def _type_selected(values: tuple[str, ...], event_type: str) -> bool:
    short = event_type[len(TYPE_PREFIX):] if event_type.startswith(TYPE_PREFIX) else event_type
    return any(_pattern(v, event_type) or _pattern(v, short) for v in values)


def _region_selected(values: tuple[str, ...], code: str) -> bool:
    return any(code == v or code.startswith(v + ".") for v in values)


def matches(filters: Filters, subject: Subject) -> bool:
    """True if the endpoint with these filters wants this event."""
    f = filters
    return ((f.event_types == (ANY,) or _type_selected(f.event_types, subject.event_type))
            and (f.service_codes == (ANY,) or any(_pattern(v, subject.service_code) for v in f.service_codes))
            and (f.statuses == (ANY,) or subject.status.upper() in f.statuses)
            and (f.regions == (ANY,) or _region_selected(f.regions, subject.region_code)))


def check(filters: Filters, agency: str) -> Filters:
    """``filters`` if every value could match an event of ``agency``; else ValidationError naming it."""
    for name in DIMENSIONS:
        if len(getattr(filters, name)) > MAX_VALUES:
            raise ValidationError(f"filters.{name}", f"at most {MAX_VALUES} values")
    own = {s.code for s in catalogue.services_of(agency)}
    for code in filters.service_codes:
        if code == ANY:
            continue
        if code.endswith(ANY):
            if not any(o.startswith(code[:-1]) for o in own):
                raise ValidationError("filters.service_codes", f"{code!r} matches no service of {agency}")
        elif code not in own:
            raise ValidationError("filters.service_codes", f"{code[:60]!r} is not a service of {agency}")
    statuses = {s.value for s in Status}
    for status in filters.statuses:
        if status != ANY and status not in statuses:
            raise ValidationError("filters.statuses", f"{status[:60]!r} is not a status "
                                                      f"({', '.join(sorted(statuses))})")
    for code in filters.regions:
        if code == ANY:
            continue
        try:
            level = regions.region(code).level
        except ValidationError:
            raise ValidationError("filters.regions",
                                  f"{code[:60]!r} is not a Banyuwangi region code") from None
        if level not in ("kabupaten", "kecamatan", "desa", "kelurahan"):
            raise ValidationError("filters.regions", f"{code} is a {level}")
    for event_type in filters.event_types:
        if event_type != ANY and len(event_type) > 200:
            raise ValidationError("filters.event_types", "a type has at most 200 characters")
    return filters
