"""Service catalogue of the MPP agencies and village desks, loaded lazily from ``hub/data/services.csv``.

``sla_working_days`` counts hari kerja (0 = same day); for ``sla_kind == "before_event"`` it is the
minimum lead time before the event (KUA: register >= 10 working days before the ceremony).
``fee_idr`` is the fixed service charge (PNBP, connection charge), not taxes or premiums; where the
charge depends on the case it is a representative figure: PLN for a 1,300 VA household
(900 -> 1,300 VA for tambah daya), BPN transfer for a parcel valued at Rp 300 million,
Samsat for a motorcycle.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Final

from hub.core.errors import ValidationError
from hub.errors import echo

__all__ = [
    "PERSONAL_DATA_FIELDS",
    "SLA_KINDS",
    "Service",
    "UnknownService",
    "agencies",
    "parse_services",
    "service",
    "services",
    "services_of",
]

#: Citizen fields a service may ask for (UU 27/2022: each service lists only what it needs).
PERSONAL_DATA_FIELDS: Final = frozenset(
    {"nik", "kk_number", "name", "birth_date", "address", "phone", "bpjs_number", "idpel"}
)
SLA_KINDS: Final = frozenset({"working_days", "before_event"})
_COLUMNS: Final = (
    "code",
    "agency",
    "agency_name",
    "name_id",
    "name_en",
    "sla_working_days",
    "sla_kind",
    "fee_idr",
    "documents",
    "personal_data",
)
_CODE_RE: Final = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_AGENCY_RE: Final = re.compile(r"[a-z][a-z0-9_]*")
_INT_RE: Final = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Service:
    """One catalogue entry."""

    code: str
    agency: str
    agency_name: str
    name_id: str
    name_en: str
    sla_working_days: int
    sla_kind: str
    fee_idr: int
    documents: tuple[str, ...]
    personal_data: frozenset[str]


class UnknownService(ValidationError):
    """A service code that is not in the catalogue."""

    def __init__(self, code: object, field: str = "service_code") -> None:
        super().__init__(field, f"unknown service code {echo(code)}")
        self.code = code
        self.args = (code, field)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _parse_row(row: Mapping[str, str | None]) -> Service:
    cells = {k: (row.get(k) or "").strip() for k in _COLUMNS}
    code = cells["code"]
    if not _CODE_RE.fullmatch(code):
        raise ValueError(f"service code {code!r} is not an uppercase snake code")
    if not _AGENCY_RE.fullmatch(cells["agency"]):
        raise ValueError(f"{code}: agency {cells['agency']!r} is not a lowercase code")
    for key in ("agency_name", "name_id", "name_en"):
        if not cells[key]:
            raise ValueError(f"{code}: {key} is empty")
    if not (_INT_RE.fullmatch(cells["sla_working_days"]) and _INT_RE.fullmatch(cells["fee_idr"])):
        raise ValueError(f"{code}: sla_working_days and fee_idr must be non-negative integers")
    if cells["sla_kind"] not in SLA_KINDS:
        raise ValueError(f"{code}: sla_kind {cells['sla_kind']!r} not in {sorted(SLA_KINDS)}")
    personal = frozenset(_split(cells["personal_data"]))
    if not personal <= PERSONAL_DATA_FIELDS:
        raise ValueError(f"{code}: unknown personal_data {sorted(personal - PERSONAL_DATA_FIELDS)}")
    return Service(
        code=code,
        agency=cells["agency"],
        agency_name=cells["agency_name"],
        name_id=cells["name_id"],
        name_en=cells["name_en"],
        sla_working_days=int(cells["sla_working_days"]),
        sla_kind=cells["sla_kind"],
        fee_idr=int(cells["fee_idr"]),
        documents=tuple(_split(cells["documents"])),
        personal_data=personal,
    )


def parse_services(text: str) -> tuple[Service, ...]:
    """Parse catalogue CSV text; raises ``ValueError`` on a malformed row or duplicate code."""
    reader = csv.DictReader(io.StringIO(text))
    missing = set(_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"services.csv lacks columns {sorted(missing)}")
    out: dict[str, Service] = {}
    for row in reader:
        svc = _parse_row(row)
        if svc.code in out:
            raise ValueError(f"duplicate service code {svc.code}")
        out[svc.code] = svc
    return tuple(out.values())


@dataclass(frozen=True, slots=True)
class _Catalogue:
    all: tuple[Service, ...]
    by_code: Mapping[str, Service]
    by_agency: Mapping[str, tuple[Service, ...]]


def _index(items: Iterable[Service]) -> _Catalogue:
    all_ = tuple(items)
    by_agency: dict[str, list[Service]] = {}
    for svc in all_:
        by_agency.setdefault(svc.agency, []).append(svc)
    return _Catalogue(
        all=all_,
        by_code=MappingProxyType({s.code: s for s in all_}),
        by_agency=MappingProxyType({a: tuple(v) for a, v in sorted(by_agency.items())}),
    )


@cache
def _catalogue() -> _Catalogue:
    text = files("hub").joinpath("data", "services.csv").read_text(encoding="utf-8")
    return _index(parse_services(text))


def service(code: str) -> Service:
    """The service with this code; raises :class:`UnknownService`."""
    found = _catalogue().by_code.get(code) if isinstance(code, str) else None
    if found is None:
        raise UnknownService(code)
    return found


def services() -> tuple[Service, ...]:
    """All services, in catalogue order."""
    return _catalogue().all


def agencies() -> tuple[str, ...]:
    """Sorted unique agency codes."""
    return tuple(_catalogue().by_agency)


def services_of(agency: str) -> tuple[Service, ...]:
    """The services of one agency (empty for an unknown agency)."""
    return _catalogue().by_agency.get(agency, ())
