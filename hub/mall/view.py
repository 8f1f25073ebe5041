"""The mall's view of citizen requests, pure: feed, SLA and audit records folded into rows.

Inputs are decoded records with their Kafka position: :class:`FeedItem` (``mpp.feed.v1``, an accepted and
enriched lifecycle event, no personal data), :class:`SlaItem` (``hub.sla.v1``) and :class:`AuditItem`
(``hub.audit.v1``). A request's row is :func:`build_row` of the *set* of its feed steps and SLA events:

* duplicates collapse: a step is identified by its CloudEvents ``(ce_source, ce_id)`` (the worker re-sends
  its outputs with the same ids after a crash, ``hub.streams.engine``), an SLA event by its ``event_id``
  (``<request>/<stage>/<kind>``), a disclosure by ``(audit_id, delivery index)``;
* order does not matter: the history is sorted by ``(occurred_at, event_id)`` and the current status is the
  last one, exactly the worker's rule (``hub.core.lifecycle.apply``); the deadlines and the citizen check
  come from the step the worker wrote *last* (greatest partition offset: one request lives on one partition),
  because the worker recomputes them from its whole history each time, so its latest word is its best.

So any interleaving of the same records, with any duplicates, gives the same rows as an in-order replay
(a property test drives simulated traffic through the real engine and shuffles it). A journey's row
(``kind = "journey"``) is :func:`journey_row` of its children's rows, with ``hub.core.journeys``' rules.

Nothing here holds a NIK, a name or a phone number: the feed carries none, ``citizen_check`` is the hub's
keyed hash of the request id and the NIK's last four digits, ``citizen_ref`` a keyed hash of the NIK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hub.core import catalogue, journeys, notices, regions, sla
from hub.core.lifecycle import TERMINAL, RequestState, Status, Transition
from hub.core.models import RequestLifecycleEvent
from hub.core.records import AuditEntry, SlaEvent, SlaKind, SlaStage
from hub.streams import timing

__all__ = ["Actor", "AuditItem", "FeedItem", "Info", "RequestRow", "SlaItem", "SlaMark",
           "SlaState", "Step", "build_row", "citizen_text", "info_of", "journey_row",
           "next_actor", "status_label"]

DAY_SECONDS = 86400.0
JOURNEY_AGENCY = "hub"
JOURNEY_AGENCY_NAME = "Lintas instansi (layanan terpadu)"

#: How a status reads to a person, in Bahasa Indonesia and English (the dashboard has the same table).
STATUS_LABELS: Mapping[Status, tuple[str, str]] = {
    Status.SUBMITTED: ("diajukan", "submitted"), Status.RECEIVED: ("diterima", "received"),
    Status.VERIFIED: ("diverifikasi", "verified"), Status.RETURNED: ("dikembalikan", "returned"),
    Status.REJECTED: ("ditolak", "rejected"), Status.IN_PROCESS: ("diproses", "in process"),
    Status.WAITING_EXTERNAL: ("menunggu pihak lain", "waiting on a third party"),
    Status.APPROVED: ("disetujui", "approved"), Status.READY: ("siap diambil", "ready for collection"),
    Status.COMPLETED: ("selesai", "completed"), Status.CANCELLED: ("dibatalkan", "cancelled"),
    Status.EXPIRED: ("kedaluwarsa", "expired"),
}


def status_label(status: Status, language: str = "id") -> str:
    pair = STATUS_LABELS[status]
    return pair[1] if language == "en" else pair[0]


class Actor(StrEnum):
    """Who must act next."""

    CITIZEN = "citizen"  # fix a returned file, or collect a finished document
    AGENCY = "agency"
    NONE = "none"  # finished


class SlaState(StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"  # the hub's SLA timer warned (80 % of the working time used)
    BREACHED = "breached"  # the deadline passed (timer, or finished late)


# ------------------------------------------------------------------ inputs ----------------------------
@dataclass(frozen=True, slots=True)
class FeedItem:
    """One record of the mall feed: an accepted lifecycle event (no citizen block) and where it was read."""

    partition: int
    offset: int
    source: str  # ce_source
    ce_id: str
    event: RequestLifecycleEvent

    @property
    def key(self) -> str:
        """What makes the event unique (CloudEvents source + id)."""
        return f"{self.source}|{self.ce_id}"


@dataclass(frozen=True, slots=True)
class SlaItem:
    partition: int
    offset: int
    event: SlaEvent


@dataclass(frozen=True, slots=True)
class AuditItem:
    partition: int
    offset: int
    entry: AuditEntry


Item = FeedItem | SlaItem | AuditItem


# ------------------------------------------------------------------ stored pieces ---------------------
@dataclass(frozen=True, slots=True)
class Step:
    """One feed event as the view keeps it. ``seq`` is the view's own arrival number (for the live stream);
    it is not part of the request's story, so equality ignores it."""

    key: str
    event_id: str
    status: Status
    native_status: str | None
    occurred_at: datetime
    agency: str
    source_system: str
    note: str | None
    partition: int
    offset: int
    due_at: datetime | None = None
    warn_at: datetime | None = None
    check: str | None = None
    seq: int = field(default=0, compare=False)

    @classmethod
    def of(cls, item: FeedItem, seq: int = 0) -> Step:
        e = item.event
        en = e.enrichment
        return cls(item.key, e.event_id, e.status, e.native_status, e.occurred_at, e.agency, e.source_system,
                   e.note, item.partition, item.offset, en.due_at if en else None, en.warn_at if en else None,
                   en.citizen_check if en else None, seq)

    @property
    def order(self) -> tuple[datetime, str]:
        """The worker's order of a request's events: event time, ties broken by event id."""
        return (self.occurred_at, self.event_id)

    @property
    def position(self) -> tuple[int, int]:
        return (self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class SlaMark:
    """An SLA warning or breach of a request or journey (the fields the view uses)."""

    event_id: str
    request_id: str
    stage: SlaStage
    kind: SlaKind
    due_at: datetime
    warn_at: datetime
    detected_at: datetime
    paused_working_days: int

    @classmethod
    def of(cls, e: SlaEvent) -> SlaMark:
        return cls(e.event_id, e.request_id, e.stage, e.kind, e.due_at, e.warn_at, e.detected_at,
                   e.paused_working_days)


@dataclass(frozen=True, slots=True)
class Info:
    """What never changes in a request: identity, service terms, agency, place (the same on each event)."""

    request_id: str
    parent_request_id: str | None
    service_code: str
    service_name: str
    sla_working_days: int
    sla_kind: str
    fee_idr: int
    agency: str
    agency_name: str
    region_code: str
    village_name: str
    kecamatan_code: str
    kecamatan_name: str


def info_of(event: RequestLifecycleEvent) -> Info:
    """The constant part of a request, from any of its feed events (the catalogue and region tables fill
    in what an event without enrichment lacks)."""
    en = event.enrichment
    if en is not None:
        return Info(event.request_id, event.parent_request_id, event.service_code, en.service_name,
                    en.sla_working_days, _sla_kind(event.service_code), en.fee_idr, event.agency,
                    en.agency_name, event.region_code, en.village_name, en.kecamatan_code, en.kecamatan_name)
    try:
        place = regions.region(event.region_code)
        village, kec_code, kec_name = place.name, place.kecamatan_code or "", place.kecamatan_name or ""
    except Exception:  # an unknown code still gets a row (the worker admitted it)
        village, kec_code, kec_name = event.region_code, event.region_code.rsplit(".", 1)[0], ""
    try:
        service = catalogue.service(event.service_code)
        name, agency_name, days, fee, kind = (service.name_id, service.agency_name, service.sla_working_days,
                                              service.fee_idr, service.sla_kind)
    except Exception:
        name, agency_name, days, fee, kind = event.service_code, event.agency, 0, 0, "none"
    return Info(event.request_id, event.parent_request_id, event.service_code, name, days, kind, fee,
                event.agency,
                agency_name, event.region_code, village, kec_code, kec_name)


def _sla_kind(code: str) -> str:
    try:
        return catalogue.service(code).sla_kind
    except Exception:
        return "working_days"


# ------------------------------------------------------------------ rows ------------------------------
def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class RequestRow(Info):
    """Where one request (or journey) stands: its constant part (:class:`Info`) and its state.
    ``citizen_check`` is for the citizen page only and never leaves the service."""

    kind: str  # "request" | "journey"
    children: tuple[str, ...]
    status: Status
    native_status: str | None
    submitted_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    planned_end: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    paused_working_days: int
    paused_since: datetime | None
    next_actor: Actor
    sla: SlaState
    sla_detected_at: datetime | None
    lead_working_days: float | None
    lead_ratio: float | None
    last_event_id: str
    events: int
    citizen_check: str | None = None

    @property
    def open(self) -> bool:
        """Not in a terminal status (READY is open: the document waits for the citizen)."""
        return self.status not in TERMINAL

    @property
    def active(self) -> bool:
        """The agency's clock still runs (or is paused): not READY, not terminal."""
        return self.status not in timing.DONE

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (datetimes as ISO strings)."""
        out = asdict(self)
        for name, value in out.items():
            if isinstance(value, datetime):
                out[name] = value.isoformat()
        out["children"] = list(self.children)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestRow:
        values = dict(data)
        for f in fields(cls):
            if f.name in ("submitted_at", "updated_at", "finished_at", "planned_end", "due_at", "warn_at",
                          "paused_since", "sla_detected_at"):
                values[f.name] = _dt(values.get(f.name))
        values["status"] = Status(values["status"])
        values["next_actor"] = Actor(values["next_actor"])
        values["sla"] = SlaState(values["sla"])
        values["children"] = tuple(values.get("children") or ())
        return cls(**values)


def next_actor(status: Status) -> Actor:
    if status in TERMINAL:
        return Actor.NONE
    if status in (Status.RETURNED, Status.READY):
        return Actor.CITIZEN
    return Actor.AGENCY


def _sla_state(marks: Iterable[SlaMark]) -> tuple[SlaState, SlaMark | None]:
    marks = list(marks)
    for kind, state in ((SlaKind.BREACH, SlaState.BREACHED), (SlaKind.WARNING, SlaState.AT_RISK)):
        found = [m for m in marks if m.kind is kind]
        if found:
            return state, min(found, key=lambda m: (m.detected_at, m.event_id))
    return SlaState.OK, None


def _lead(clock: sla.SlaClock | None, finished_at: datetime | None) -> tuple[float | None, float | None]:
    """Working days the agency used (pauses excluded) and their share of the service standard's budget."""
    if clock is None or finished_at is None:
        return None, None
    used = sla.working_time(sla.clock_start(clock), finished_at).total_seconds()
    used = max(used - clock.paused_working_days * DAY_SECONDS, 0.0)
    budget = sla.budget(clock).total_seconds()
    return round(used / DAY_SECONDS, 4), (round(used / budget, 4) if budget > 0 else None)


def build_row(info: Info, steps: Iterable[Step], marks: Iterable[SlaMark] = ()) -> RequestRow:
    """A request's row from the set of its steps (duplicates by key collapse) and SLA marks."""
    unique = {s.key: s for s in steps}
    history = sorted(unique.values(), key=lambda s: s.order)
    if not history:
        raise ValueError(f"request {info.request_id} has no steps")
    first, last = history[0], history[-1]
    written_last = max(history, key=lambda s: s.position)
    check = next((s.check for s in sorted(history, key=lambda s: s.position, reverse=True) if s.check), None)
    clock = None
    if info.sla_kind == "working_days":
        state = RequestState(info.request_id, last.status, last.occurred_at,
                             tuple(Transition(s.event_id, s.status, s.occurred_at,
                                              s.native_status) for s in history))
        clock = timing.clock_for(state, info.sla_working_days, None)
    finished = next((s.occurred_at for s in history if s.status in timing.LATE_COUNTS), None)
    lead_days, ratio = _lead(clock, finished)
    own = [m for m in marks if m.stage is SlaStage.REQUEST and m.request_id == info.request_id]
    state_, mark = _sla_state(own)
    return RequestRow(
        request_id=info.request_id, kind="request", parent_request_id=info.parent_request_id, children=(),
        service_code=info.service_code, service_name=info.service_name, agency=info.agency,
        agency_name=info.agency_name, region_code=info.region_code, village_name=info.village_name,
        kecamatan_code=info.kecamatan_code, kecamatan_name=info.kecamatan_name,
        sla_working_days=info.sla_working_days, sla_kind=info.sla_kind, fee_idr=info.fee_idr,
        status=last.status, native_status=last.native_status, submitted_at=first.occurred_at,
        updated_at=last.occurred_at, finished_at=finished,
        planned_end=sla.deadline(first.occurred_at, info.sla_working_days) if clock else None,
        due_at=written_last.due_at, warn_at=written_last.warn_at,
        paused_working_days=clock.paused_working_days if clock else 0,
        paused_since=clock.paused_since if clock else None,
        next_actor=next_actor(last.status), sla=state_, sla_detected_at=mark.detected_at if mark else None,
        lead_working_days=lead_days, lead_ratio=ratio, last_event_id=last.event_id, events=len(history),
        citizen_check=check)


def journey_row(parent_id: str, children: Iterable[RequestRow],
                marks: Iterable[SlaMark] = ()) -> RequestRow | None:
    """A journey's row from its children's rows (None while no journey definition covers them)."""
    kids = sorted((c for c in children if c.kind == "request"), key=lambda c: (c.submitted_at, c.request_id))
    if not kids:
        return None
    j = journeys.identify(c.service_code for c in kids)
    if j is None:
        return None
    views = [journeys.ChildView(c.request_id, c.service_code, c.status, c.submitted_at, c.updated_at,
                                c.last_event_id) for c in kids]
    status = journeys.derive_status(j, views)
    started = kids[0].submitted_at
    clock = sla.SlaClock(started, journeys.sla_working_days(j, views))
    own = [m for m in marks if m.stage is SlaStage.JOURNEY and m.request_id == parent_id]
    state_, mark = _sla_state(own)
    told = max(own, key=lambda m: (m.kind is SlaKind.BREACH, m.detected_at, m.event_id)) if own else None
    latest = max(kids, key=lambda c: (c.updated_at, c.request_id))
    done = status in timing.DONE
    finished = max((c.finished_at or c.updated_at for c in kids), default=None) if done else None
    lead_days, ratio = _lead(clock, finished if status in timing.LATE_COUNTS else None)
    head = kids[0]
    return RequestRow(
        request_id=parent_id, kind="journey", parent_request_id=None,
        children=tuple(c.request_id for c in kids),
        service_code=j.code, service_name=j.name_id, agency=JOURNEY_AGENCY, agency_name=JOURNEY_AGENCY_NAME,
        region_code=head.region_code, village_name=head.village_name, kecamatan_code=head.kecamatan_code,
        kecamatan_name=head.kecamatan_name, sla_working_days=clock.sla_working_days, sla_kind="working_days",
        fee_idr=sum(c.fee_idr for c in kids),
        status=status, native_status=None, submitted_at=started, updated_at=latest.updated_at,
        finished_at=finished, planned_end=sla.deadline(started, clock.sla_working_days),
        due_at=told.due_at if told else sla.due_at(clock),
        warn_at=told.warn_at if told else sla.warn_at(clock),
        paused_working_days=told.paused_working_days if told else 0, paused_since=None,
        next_actor=next_actor(status), sla=state_, sla_detected_at=mark.detected_at if mark else None,
        lead_working_days=lead_days, lead_ratio=ratio, last_event_id=latest.last_event_id,
        events=sum(c.events for c in kids))


# ------------------------------------------------------------------ texts -----------------------------
def citizen_text(row: RequestRow, step: Step, index: int) -> str:
    """What the step means to the citizen, in Bahasa Indonesia (the hub's notice text where there is one)."""
    try:
        service = catalogue.service(row.service_code)
    except Exception:
        service = None
    if service is not None:
        text = notices.text_for(step.status, service, row.request_id, row.village_name, first=index == 0,
                                note=step.note)
        if text:
            return text
        name = notices.short_name(service)
    else:
        name = row.service_name
    return f"Permohonan {name} Anda ({row.request_id}) {status_label(step.status)}."


def today_start(now: datetime) -> datetime:
    """00:00 WIB of ``now``'s day (Banyuwangi's working day)."""
    d = sla.local_date(now)
    return datetime(d.year, d.month, d.day, tzinfo=sla.WIB)


def window_start(now: datetime, days: int) -> datetime:
    return today_start(now) - timedelta(days=days)


def info_from_row(row: RequestRow) -> Info:
    """A request's constant part back from its row (a row is only built once a step exists)."""
    return Info(**{f.name: getattr(row, f.name) for f in fields(Info)})


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """A new step as the live stream tells it: ``id`` is the feed position ``partition:offset``."""

    seq: int
    partition: int
    offset: int
    request_id: str
    parent_request_id: str | None
    event_id: str
    status: Status
    native_status: str | None
    occurred_at: datetime
    agency: str
    service_code: str
    service_name: str
    kecamatan_code: str
    village_name: str

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @classmethod
    def of(cls, info: Info, step: Step) -> StreamEvent:
        return cls(step.seq, step.partition, step.offset, info.request_id, info.parent_request_id,
                   step.event_id,
                   step.status, step.native_status, step.occurred_at, step.agency, info.service_code,
                   info.service_name, info.kecamatan_code, info.village_name)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "request_id": self.request_id, "parent_request_id": self.parent_request_id,
                "event_id": self.event_id, "status": self.status.value, "native_status": self.native_status,
                "occurred_at": self.occurred_at.isoformat(), "agency": self.agency,
                "service_code": self.service_code, "service_name": self.service_name,
                "kecamatan_code": self.kecamatan_code, "village_name": self.village_name}


def replay(items: Iterable[Item]) -> dict[str, RequestRow]:
    """Every row (requests and journeys) from a set of records, in memory: the reference the stores and the
    property tests are held to."""
    infos: dict[str, Info] = {}
    steps: dict[str, dict[str, Step]] = {}
    marks: dict[str, SlaMark] = {}
    for item in items:
        if isinstance(item, FeedItem):
            rid = item.event.request_id
            infos.setdefault(rid, info_of(item.event))
            steps.setdefault(rid, {}).setdefault(item.key, Step.of(item))
        elif isinstance(item, SlaItem):
            marks.setdefault(item.event.event_id, SlaMark.of(item.event))
    rows = {rid: build_row(infos[rid], held.values(), marks.values()) for rid, held in steps.items()}
    parents: dict[str, list[RequestRow]] = {}
    for row in rows.values():
        if row.parent_request_id:
            parents.setdefault(row.parent_request_id, []).append(row)
    for parent, children in parents.items():
        journey = journey_row(parent, children, marks.values())
        if journey is not None:
            rows[parent] = journey
    return rows
