"""SLA clocks of requests and journeys, and the worker's timer plan. Pure (no Faust, no Kafka).

* :func:`clock_for` rebuilds a request's clock from its lifecycle history (RETURNED spells pause it).
* :func:`plan` says which timers to arm or disarm after a change, and whether a breach must be
  recorded at once (the request finished after its deadline: a fact, whatever the timer saw).
* :func:`on_tick` decides what a due timer means now (fire, re-arm a moved deadline, ignore).
* :func:`sla_event` builds the record.

Timers live in a :class:`hub.core.sla.DeadlineIndex` keyed ``(id, "<STAGE>:<KIND>")``; the fired kinds
live in the table entry, so an SLA event is emitted at most once per request and stage even when a
timer fires twice (restart, rebalance, a stale index on another worker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

from hub.core import sla
from hub.core.lifecycle import TERMINAL, RequestState, Status
from hub.core.models import utc_millis
from hub.core.records import SlaEvent, SlaKind, SlaStage

KINDS = (SlaKind.WARNING, SlaKind.BREACH)
#: The agency's work is done: the clock stops (collecting a READY document is up to the citizen).
DONE: frozenset[Status] = TERMINAL | {Status.READY}
#: Finishing after the deadline in one of these is a breach by the agency (not CANCELLED/EXPIRED).
LATE_COUNTS: frozenset[Status] = frozenset({Status.READY, Status.COMPLETED, Status.REJECTED})
_MS = timedelta(milliseconds=1)


@cache  # one string object per kind: the timer index holds it for every open request
def timer_kind(stage: SlaStage, kind: SlaKind) -> str:
    return f"{stage.value}:{kind.value}"


_KINDS = {timer_kind(stage, kind): timer_kind(stage, kind) for stage in SlaStage for kind in SlaKind}


def intern_kind(value: str) -> str:
    """The one shared string object of a timer kind (the index holds one per open request and kind)."""
    return _KINDS.get(value, value)


def parse_timer_kind(value: str) -> tuple[SlaStage, SlaKind]:
    stage, _, kind = value.partition(":")
    return SlaStage(stage), SlaKind(kind)


def fire_at(clock: sla.SlaClock, kind: SlaKind) -> datetime:
    """When the timer of ``kind`` is due: at warn_at, or just after due_at (breached = past due)."""
    return sla.warn_at(clock) if kind is SlaKind.WARNING else sla.due_at(clock) + _MS


def clock_for(state: RequestState, sla_working_days: int, previous: sla.SlaClock | None) -> sla.SlaClock:
    """The clock of a request: started by its first event, paused while RETURNED.

    With the full history (nothing dropped) it is rebuilt from scratch, so an event arriving out of
    order lands in the right place; otherwise the previous clock is moved by the latest transition.
    """
    if state.dropped == 0 or previous is None:
        clock = sla.SlaClock(state.history[0].occurred_at, sla_working_days)
        transitions = state.history[1:]
    else:
        clock, transitions = previous, state.history[-1:]
    for t in transitions:
        if t.status is Status.RETURNED:
            clock = sla.pause(clock, max(t.occurred_at, clock.started_at))
        elif clock.paused_since is not None:
            clock = sla.resume(clock, max(t.occurred_at, clock.paused_since))
    return clock


@dataclass(frozen=True, slots=True)
class Plan:
    arm: tuple[tuple[SlaKind, datetime], ...] = ()
    disarm: tuple[SlaKind, ...] = ()
    breach_now: bool = False


def plan(clock: sla.SlaClock | None, status: Status, fired: frozenset[str], *,
         finished_at: datetime | None, was_done: bool) -> Plan:
    """Timers after a change. ``fired`` holds the kinds already emitted (or superseded)."""
    if clock is None:
        return Plan(disarm=KINDS)
    if status in DONE:
        late = (not was_done and status in LATE_COUNTS and finished_at is not None
                and finished_at > sla.due_at(clock) and SlaKind.BREACH.value not in fired)
        return Plan(disarm=KINDS, breach_now=late)
    if status is Status.RETURNED or clock.paused_since is not None:
        return Plan(disarm=KINDS)
    arm = tuple((k, fire_at(clock, k)) for k in KINDS if k.value not in fired)
    return Plan(arm=arm, disarm=tuple(k for k in KINDS if k.value in fired))


TickAction = Literal["fire", "rearm", "supersede", "ignore"]


@dataclass(frozen=True, slots=True)
class TickDecision:
    action: TickAction
    at: datetime | None = None  # for "rearm"


def on_tick(clock: sla.SlaClock | None, status: Status, fired: frozenset[str], kind: SlaKind,
            now: datetime) -> TickDecision:
    """What a due timer means for the current state (the index may be stale: it is only a hint)."""
    if clock is None or kind.value in fired or status in DONE or status is Status.RETURNED \
            or clock.paused_since is not None:
        return TickDecision("ignore")
    at = fire_at(clock, kind)
    if now < at:
        return TickDecision("rearm", at)  # the deadline moved (a pause pushed it)
    if kind is SlaKind.WARNING and now >= fire_at(clock, SlaKind.BREACH):
        return TickDecision("supersede")  # the breach is due too: a warning now would be noise
    return TickDecision("fire")


@dataclass(frozen=True, slots=True)
class Subject:
    """What an SLA event says about its request or journey."""

    request_id: str
    parent_request_id: str | None
    stage: SlaStage
    code: str
    agency: str
    region_code: str
    status: Status
    extra: dict[str, str] = field(default_factory=dict)


def sla_record(subject: Subject, clock: sla.SlaClock, kind: SlaKind, detected_at: datetime,
               detected_by: str) -> dict[str, Any]:
    """The SLA event as its Avro record (plain data: the hot path); :func:`sla_event` is its model."""
    return {
        "event_id": f"{subject.request_id}/{subject.stage.value}/{kind.value}",
        "request_id": subject.request_id, "parent_request_id": subject.parent_request_id,
        "stage": subject.stage.value, "kind": kind.value, "code": subject.code, "agency": subject.agency,
        "region_code": subject.region_code, "status": subject.status.value,
        "started_at": utc_millis(sla.clock_start(clock)), "due_at": utc_millis(sla.due_at(clock)),
        "warn_at": utc_millis(sla.warn_at(clock)),
        "sla_working_days": clock.sla_working_days, "paused_working_days": clock.paused_working_days,
        "detected_at": utc_millis(detected_at), "detected_by": detected_by,
    }


def sla_event(subject: Subject, clock: sla.SlaClock, kind: SlaKind, detected_at: datetime,
              detected_by: str) -> SlaEvent:
    return SlaEvent(**sla_record(subject, clock, kind, detected_at, detected_by))
