"""Journey steps and journey SLA ticks, without Faust: (journey entry, record) -> (new entry, records out).

Input: a child's accepted event, re-keyed by its parent request id on the internal journey topic (it carries
only the phone of the citizen block, for journey notices). The entry is ``hub.streams.entry.JourneyEntry``
(``journeys`` table, key = parent request id); the journey's fired SLA kinds live in its state. Records are
built by the output factory's public methods (``hub.streams.outputs.Outputs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from hub.core import notices
from hub.core.journeys import ChildView, JourneyState, apply_child, journey
from hub.core.lifecycle import Status
from hub.core.records import SlaKind, SlaStage, notice_record
from hub.errors import UnknownJourney
from hub.streams import timing
from hub.streams.engine import Result, rearmed, without
from hub.streams.entry import JourneyEntry, Timer
from hub.streams.kafka_io import read_record
from hub.streams.outputs import Outputs
from hub.wire import cloudevents as ce


def _subject(state: JourneyState) -> timing.Subject:
    return timing.Subject(state.request_id, None, SlaStage.JOURNEY, state.journey, "hub", state.region_code,
                          state.status)


def _timers(out: Outputs, state: JourneyState, was_done: bool, at: datetime, result: Result,
            trace: str | None) -> JourneyState:
    p = timing.plan(state.clock, state.status, frozenset(state.fired), finished_at=at, was_done=was_done)
    rid = state.request_id
    result.arm += [(rid, timing.timer_kind(SlaStage.JOURNEY, k), t) for k, t in p.arm]
    result.disarm += [(rid, timing.timer_kind(SlaStage.JOURNEY, k)) for k in p.disarm]
    if p.breach_now:
        state = replace(state, fired=(*state.fired, SlaKind.BREACH.value))
        result.outs += out.sla(_subject(state), state.clock, SlaKind.BREACH, at, "completion", state.phone,
                               journey(state.journey).name_id, trace)
        result.sla.append(("hub", state.journey, SlaKind.BREACH.value))
    return state


def on_step(out: Outputs, entry: JourneyEntry | None, key: bytes | None, value: bytes | None,
            headers: Sequence[tuple[str, bytes]] | None, partition: int) -> Result:
    meta, record = read_record(out.codec, key, value, headers, key_field="parent_request_id")
    parent = record["parent_request_id"]
    assert parent is not None
    old = entry.state() if entry is not None else None
    at = record["occurred_at"]
    child = ChildView(record["request_id"], record["service_code"], Status(record["status"]), at, at,
                      record["event_id"])
    citizen = record["citizen"]
    new = apply_child(old, parent, child, region_code=record["region_code"],
                      phone=citizen["phone"] if citizen else None)
    if new is None:
        raise UnknownJourney(f"no journey definition covers service {record['service_code']} of request "
                             f"{record['request_id']} (parent {parent})")
    if new is old:
        return Result()
    result = Result()
    trace = ce.child_traceparent(meta.traceparent)
    was_done = bool(entry and entry.done)
    if old is None or old.status != new.status:
        text = notices.journey_text(new.status, journey(new.journey).name_id, parent)
        if text:
            notice = notice_record(notice_id=f"{parent}/journey/{record['event_id']}/notice",
                                   request_id=parent, parent_request_id=None, status=new.status,
                                   service_code=new.journey, phone=new.phone, message=text, created_at=at)
            result.outs.append(out.notice(notice, trace))
            if notice["phone"]:  # an audit entry when personal data moved (README)
                result.outs.append(out.notice_audit(notice, trace))
    new = _timers(out, new, was_done, at, result, trace)
    done = was_done or new.status in timing.DONE
    if new.status in timing.DONE:
        new = replace(new, phone=None)
    result.entry = JourneyEntry.of(new, partition=partition, done=done,
                                   armed=rearmed(entry.armed if entry else [], result))
    return result


def on_tick(out: Outputs, entry: JourneyEntry | None, kind: SlaKind, now: datetime) -> Result:
    if entry is None:
        return Result()
    state = entry.state()
    decision = timing.on_tick(state.clock, state.status, frozenset(state.fired), kind, now)
    tk = timing.timer_kind(SlaStage.JOURNEY, kind)
    if decision.action == "ignore":
        return Result()
    if decision.action == "rearm":
        assert decision.at is not None
        moved = [*without(entry.armed, tk), Timer.of(tk, decision.at)]
        return Result(entry=JourneyEntry.of(state, partition=entry.partition, done=entry.done, armed=moved),
                      arm=[(state.request_id, tk, decision.at)])
    fired = replace(state, fired=(*state.fired, kind.value))
    new_entry = JourneyEntry.of(fired, partition=entry.partition, done=entry.done,
                                armed=without(entry.armed, tk))
    if decision.action == "supersede":
        return Result(entry=new_entry)
    outs = out.sla(_subject(state), state.clock, kind, now, "timer", state.phone,
                   journey(state.journey).name_id)
    return Result(entry=new_entry, outs=outs, sla=[("hub", state.journey, kind.value)])
