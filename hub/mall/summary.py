"""What a mall manager reads at a glance, pure: counts, the oldest open request, lead time against the
service standard, and the same counts by agency, service and kecamatan.

Definitions (journey rows are not counted: their children are):

* ``open``: not in a terminal status (READY counts: the document waits for the citizen);
* ``new_today``: submitted since 00:00 WIB; ``finished_today``: the agency finished (READY, COMPLETED or
  REJECTED first reached) since 00:00 WIB: today's throughput;
* ``in_process``: open and the agency acts next; ``waiting_on_citizen``: RETURNED (fix the file) or READY
  (collect the document);
* ``at_risk`` / ``breached``: the agency's clock still runs (not READY, not terminal) and the hub's SLA timer
  warned / the deadline passed;
* ``oldest_open``: the open request waiting on the agency that was submitted first;
* lead time: of the requests finished in the last ``window_days`` days, the working days the agency used
  (pauses excluded) and their share of the standard's budget, median and 90th percentile.

:func:`summarise` computes all of it from rows; the SQL stores compute the same with queries, and a test
holds the two equal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.mall.view import Actor, RequestRow, SlaState, today_start, window_start

__all__ = ["Breakdown", "Counts", "Lead", "Summary", "lead_of", "percentile", "summarise"]


@dataclass(frozen=True, slots=True)
class Counts:
    open: int = 0
    new_today: int = 0
    finished_today: int = 0
    in_process: int = 0
    waiting_on_citizen: int = 0
    at_risk: int = 0
    breached: int = 0


@dataclass(frozen=True, slots=True)
class Lead:
    finished: int = 0
    median_days: float | None = None
    p90_days: float | None = None
    median_ratio: float | None = None
    p90_ratio: float | None = None
    within_standard: float | None = None  # share finished within the standard (ratio <= 1)


@dataclass(frozen=True, slots=True)
class Breakdown:
    key: str
    name: str
    open: int
    at_risk: int
    breached: int


@dataclass(frozen=True, slots=True)
class Summary:
    agency: str | None  # None: the whole mall
    as_of: datetime
    counts: Counts
    oldest_open: tuple[str, datetime] | None
    lead: Lead
    by_agency: list[Breakdown] = field(default_factory=list)
    by_service: list[Breakdown] = field(default_factory=list)
    by_kecamatan: list[Breakdown] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile ``q`` (0-100) of sorted ``values``."""
    if not values:
        return None
    k = (len(values) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 4)


def lead_of(pairs: Iterable[tuple[float | None, float | None]]) -> Lead:
    """Lead figures from (working days used, share of the budget) of finished requests."""
    pairs = [(d, r) for d, r in pairs if d is not None]
    days = sorted(d for d, _ in pairs if d is not None)
    ratios = sorted(r for _, r in pairs if r is not None)
    within = sum(1 for r in ratios if r <= 1.0)
    return Lead(len(days), percentile(days, 50), percentile(days, 90), percentile(ratios, 50),
                percentile(ratios, 90), round(within / len(ratios), 4) if ratios else None)


def _breakdown(rows: list[RequestRow], key: str, name: str) -> list[Breakdown]:
    groups: dict[str, list[RequestRow]] = {}
    names: dict[str, str] = {}
    for r in rows:
        k = getattr(r, key)
        groups.setdefault(k, []).append(r)
        names.setdefault(k, getattr(r, name))
    out = [Breakdown(k, names[k], sum(r.open for r in g),
                     sum(r.active and r.sla is SlaState.AT_RISK for r in g),
                     sum(r.active and r.sla is SlaState.BREACHED for r in g)) for k, g in groups.items()]
    out = [b for b in out if b.open or b.at_risk or b.breached]
    return sorted(out, key=lambda b: (-b.breached, -b.at_risk, -b.open, b.key))


def summarise(rows: Iterable[RequestRow], now: datetime, *, agency: str | None = None,
              window_days: int = 30, breakdowns: bool = True) -> Summary:
    """The summary of these rows (all of them, or one agency's) as of ``now``."""
    mine = [r for r in rows if r.kind == "request" and (agency is None or r.agency == agency)]
    today = today_start(now)
    since = window_start(now, window_days)
    counts = Counts(
        open=sum(r.open for r in mine),
        new_today=sum(r.submitted_at >= today for r in mine),
        finished_today=sum(r.finished_at is not None and r.finished_at >= today for r in mine),
        in_process=sum(r.open and r.next_actor is Actor.AGENCY for r in mine),
        waiting_on_citizen=sum(r.next_actor is Actor.CITIZEN for r in mine),
        at_risk=sum(r.active and r.sla is SlaState.AT_RISK for r in mine),
        breached=sum(r.active and r.sla is SlaState.BREACHED for r in mine),
    )
    waiting = [r for r in mine if r.open and r.next_actor is Actor.AGENCY]
    oldest = min(waiting, key=lambda r: (r.submitted_at, r.request_id), default=None)
    lead = lead_of((r.lead_working_days, r.lead_ratio) for r in mine
                   if r.finished_at is not None and r.finished_at >= since)
    result = Summary(agency, now, counts, (oldest.request_id, oldest.submitted_at) if oldest else None, lead)
    if breakdowns:
        result.by_agency.extend(_breakdown(mine, "agency", "agency_name"))
        result.by_service.extend(_breakdown(mine, "service_code", "service_name"))
        result.by_kecamatan.extend(_breakdown(mine, "kecamatan_code", "kecamatan_name"))
    return result

