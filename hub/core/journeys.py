"""Cross-agency journeys: one citizen need served by several requests at several agencies. Pure.

A journey is a parent request; each agency request that serves it carries ``parent_request_id``.
The parent has no events of its own: its status and its end-to-end SLA derive from its children.

* Definitions: :data:`JOURNEYS` (steps, the services that can fill each step, and which steps must be
  finished first). A journey is identified from its children's service codes (:func:`identify`).
* Derivation (:func:`derive_status`): the latest child of each step speaks for the step; any step
  REJECTED / EXPIRED / CANCELLED makes the journey so; all steps COMPLETED makes it COMPLETED; any
  step RETURNED makes it RETURNED (the citizen must act: the end-to-end clock pauses); all steps READY
  or COMPLETED makes it READY; nothing beyond a first status yet keeps it SUBMITTED; else IN_PROCESS.
* End-to-end SLA (:func:`sla_working_days`): the longest chain of step SLAs through the ``after``
  dependencies (steps in parallel overlap, steps in sequence add up), from the first child's submission.
  A step not started yet counts with its first alternative service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from types import MappingProxyType
from typing import Any

from hub.core import catalogue, sla
from hub.core.lifecycle import FIRST_STATUSES, Status

__all__ = ["JOURNEYS", "ChildView", "Journey", "JourneyState", "Step", "apply_child",
           "derive_status", "identify", "sla_working_days", "step_of"]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    services: tuple[str, ...]  # any one of these fills the step (first = the default for SLA planning)
    after: tuple[str, ...] = ()  # steps that must be finished before this one starts


@dataclass(frozen=True, slots=True)
class Journey:
    code: str
    name_id: str  # for citizen notices: "Layanan <name_id> Anda ..."
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


_PLN_NEW = ("PLN_PASANG_BARU_TANPA_PERLUASAN", "PLN_PASANG_BARU_PERLUASAN_JARINGAN",
            "PLN_PASANG_BARU_GARDU_BARU")

JOURNEYS: tuple[Journey, ...] = (
    Journey("KELAHIRAN", "kelahiran anak", (
        Step("akta", ("DUKCAPIL_AKTA_KELAHIRAN",)),
        Step("kk", ("DUKCAPIL_KK",), after=("akta",)),
        Step("kia", ("DUKCAPIL_KIA",), after=("akta", "kk")),
        Step("bpjs", ("BPJS_KESEHATAN_BAYI_BARU_LAHIR",), after=("akta", "kk", "kia")),
    )),
    Journey("LISTRIK_BARU", "pasang baru listrik", (
        Step("nik", ("DUKCAPIL_VERIFIKASI_NIK",)),
        Step("pln", _PLN_NEW, after=("nik",)),
    )),
)


@cache
def _by_code() -> Mapping[str, Journey]:
    return MappingProxyType({j.code: j for j in JOURNEYS})


def journey(code: str) -> Journey:
    return _by_code()[code]


def step_of(j: Journey, service_code: str) -> Step | None:
    return next((s for s in j.steps if service_code in s.services), None)


def identify(service_codes: Iterable[str]) -> Journey | None:
    """The first journey (definition order) whose steps cover every one of these services."""
    codes = set(service_codes)
    for j in JOURNEYS:
        if codes and all(step_of(j, c) is not None for c in codes):
            return j
    return None


@dataclass(frozen=True, slots=True)
class ChildView:
    """What a journey remembers of one child request: its service, first and latest status."""

    request_id: str
    service_code: str
    status: Status
    started_at: datetime
    updated_at: datetime
    last_event_id: str

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.updated_at, self.last_event_id)


def _step_status(j: Journey, children: Iterable[ChildView]) -> dict[str, Status]:
    latest: dict[str, ChildView] = {}
    for child in children:
        step = step_of(j, child.service_code)
        if step is None:
            continue
        seen = latest.get(step.name)
        if seen is None or (child.started_at, child.request_id) > (seen.started_at, seen.request_id):
            latest[step.name] = child
    return {name: child.status for name, child in latest.items()}


def derive_status(j: Journey, children: Iterable[ChildView]) -> Status:
    """The journey's status from its children (see the module doc for the rules)."""
    steps = _step_status(j, children)
    statuses = set(steps.values())
    for failed in (Status.REJECTED, Status.EXPIRED, Status.CANCELLED):
        if failed in statuses:
            return failed
    if len(steps) == len(j.steps) and statuses == {Status.COMPLETED}:
        return Status.COMPLETED
    if Status.RETURNED in statuses:
        return Status.RETURNED
    if len(steps) == len(j.steps) and statuses <= {Status.READY, Status.COMPLETED}:
        return Status.READY
    if not statuses or statuses <= FIRST_STATUSES:
        return Status.RECEIVED if statuses == {Status.RECEIVED} else Status.SUBMITTED
    return Status.IN_PROCESS


def _service_days(code: str) -> int:
    return catalogue.service(code).sla_working_days


def sla_working_days(j: Journey, children: Iterable[ChildView] = ()) -> int:
    """End-to-end SLA: the longest dependency chain of step SLAs (chosen or default services)."""
    chosen: dict[str, str] = {}
    for child in sorted(children, key=lambda c: (c.started_at, c.request_id)):
        step = step_of(j, child.service_code)
        if step is not None:
            chosen[step.name] = child.service_code
    finish: dict[str, int] = {}
    for step in j.steps:  # definitions list a step after the steps it depends on
        start = max((finish[a] for a in step.after), default=0)
        finish[step.name] = start + _service_days(chosen.get(step.name, step.services[0]))
    return max(finish.values(), default=0)


# ------------------------------------------------------------------ state ---------------
@dataclass(frozen=True, slots=True)
class JourneyState:
    """A journey's derived state and end-to-end clock (one per parent request id)."""

    request_id: str
    journey: str
    region_code: str
    children: Mapping[str, ChildView]
    status: Status
    clock: sla.SlaClock
    phone: str | None = None
    fired: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id, "journey": self.journey, "region_code": self.region_code,
            "status": self.status.value, "clock": self.clock.to_dict(), "phone": self.phone,
            "fired": list(self.fired),
            "children": {rid: [c.service_code, c.status.value, c.started_at.isoformat(),
                               c.updated_at.isoformat(), c.last_event_id]
                         for rid, c in self.children.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JourneyState:
        return cls(
            request_id=data["request_id"], journey=data["journey"], region_code=data["region_code"],
            status=Status(data["status"]), clock=sla.SlaClock.from_dict(data["clock"]),
            phone=data.get("phone"), fired=tuple(data.get("fired", ())),
            children={rid: ChildView(rid, s, Status(st), datetime.fromisoformat(a),
                                     datetime.fromisoformat(u), e)
                      for rid, (s, st, a, u, e) in data["children"].items()},
        )

    @property
    def due_at(self) -> datetime:
        return sla.due_at(self.clock)

    @property
    def warn_at(self) -> datetime:
        return sla.warn_at(self.clock)


def apply_child(state: JourneyState | None, parent_id: str, child: ChildView, *, region_code: str,
                phone: str | None = None) -> JourneyState | None:
    """Fold a child's latest status into its journey (None if no journey definition covers it).

    Idempotent and order-tolerant: an update older than the one the journey holds for that child only
    moves the child's start earlier. The end-to-end clock starts at the earliest child submission, pauses
    while the journey is RETURNED and resumes when it leaves that status.
    """
    children = dict(state.children) if state else {}
    held = children.get(child.request_id)
    if held is not None:
        if child.key <= held.key:  # older news: only an earlier start can matter
            if child.started_at >= held.started_at:
                return state
            child = replace(held, started_at=child.started_at)
        else:
            child = replace(child, started_at=min(held.started_at, child.started_at))
    children[child.request_id] = child
    j = journey(state.journey) if state else identify(c.service_code for c in children.values())
    if j is None or any(step_of(j, c.service_code) is None for c in children.values()):
        return state if state else None
    status = derive_status(j, children.values())
    started = min(c.started_at for c in children.values())
    days = sla_working_days(j, children.values())
    if state is None:
        clock = sla.SlaClock(started, days)
    else:
        clock = state.clock
        if started < clock.started_at:
            clock = replace(clock, started_at=started)
        clock = replace(clock, sla_working_days=days)
    at = child.updated_at
    if status is Status.RETURNED and clock.paused_since is None:
        clock = sla.pause(clock, max(at, clock.started_at))
    elif status is not Status.RETURNED and clock.paused_since is not None:
        clock = sla.resume(clock, max(at, clock.paused_since))
    return JourneyState(parent_id, j.code, state.region_code if state else region_code, children, status,
                        clock, (state.phone if state else None) or phone, state.fired if state else ())
