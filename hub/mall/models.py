"""The mall API's request and response bodies (pydantic): the OpenAPI document is generated from these.

No model holds a NIK, a name or a phone number; the one body that carries a NIK in (``DisclosureQuery``, a
manager asking "who received this citizen's data") is hashed on arrival and never stored or echoed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.core.lifecycle import Status
from hub.mall.disclosures import CitizenScope, Disclosure, recipient_name
from hub.mall.summary import Breakdown, Summary
from hub.mall.view import Actor, RequestRow, SlaState, Step, citizen_text, status_label

REQUEST_ID = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class RequestOut(_Out):
    """Where one request (or journey) stands."""

    request_id: str
    kind: Literal["request", "journey"]
    parent_request_id: str | None
    children: list[str]
    service_code: str
    service_name: str
    agency: str
    agency_name: str
    region_code: str = Field(description="Kemendagri code of the village")
    village_name: str
    kecamatan_code: str
    kecamatan_name: str
    sla_working_days: int = Field(description="service standard in working days (0 = same day)")
    fee_idr: int
    status: Status
    status_label: str = Field(description="the status in Bahasa Indonesia")
    native_status: str | None = Field(description="the agency's own word for the status")
    submitted_at: datetime
    updated_at: datetime = Field(description="time of the latest status")
    finished_at: datetime | None = Field(description="when the agency finished (ready, completed, rejected)")
    planned_end: datetime | None = Field(description="end of the service standard counted from submission")
    due_at: datetime | None = Field(description="hard deadline: the standard plus the days paused")
    warn_at: datetime | None = Field(description="when 80 % of the working time is used")
    paused_working_days: int
    paused_since: datetime | None = Field(description="returned to the citizen since (clock paused)")
    next_actor: Actor
    sla: SlaState
    sla_detected_at: datetime | None
    lead_working_days: float | None = Field(description="working days the agency used (pauses excluded)")
    lead_ratio: float | None = Field(description="lead time as a share of the standard's budget")
    events: int

    @classmethod
    def of(cls, row: RequestRow) -> RequestOut:
        data = {name: getattr(row, name) for name in RequestOut.model_fields if hasattr(row, name)}
        data.update(children=list(row.children), status_label=status_label(row.status))
        return cls(**data)


class StepOut(_Out):
    event_id: str
    status: Status
    status_label: str
    native_status: str | None
    occurred_at: datetime
    agency: str
    source_system: str
    note: str | None
    citizen_text: str = Field(description="what this step means to the citizen, in Bahasa Indonesia")

    @classmethod
    def of(cls, row: RequestRow, step: Step, index: int) -> StepOut:
        return cls(event_id=step.event_id, status=step.status, status_label=status_label(step.status),
                   native_status=step.native_status, occurred_at=step.occurred_at, agency=step.agency,
                   source_system=step.source_system, note=step.note, citizen_text=citizen_text(row, step,
                                                                                               index))


class RequestDetail(RequestOut):
    history: list[StepOut] = Field(description="every status, oldest first (for a journey: its children's)")
    children_rows: list[RequestOut] = Field(description="a journey's child requests")


class PageOut(_Out):
    items: list[RequestOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class CountsOut(_Out):
    open: int
    new_today: int
    finished_today: int
    in_process: int
    waiting_on_citizen: int
    at_risk: int
    breached: int


class LeadOut(_Out):
    finished: int
    median_days: float | None
    p90_days: float | None
    median_ratio: float | None
    p90_ratio: float | None
    within_standard: float | None


class OldestOut(_Out):
    request_id: str
    submitted_at: datetime


class BreakdownOut(_Out):
    key: str
    name: str
    open: int
    at_risk: int
    breached: int

    @classmethod
    def of(cls, b: Breakdown) -> BreakdownOut:
        return cls(key=b.key, name=b.name, open=b.open, at_risk=b.at_risk, breached=b.breached)


class SummaryOut(_Out):
    agency: str | None = Field(description="the agency summarised; null: the whole mall")
    as_of: datetime
    counts: CountsOut
    oldest_open: OldestOut | None
    lead: LeadOut = Field(description="requests finished in the lead window (HUB_MALL_LEAD_WINDOW_DAYS)")
    by_agency: list[BreakdownOut]
    by_service: list[BreakdownOut]
    by_kecamatan: list[BreakdownOut]

    @classmethod
    def of(cls, s: Summary) -> SummaryOut:
        c, lead = s.counts, s.lead
        return cls(agency=s.agency, as_of=s.as_of, counts=CountsOut(
            open=c.open, new_today=c.new_today, finished_today=c.finished_today, in_process=c.in_process,
            waiting_on_citizen=c.waiting_on_citizen, at_risk=c.at_risk, breached=c.breached),
            oldest_open=OldestOut(request_id=s.oldest_open[0], submitted_at=s.oldest_open[1])
            if s.oldest_open else None,
            lead=LeadOut(finished=lead.finished, median_days=lead.median_days, p90_days=lead.p90_days,
                         median_ratio=lead.median_ratio, p90_ratio=lead.p90_ratio,
                         within_standard=lead.within_standard),
            by_agency=[BreakdownOut.of(b) for b in s.by_agency],
            by_service=[BreakdownOut.of(b) for b in s.by_service],
            by_kecamatan=[BreakdownOut.of(b) for b in s.by_kecamatan])


class SessionIn(BaseModel):
    token: str = Field(min_length=8, max_length=200, description="the staff member's bearer token")


class MeOut(_Out):
    name: str
    role: Literal["counter", "liaison", "manager"]
    agency: str | None


class CitizenQuery(BaseModel):
    request_id: str = REQUEST_ID
    nik_last4: str = Field(pattern=r"^[0-9]{4}$", description="the last 4 digits of the applicant's NIK")


class DisclosureOut(_Out):
    recorded_at: datetime
    recipient: str
    recipient_name: str
    fields: list[str]
    purpose: str
    channel: str
    request_id: str
    service_code: str

    @classmethod
    def of(cls, d: Disclosure) -> DisclosureOut:
        return cls(recorded_at=d.recorded_at, recipient=d.recipient,
                   recipient_name=recipient_name(d.recipient),
                   fields=list(d.fields), purpose=d.purpose, channel=d.channel, request_id=d.request_id,
                   service_code=d.service_code)


class CitizenStep(_Out):
    status: Status
    status_label: str
    occurred_at: datetime
    text: str


class CitizenOut(_Out):
    """What the citizen page shows: the request's status and who received the applicant's data for it."""

    request_id: str
    service_name: str
    agency_name: str
    status: Status
    status_label: str
    updated_at: datetime
    next_actor: Actor
    due_at: datetime | None
    history: list[CitizenStep]
    disclosures: list[DisclosureOut]


class DisclosureQuery(BaseModel):
    nik: str = Field(pattern=r"^[0-9]{16}$", description="the citizen's NIK: hashed at once, never stored")


class DisclosuresOut(_Out):
    deliveries: int
    requests: int
    items: list[DisclosureOut]


class ScopeOut(_Out):
    citizen_ref: str | None = Field(description="keyed hash of the citizen's NIK (the hub's citizen_ref)")
    fields: list[str]
    deliveries: int
    requests: list[str]
    first: datetime
    last: datetime

    @classmethod
    def of(cls, c: CitizenScope) -> ScopeOut:
        return cls(citizen_ref=c.citizen_ref, fields=list(c.fields), deliveries=c.deliveries,
                   requests=list(c.requests), first=c.first, last=c.last)


class BreachScopeOut(_Out):
    recipient: str
    start: datetime
    end: datetime
    citizens: int
    deliveries: int
    items: list[ScopeOut]
