"""Journey steps and journey SLA ticks, without Faust: (journey entry, record) -> (new entry, records out).

Input: a child's accepted event, re-keyed by its parent request id on the internal journey topic (it
carries only the phone of the citizen block, for journey notices). Entry (JSON, ``journeys`` table, key =
parent request id): ``{"v", "p", "journey": JourneyState.to_dict(), "done"}``. The journey's fired SLA kinds
live in its JourneyState.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from hub.core import notices
from hub.core.journeys import ChildView, JourneyState, apply_child, journey
from hub.errors import UnknownJourney
from hub.core.records import CitizenNotice, SlaKind, SlaStage
from hub.streams import timing
from hub.streams.engine import Engine, Entry, Result
from hub.streams.router import read_event
from hub.wire import cloudevents as ce


def _subject(state: JourneyState) -> timing.Subject:
    return timing.Subject(state.request_id, None, SlaStage.JOURNEY, state.journey, "hub", state.region_code,
                          state.status)


def _timers(engine: Engine, state: JourneyState, was_done: bool, at: datetime, result: Result,
            trace: str | None) -> JourneyState:
    p = timing.plan(state.clock, state.status, frozenset(state.fired), finished_at=at, was_done=was_done)
    rid = state.request_id
    result.arm += [(rid, timing.timer_kind(SlaStage.JOURNEY, k), t) for k, t in p.arm]
    result.disarm += [(rid, timing.timer_kind(SlaStage.JOURNEY, k)) for k in p.disarm]
    if p.breach_now:
        state = replace(state, fired=(*state.fired, SlaKind.BREACH.value))
        result.outs += engine.sla_out(_subject(state), state.clock, SlaKind.BREACH, at, "completion",
                                      state.phone, journey(state.journey).name_id, trace)
        result.sla.append(("hub", state.journey, SlaKind.BREACH.value))
    return state


def on_step(engine: Engine, entry: Entry | None, key: bytes | None, value: bytes | None,
            headers: Sequence[tuple[str, bytes]] | None, partition: int) -> Result:
    meta, event = read_event(engine.codec, key, value, headers, key_field="parent_request_id")
    parent = event.parent_request_id
    assert parent is not None
    old = JourneyState.from_dict(entry["journey"]) if entry else None
    child = ChildView(event.request_id, event.service_code, event.status, event.occurred_at,
                      event.occurred_at, event.event_id)
    new = apply_child(old, parent, child, region_code=event.region_code,
                      phone=event.citizen.phone if event.citizen else None)
    if new is None:
        raise UnknownJourney(f"no journey definition covers service {event.service_code} of request "
                             f"{event.request_id} (parent {parent})")
    if new is old:
        return Result()
    result = Result()
    trace = ce.child_traceparent(meta.traceparent)
    was_done = bool(entry and entry["done"])
    if old is None or old.status != new.status:
        text = notices.journey_text(new.status, journey(new.journey).name_id, parent)
        if text:
            notice = CitizenNotice(notice_id=f"{parent}/journey/{event.event_id}/notice", request_id=parent,
                                   status=new.status, service_code=new.journey, phone=new.phone, message=text,
                                   created_at=event.occurred_at)
            result.outs += [engine._notice(notice, trace), engine._notice_audit(notice, trace)]
    new = _timers(engine, new, was_done, event.occurred_at, result, trace)
    done = was_done or new.status in timing.DONE
    if new.status in timing.DONE:
        new = replace(new, phone=None)
    result.entry = {"v": 1, "p": partition, "journey": new.to_dict(), "done": done}
    return result


def on_tick(engine: Engine, entry: Entry | None, kind: SlaKind, now: datetime) -> Result:
    if entry is None:
        return Result()
    state = JourneyState.from_dict(entry["journey"])
    decision = timing.on_tick(state.clock, state.status, frozenset(state.fired), kind, now)
    if decision.action == "ignore":
        return Result()
    if decision.action == "rearm":
        assert decision.at is not None
        return Result(arm=[(state.request_id, timing.timer_kind(SlaStage.JOURNEY, kind), decision.at)])
    fired = replace(state, fired=(*state.fired, kind.value))
    new_entry: dict[str, Any] = {**entry, "journey": fired.to_dict()}
    if decision.action == "supersede":
        return Result(entry=new_entry)
    outs = engine.sla_out(_subject(state), state.clock, kind, now, "timer", state.phone,
                          journey(state.journey).name_id)
    return Result(entry=new_entry, outs=outs, sla=[("hub", state.journey, kind.value)])

